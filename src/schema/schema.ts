/**
 * The typed schema API: declare a deployment's traits once, by name and type, and get typed accessors
 * for one store and for bursts, compiled once to keys and lengths (no name lookup per call).
 */
import { TraitsError } from "../core/errors.js";
import { PROFILE_SIZES, checkInteger, describe, toProfile, type Profile } from "../core/options.js";
import type { TraitStore } from "../store/store.js";
import type { PacketPool, Field } from "../pool/pool.js";
import type { Burst } from "../pool/burst.js";
import { KeyRegistry, checkName } from "../registry/registry.js";
import { SharedKeyRegistry } from "../registry/shared-registry.js";

/** A trait's type: an unsigned integer of 2 (profile "v1"), 4 or 8 bytes, or a flag (no value; profile "flags"). */
export type TraitType = "u16" | "u32" | "u64" | "flag";

/** A trait's declaration: its type (the key comes from the registry), or its type and key (0..63). */
export type TraitSpec = TraitType | { type: TraitType; key: number };

/** The value a trait of type T reads as: bigint for u64, number for u16 and u32, boolean for a flag. */
export type TraitValueOf<T extends TraitType> = T extends "u64" ? bigint : T extends "flag" ? boolean : number;

/** The value a trait of type T accepts: as it reads, and a number for a u64 too. */
export type TraitInputOf<T extends TraitType> = T extends "u64" ? bigint | number : TraitValueOf<T>;

/** The type of a declaration. */
export type TypeOfSpec<S extends TraitSpec> = S extends TraitType
  ? S
  : S extends { type: infer T extends TraitType }
    ? T
    : never;

/** What defineTraits takes: trait names (as registry names: [a-z][a-z0-9_.-]*) to declarations. */
export type TraitDeclarations = Record<string, TraitSpec>;

/** Values by trait name, each optional: what TraitSchema.set takes. */
export type TraitInputs<D extends TraitDeclarations> = { [N in keyof D]?: TraitInputOf<TypeOfSpec<D[N]>> };

/** Values by trait name, present ones only: what TraitSchema.get returns. */
export type TraitValues<D extends TraitDeclarations> = { [N in keyof D]?: TraitValueOf<TypeOfSpec<D[N]>> };

/** Value lengths by type (a Map: no inherited names such as "constructor" pass for a type). */
const LENGTHS = new Map<unknown, number>([
  ["u16", 2],
  ["u32", 4],
  ["u64", 8],
  ["flag", 0],
]);
const RESERVED = new Set(["set", "get", "fields"]);

/** One trait, compiled to its key and length: typed access to it in one store or in every frame of a burst. */
export class Trait<T extends TraitType = TraitType> {
  /** The trait's name. */
  readonly name: string;
  /** Its type. */
  readonly type: T;
  /** Its key, 0..63. */
  readonly key: number;
  /** Its value length in bytes (0 for a flag). */
  readonly len: number;

  /** @internal Checked by defineTraits. */
  constructor(name: string, type: T, key: number) {
    this.name = name;
    this.type = type;
    this.key = key;
    this.len = LENGTHS.get(type)!;
    Object.freeze(this);
  }

  /** The value in `store`, or undefined if absent (a flag reads true or false). Throws as TraitStore.get. */
  get(store: TraitStore): TraitValueOf<T> | undefined {
    if (this.len === 0) return store.has(this.key) as TraitValueOf<T>;
    return (this.len === 8 ? store.getBigInt(this.key) : store.getNumber(this.key)) as TraitValueOf<T> | undefined;
  }

  /** Sets the value in `store` (a flag: true sets it, false deletes it). Returns the store. Throws as TraitStore.set. */
  set(store: TraitStore, value: TraitInputOf<T>): TraitStore {
    if (this.len !== 0) return store.set(this.key, value as number | bigint, this.len);
    if (value) store.setFlag(this.key);
    else store.delete(this.key);
    return store;
  }

  /** True if present in `store`. Throws as TraitStore.has. */
  has(store: TraitStore): boolean {
    return store.has(this.key);
  }

  /** Removes it from `store`; false if it was absent. Throws as TraitStore.delete. */
  delete(store: TraitStore): boolean {
    return store.delete(this.key);
  }

  /** PacketPool.batchGet of this trait: each frame's value to its value slot 0 (read it with slot()), status = length or errno. Returns the count of successes. */
  batchGet(pool: PacketPool, burst: Burst): number {
    return pool.batchGet(burst, this.key);
  }

  /** PacketPool.batchSet of this trait: `value` on every frame, or each frame's value slot 0 (a flag: set, or with false deleted). Returns the count of successes. */
  batchSet(pool: PacketPool, burst: Burst, value?: TraitInputOf<T>): number {
    if (value === false) return pool.batchDelete(burst, this.key);
    return pool.batchSet(burst, this.key, this.len, value === true ? 0 : value);
  }

  /** PacketPool.batchHas of this trait. Returns how many frames hold it. */
  batchHas(pool: PacketPool, burst: Burst): number {
    return pool.batchHas(burst, this.key);
  }

  /** PacketPool.batchDelete of this trait. Returns the count of successes. */
  batchDelete(pool: PacketPool, burst: Burst): number {
    return pool.batchDelete(burst, this.key);
  }

  /**
   * The value in value slot `slot` of burst frame `i` (after batchGet), typed; the status says whether
   * it is there. Throws EINVAL for `i` outside the selection (0..burst.length - 1) or `slot` outside
   * 0..burst.slots - 1.
   */
  slot(burst: Burst, i: number, slot = 0): TraitValueOf<T> {
    checkInteger(i, `${this.name}.slot(): frame i of a burst of ${burst.length}`, 0, burst.length - 1);
    checkInteger(slot, `${this.name}.slot(): slot of a burst of ${burst.slots} slots`, 0, burst.slots - 1);
    const values = burst.values(),
      at = 2 * (i * burst.slots + slot);
    if (this.len === 0) return (burst.status()[i] === 0) as TraitValueOf<T>;
    return (this.len === 8 ? (BigInt(values[at + 1]!) << 32n) | BigInt(values[at]!) : values[at]!) as TraitValueOf<T>;
  }
}

/** Several traits set together on bursts in one call (PacketPool.batchSetMany), compiled once. */
export class TraitSet<D extends TraitDeclarations = TraitDeclarations, N extends keyof D & string = keyof D & string> {
  /** The fields as batchSetMany takes them, in the order given: trait j takes value slot j. */
  readonly fields: readonly Field[];
  readonly #names: readonly N[];

  /** @internal Built by TraitSchema.fields. */
  constructor(traits: ReadonlyArray<Trait>, names: readonly N[]) {
    this.fields = Object.freeze(traits.map(({ key, len }) => Object.freeze({ key, len })));
    this.#names = names;
    Object.freeze(this);
  }

  /** The value slot of a trait (its position in the set). Throws EINVAL for a trait not in the set. */
  slotOf(name: N): number {
    const j = this.#names.indexOf(name);
    if (j < 0) throw new TraitsError("EINVAL", `${describe(name)} is not in this set (${this.#names.join(", ")})`);
    return j;
  }

  /**
   * Sets the traits on every selected frame, all or nothing per frame: from `values` (by name, each
   * given for every frame) or, without it, trait j from each frame's value slot j; `replace` empties
   * each store first. Returns the count of successes; throws as PacketPool.batchSetMany.
   */
  batchSet(
    pool: PacketPool,
    burst: Burst,
    options: { values?: { [K in N]: TraitInputOf<TypeOfSpec<D[K]>> }; replace?: boolean } = {},
  ): number {
    const { values, replace } = options;
    if (values === undefined) return pool.batchSetMany(burst, this.fields, { replace: replace ?? false });
    const list = this.#names.map((name) => {
      const value = Object.hasOwn(values, name) ? values[name] : undefined;
      if (value === false)
        throw new TraitsError("EINVAL", `${name}: a flag in a set is set; clear it with batchDelete`);
      return value === true ? 0 : (value as number | bigint);
    });
    return pool.batchSetMany(burst, this.fields, { values: list, replace: replace ?? false });
  }
}

/** The typed accessors of a set of declarations, and the methods over all of them. */
export type TraitSchema<D extends TraitDeclarations> = { readonly [N in keyof D]: Trait<TypeOfSpec<D[N]>> } & {
  /** Sets the given traits in `store` at once, all or nothing (TraitStore.setMany); false flags are left as they are. Returns the store. */
  set(store: TraitStore, values: TraitInputs<D>): TraitStore;
  /** The present traits of `store`, by name. */
  get(store: TraitStore): TraitValues<D>;
  /** A TraitSet of these traits, for batch sets of several at once; trait j of the list takes value slot j. */
  fields<N extends keyof D & string>(...names: N[]): TraitSet<D, N>;
};

/** A registry defineTraits may register names in. */
export interface SchemaOptions {
  /** Registers every name (KeyRegistry.register: the same key again for the same name and size); keys given in declarations are asked for. */
  registry?: KeyRegistry | SharedKeyRegistry;
  /** The profile, when there is no registry (default "v1"); with one, the registry's. */
  profile?: Profile;
}

/**
 * Declares traits by name and type and compiles them once to keys and lengths:
 * `const T = defineTraits({ packet_id: "u64", vlan: "u16" }, { registry })`, then `T.packet_id.get(store)`,
 * `T.set(store, { packet_id: 5n, vlan: 10 })`, `T.vlan.batchGet(pool, burst)`, `T.fields("packet_id", "vlan").batchSet(pool, burst, ...)`.
 * A trait's key comes from the registry (registered if new) or from its declaration (`{ type, key }`).
 * Names are registry names ([a-z][a-z0-9_.-]*, up to 63 characters), with or without a registry.
 * Throws EINVAL (a bad name, type or key, a type outside the profile, a key without a registry or
 * given twice, a reserved name: set, get, fields), ENAMETOOLONG, and what KeyRegistry.register throws
 * (EEXIST, EBUSY, ENOSPC); a declaration that throws registers no name (all or nothing).
 */
export function defineTraits<const D extends TraitDeclarations>(
  declarations: D,
  options: SchemaOptions = {},
): TraitSchema<D> {
  const { registry } = options;
  if (registry !== undefined && !(registry instanceof KeyRegistry || registry instanceof SharedKeyRegistry))
    throw new TraitsError("EINVAL", `registry must be a KeyRegistry or a SharedKeyRegistry, not ${describe(registry)}`);
  const profile = registry?.profile ?? toProfile(options.profile);
  if (typeof declarations !== "object" || declarations === null)
    throw new TraitsError("EINVAL", `declarations must be an object of name: type, not ${describe(declarations)}`);
  // Everything is checked before anything is registered, so that a declaration that fails registers no name.
  const specs: Array<{ name: string; type: TraitType; len: number; key: number | undefined }> = [],
    given = new Set<number>();
  for (const [name, spec] of Object.entries(declarations)) {
    checkName(name, "trait name");
    if (RESERVED.has(name))
      throw new TraitsError("EINVAL", `${describe(name)} is the name of a schema method; choose another trait name`);
    const type: unknown = typeof spec === "string" ? spec : ownField(spec, "type"),
      key: unknown = typeof spec === "string" ? undefined : ownField(spec, "key");
    const len = LENGTHS.get(type);
    if (len === undefined)
      throw new TraitsError("EINVAL", `${name}: type must be "u16", "u32", "u64" or "flag", not ${describe(type)}`);
    if (!PROFILE_SIZES[profile].includes(len))
      throw new TraitsError(
        "EINVAL",
        `${name}: a ${type} is not a size of profile ${profile} (${PROFILE_SIZES[profile].join(", ")})`,
      );
    if (key === undefined && !registry)
      throw new TraitsError("EINVAL", `${name}: without a registry, declare its key: { type: "${type}", key }`);
    if (key !== undefined) {
      checkInteger(key, `${name}: key`, 0, 63);
      if (given.has(key as number)) throw new TraitsError("EINVAL", `${name}: key ${key} is declared twice`);
      given.add(key as number);
    }
    specs.push({ name, type: type as TraitType, len, key: key as number | undefined });
  }
  const keys = registry ? registerAll(registry, specs) : specs.map(({ key }) => key!);
  const traits = new Map<string, Trait>();
  specs.forEach(({ name, type }, j) => traits.set(name, new Trait(name, type, keys[j]!)));
  const list = [...traits.values()];
  // Null-prototype: a trait named "constructor" (a valid name) is the trait, never Object's.
  const schema = Object.assign(Object.create(null) as object, Object.fromEntries(traits), {
    set(store: TraitStore, values: Record<string, unknown>): TraitStore {
      const entries: Array<[number, number | bigint, number]> = [];
      for (const trait of list) {
        const value = ownField(values, trait.name);
        if (value === undefined || value === false) continue;
        entries.push([trait.key, trait.len === 0 ? 0 : (value as number | bigint), trait.len]);
      }
      return store.setMany(entries);
    },
    get(store: TraitStore): Record<string, unknown> {
      const out: Record<string, unknown> = {};
      for (const trait of list) {
        const value = trait.get(store);
        if (value !== undefined && value !== false) out[trait.name] = value;
      }
      return out;
    },
    fields(...names: string[]): TraitSet {
      const chosen = names.map(
        (name) =>
          traits.get(name) ??
          fail(`${describe(name)} is not a trait of this schema (${[...traits.keys()].join(", ")})`),
      );
      if (chosen.length === 0 || chosen.length > 64)
        throw new TraitsError("EINVAL", "fields takes 1 to 64 trait names");
      return new TraitSet(chosen, names);
    },
  });
  return Object.freeze(schema) as unknown as TraitSchema<D>;
}

/** `object[name]` if it is the object's own property, else undefined (never an inherited one such as Object.prototype.constructor). */
function ownField(object: unknown, name: string): unknown {
  return typeof object === "object" && object !== null && Object.hasOwn(object, name)
    ? (object as Record<string, unknown>)[name]
    : undefined;
}

/**
 * Registers every declared name in `registry`, all or nothing, and returns their keys in order. A dry
 * run on a copy of the registry meets any error first (EEXIST, EBUSY, ENOSPC...), before the registry
 * changes; should another thread of a SharedKeyRegistry still make a registration fail, the names this
 * call added are removed again before the error is thrown.
 */
function registerAll(
  registry: KeyRegistry | SharedKeyRegistry,
  specs: ReadonlyArray<{ name: string; len: number; key: number | undefined }>,
): number[] {
  const register = (r: KeyRegistry | SharedKeyRegistry, { name, len, key }: (typeof specs)[number]) =>
    r.register(name, len, key === undefined ? {} : { key });
  const copy = new KeyRegistry({ profile: registry.profile });
  for (const { name, key, size } of registry.entries()) copy.register(name, size, { key });
  for (const spec of specs) register(copy, spec);
  const added: string[] = [];
  try {
    return specs.map((spec) => {
      const fresh = registry.lookup(spec.name) === undefined,
        key = register(registry, spec);
      if (fresh) added.push(spec.name);
      return key;
    });
  } catch (error) {
    for (const name of added) registry.unregister(name);
    throw error;
  }
}

function fail(message: string): never {
  throw new TraitsError("EINVAL", message);
}
