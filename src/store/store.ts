/** TraitStore: the public view of one traits store, over WebAssembly memory or a caller's bytes. */
import type { BufferSource, Core, Impl } from "../core/contract.js";
import { coreOf, isMemory, jsCoreOf, viewCoreOf } from "../core/select.js";
import { Errno, TraitsError, errnoName } from "../core/errors.js";
import { PROFILE_ID, checkInteger, describe, toImpl, toProfile, type Profile } from "../core/options.js";
import { checkLength, fitsPair, keyIndex, toKey, toPair, wideKey, type Key } from "./values.js";
import { Lease, arenaOf, defaultMemory } from "../core/memory.js";
import {
  HARDWARE_FIRST_APP_KEY,
  HARDWARE_NAMES,
  appLength,
  HARDWARE_SIZES,
  VLAN_PROTO,
  hardwareDelete,
  hardwareGet,
  hardwareHas,
  hardwareIndex,
  hardwareSet,
  standalonePlacement,
  storedBytes,
  type HardwarePlacement,
} from "./hardware.js";
import { KeyRegistry, strictCheck, type KeyLookup } from "../registry/registry.js";
import { SharedKeyRegistry } from "../registry/shared-registry.js";

/** Options of createStore, TraitStore.at and TraitStore.over. */
export interface StoreOptions {
  /** Size profile of the store; default "v1". */
  profile?: Profile;
  /** Implementation; default PACKET_TRAITS_IMPL if set, else "wasm" (where the bytes are in WebAssembly memory). */
  impl?: Impl;
  /** Strict store: `set` accepts only keys registered here, with their registered size. */
  registry?: KeyLookup;
  /** Where hardware keys live: "keys" (application keys 59..63) or "off" (default; "struct" needs a pool frame). */
  hardwareKeys?: "keys" | "off";
}

/** A key as a store takes it: a number or bigint (see Key), or a name registered in the store's registry. */
export type StoreKey = Key | string;

/** A value as `get` returns it: a number for 0-, 2- and 4-byte values, a bigint for 8-byte values. */
export type TraitValue = number | bigint;

declare global {
  interface SymbolConstructor {
    /**
     * The symbol of `using` declarations (Node 20 and current browsers have it). Declared here, as
     * @types/node declares it, so that a TypeScript project needs neither lib "esnext" nor @types/node
     * to compile against TraitStore's `[Symbol.dispose]`.
     */
    readonly dispose: unique symbol;
  }
}

const pair = new Uint32Array(2);
const pairBytes = new Uint8Array(pair.buffer);
const decoded = { keys: new Uint8Array(64), lens: new Uint8Array(64), values: new Uint32Array(128) };
const many = { keys: new Uint8Array(64), lens: new Uint8Array(64), values: new Uint32Array(128) };
/** 0..63 for an application key, 64 + i for hardware key i, -1 for anything else. */
function keyId(key: unknown): number {
  const k = keyIndex(key);
  if (k >= 0) return k;
  const h = hardwareIndex(key);
  return h >= 0 ? 64 + h : -1;
}

/** Combines u32 halves into a value: a number up to 4 bytes, a bigint for 8. */
function toValue(len: number, lo: number, hi: number): TraitValue {
  return len === 8 ? (BigInt(hi) << 32n) | BigInt(lo) : lo;
}

/** What a store is made of: arguments its callers have checked. */
interface StoreInit {
  core: Core;
  source: BufferSource;
  start: number;
  capacity: number;
  profile: Profile;
  registry: KeyLookup | undefined;
  hardwareKeys: HardwarePlacement;
  hints?: number;
  /** The region a createStore() store owns (shared by the stores over its bytes). */
  lease?: Lease;
  /** True for a store over another store's bytes (over(store.bytes())), which free() disables too. */
  alias?: boolean;
  /** True for a view of a caller's bytes, which retarget() may move. */
  retargetable?: boolean;
}

/** The stores over each leased region's bytes (rare), disabled with it by free(). */
const aliases = new WeakMap<Lease, TraitStore[]>();
/** The region behind each view bytes() handed out: the view keeps it alive. */
const leased = new WeakMap<Uint8Array, Lease>();

let moveHardEnd: (store: TraitStore, capacity: number, start: number) => void;

/**
 * Moves a pool frame's store's hard end to the frame's new head (the frame pool's path to a sealed
 * capacity), and its start with it where the store sits right before the head (metadata placement).
 */
export function setHardEnd(store: TraitStore, capacity: number, start: number = store.start): void {
  moveHardEnd(store, capacity, start);
}

/**
 * A view of one traits store: `capacity` bytes at byte `start` of a buffer.
 * Map-like methods throw TraitsError; the `try*` methods return a negative errno instead, for hot loops.
 */
export class TraitStore {
  /** @internal */ readonly core: Core;
  /** @internal */ readonly source: BufferSource;
  /** Size profile. */
  readonly profile: Profile;
  /** The registry a strict store checks sets against, if any. */
  readonly registry: KeyLookup | undefined;
  /** Where this store's hardware keys live. */
  readonly hardwareKeys: HardwarePlacement;
  /** @internal Address of the hints area (placement "struct"), else -1. */
  readonly hints: number;
  /** @internal The core's profile number. */
  readonly p: number;
  // Start and capacity are private: only the frame pool (setHardEnd) and retarget() move them.
  #start: number;
  #capacity: number;
  /** The region a createStore() store owns, shared with the views of it; undefined for views of a caller's bytes. */
  readonly #lease: Lease | undefined;
  /** True for a view made by at() or over() on a caller's bytes: retarget() may move it. */
  readonly #retargetable: boolean;

  static {
    moveHardEnd = (store, capacity, start) => {
      store.#start = start;
      store.#capacity = capacity;
    };
  }

  /** Every field but the capacity is frozen: a caller cannot point a store at other bytes. */
  private constructor(init: StoreInit) {
    const { registry, profile } = init;
    if (registry !== undefined && !(registry instanceof KeyRegistry || registry instanceof SharedKeyRegistry))
      throw new TraitsError(
        "EINVAL",
        `registry must be a KeyRegistry or a SharedKeyRegistry, not ${describe(registry)}`,
      );
    if (registry !== undefined && registry.profile !== profile)
      throw new TraitsError("EINVAL", `the registry is for profile ${registry.profile}, the store for ${profile}`);
    this.core = init.core;
    this.source = init.source;
    this.#start = init.start;
    this.#capacity = init.capacity;
    this.#lease = init.lease;
    this.#retargetable = init.retargetable ?? false;
    if (init.lease && init.alias) aliases.get(init.lease)?.push(this) ?? aliases.set(init.lease, [this]);
    this.profile = profile;
    this.registry = registry;
    this.hardwareKeys = init.hardwareKeys;
    this.hints = init.hints ?? -1;
    this.p = PROFILE_ID[profile];
    Object.freeze(this);
  }

  /** @internal A store over checked arguments (the static constructors and the frame pool). */
  static create(init: StoreInit): TraitStore {
    return new TraitStore(init);
  }

  /** Byte offset of the store in its buffer (8-byte aligned; 4-byte in a pool's metadata placement). */
  get start(): number {
    return this.#start;
  }

  /** Bytes the store may use, header included: its hard end is start + capacity. Read-only; a pool frame's store follows the frame's head. */
  get capacity(): number {
    return this.#capacity;
  }

  /**
   * Points this view at another store in the same buffer, for one reusable view per packet: much
   * cheaper than a view per packet. Only views made by at() or over() move; their header is left as
   * it is. Returns the store. Throws EINVAL for a store that owns its bytes (createStore) or is a pool
   * frame's, and as at() for a bad region.
   */
  retarget(start: number, capacity: number = this.#capacity): this {
    if (!this.#retargetable)
      throw new TraitsError(
        "EINVAL",
        "only a view made by TraitStore.at() or TraitStore.over() can be retargeted; this store owns its bytes or is a pool frame's",
      );
    checkRegion(start, capacity, this.source.buffer.byteLength);
    this.#start = start;
    this.#capacity = capacity;
    return this;
  }

  /**
   * Releases what the store owns: a createStore() store's region goes back to the library's memory
   * at once, and every store over it (over(store.bytes())) then fails with ENOMEM; views of a
   * caller's bytes and pool frames own nothing, and free() leaves them as they are. Idempotent.
   * Without free(), the region is released after the store and every view of it are unreachable.
   */
  free(): void {
    if (!this.#lease?.release()) return;
    this.#capacity = 0;
    for (const store of aliases.get(this.#lease) ?? []) store.#capacity = 0;
  }

  /** free(), for `using store = createStore(64)`. */
  [Symbol.dispose](): void {
    this.free();
  }

  /** Which implementation runs this store's operations. */
  get impl(): Impl {
    return this.core.impl;
  }

  /**
   * A view of an existing store at `start` in a WebAssembly memory (its header is left as it is).
   * Throws EINVAL for a misaligned start or a region outside the memory, ENOMEM for a capacity below 16.
   */
  static at(memory: WebAssembly.Memory, start: number, capacity: number, options: StoreOptions = {}): TraitStore {
    if (!isMemory(memory))
      throw new TraitsError("EINVAL", `memory must be a WebAssembly.Memory, not ${describe(memory)}`);
    const impl = toImpl(options.impl),
      profile = toProfile(options.profile);
    checkRegion(start, capacity, memory.buffer.byteLength);
    const core = viewCoreOf(memory, impl);
    return new TraitStore({
      core,
      source: memory,
      start,
      capacity,
      profile,
      registry: options.registry,
      hardwareKeys: standalonePlacement(options.hardwareKeys),
      retargetable: true,
    });
  }

  /**
   * A view of an existing store in a caller's bytes: the whole of `bytes` is its capacity (header left as it is).
   * Runs on WebAssembly when the bytes lie in the library's own memory, else on the JS core.
   * Throws EINVAL for a misaligned start or for impl "wasm" on bytes outside WebAssembly memory; ENOMEM below 16 bytes.
   */
  static over(bytes: Uint8Array, options: StoreOptions = {}): TraitStore {
    if (!(bytes instanceof Uint8Array))
      throw new TraitsError("EINVAL", `bytes must be a Uint8Array, not ${describe(bytes)}`);
    toImpl(options.impl);
    const profile = toProfile(options.profile);
    checkRegion(bytes.byteOffset, bytes.byteLength, bytes.buffer.byteLength);
    const { resizable, growable } = bytes.buffer as { resizable?: boolean; growable?: boolean }; // ES2024 buffers
    if (resizable || growable) {
      throw new TraitsError(
        "EINVAL",
        "bytes are in a resizable buffer, whose views would not follow its size; copy them into a fixed-size buffer",
      );
    }
    const memory = typeof WebAssembly === "object" ? defaultMemory() : undefined,
      lease = leased.get(bytes);
    if (memory && lease) {
      // A view of a createStore() store's bytes: it shares (and keeps alive) the store's region.
      return new TraitStore({
        core: viewCoreOf(memory, toImpl(options.impl)),
        source: memory,
        start: bytes.byteOffset,
        capacity: bytes.byteLength,
        profile,
        registry: options.registry,
        hardwareKeys: standalonePlacement(options.hardwareKeys),
        lease,
        alias: true,
      });
    }
    if (memory && bytes.buffer === memory.buffer)
      return TraitStore.at(memory, bytes.byteOffset, bytes.byteLength, options);
    if (options.impl === "wasm")
      throw new TraitsError(
        "EINVAL",
        'impl "wasm" needs the store in WebAssembly memory: use createStore() or TraitStore.at(), or impl "js"',
      );
    return new TraitStore({
      core: jsCoreOf(bytes.buffer),
      source: { buffer: bytes.buffer },
      start: bytes.byteOffset,
      capacity: bytes.byteLength,
      profile,
      registry: options.registry,
      hardwareKeys: standalonePlacement(options.hardwareKeys),
      retargetable: true,
    });
  }

  /**
   * A view of the store's bytes [start, start + capacity); recreate it after memory grows. For a
   * createStore() store, the view keeps the store's region from being reused until it is unreachable
   * (or free() is called); a subarray of it does not.
   */
  bytes(): Uint8Array {
    const view = new Uint8Array(this.source.buffer, this.#start, this.#capacity);
    if (this.#lease) leased.set(view, this.#lease);
    return view;
  }

  /** A copy of the bytes in use (header and values), as the C original would send them. Throws EBADMSG/ENOMEM. */
  toBytes(): Uint8Array {
    return this.bytes().slice(0, this.size);
  }

  /** Bytes in use, header included. Throws EBADMSG if the header declares more than the capacity. */
  get size(): number {
    const size = this.core.size(this.#start, this.#capacity, this.p);
    return size < 0 ? this.fail(size, "size") : size;
  }

  /** True if `key` is present. Throws EINVAL for a bad key, EBADMSG for a corrupt header. */
  has(key: StoreKey): boolean {
    const rc = this.rawHas(this.id(key));
    return rc < 0 ? this.fail(rc, "has", key) : rc === 1;
  }

  /**
   * The value of `key`: a number for 2- and 4-byte values (0 for a flag), a bigint for 8-byte ones;
   * undefined if absent. Throws EINVAL for a bad key, EBADMSG for a corrupt header.
   */
  get(key: StoreKey): TraitValue | undefined {
    const len = this.rawGet(this.id(key), 8, pair);
    if (len >= 0) return toValue(len, pair[0]!, pair[1]!);
    return len === Errno.ENOENT ? undefined : this.fail(len, "get", key);
  }

  /** The value of `key` as a number, undefined if absent. Throws ERANGE for an 8-byte value above 2^53-1, and as get(). */
  getNumber(key: StoreKey): number | undefined {
    const len = this.rawGet(this.id(key), 8, pair);
    if (len < 0) return len === Errno.ENOENT ? undefined : this.fail(len, "get", key);
    if (pair[1]! > 0x1fffff)
      throw new TraitsError(
        "ERANGE",
        `key ${key} holds ${toValue(len, pair[0]!, pair[1]!)}, above 2^53-1; use getBigInt()`,
      );
    return pair[1]! * 0x100000000 + pair[0]!;
  }

  /** The value of `key` as a bigint, undefined if absent. Throws as get(). */
  getBigInt(key: StoreKey): bigint | undefined {
    const len = this.rawGet(this.id(key), 8, pair);
    if (len >= 0) return (BigInt(pair[1]!) << 32n) | BigInt(pair[0]!);
    return len === Errno.ENOENT ? undefined : this.fail(len, "get", key);
  }

  /** A copy of the value's bytes as stored (empty for a flag; VLAN_PROTO in network order), undefined if absent. Throws as get(). */
  getBytes(key: StoreKey): Uint8Array | undefined {
    const id = this.id(key),
      len = this.rawGet(id, 8, pair);
    if (len < 0) return len === Errno.ENOENT ? undefined : this.fail(len, "get", key);
    return storedBytes(id, pairBytes.slice(0, len));
  }

  /**
   * Sets `key` to `value` of `len` bytes (little-endian). `len` defaults to the byte count of a
   * Uint8Array and to 8 for a bigint; a number needs it. Returns the store.
   * Throws EINVAL (bad key, length not in the profile, value that does not fit), EBUSY (present
   * with another length), ENOSPC (no room), EBADMSG (corrupt header); in a strict store EPERM (key
   * not registered) and EINVAL (another length than registered); EOPNOTSUPP for a hardware key
   * where they are off. On error nothing changes.
   */
  set(key: StoreKey, value: TraitValue | Uint8Array, len?: number): this {
    const id = this.id(key);
    if (len === undefined) {
      if (value instanceof Uint8Array) len = value.length;
      else if (typeof value === "bigint") len = 8;
      else throw new TraitsError("EINVAL", `set(${key}, ${describe(value)}): a number value needs its length`);
    }
    if (id < 64) checkLength(len, this.profile);
    else if (len !== HARDWARE_SIZES[id - 64])
      throw new TraitsError(
        "EINVAL",
        `hardware key ${HARDWARE_NAMES[id - 64]} holds ${HARDWARE_SIZES[id - 64]} bytes, not ${describe(len)}`,
      );
    if (id === 64 + VLAN_PROTO && value instanceof Uint8Array) value = value.slice().reverse(); // bytes come in network order
    toPair(value, len, pair);
    const rc = this.rawSet(id, len, pair[0]!, pair[1]!);
    if (rc < 0) this.fail(rc, "set", key, len);
    return this;
  }

  /** Sets a flag (a key with no value; profile "flags" only). Returns the store. Throws as set(). */
  setFlag(key: StoreKey): this {
    return this.set(key, 0, 0);
  }

  /** Sets an 8-byte value from its u32 halves, with no bigint. Returns the store. Throws as set(). */
  setPair(key: StoreKey, lo: number, hi: number): this {
    const id = this.id(key);
    if (id < 64) checkLength(8, this.profile);
    else if (HARDWARE_SIZES[id - 64] !== 8)
      throw new TraitsError(
        "EINVAL",
        `hardware key ${HARDWARE_NAMES[id - 64]} holds ${HARDWARE_SIZES[id - 64]} bytes, not 8`,
      );
    if (!fitsPair(8, lo, hi))
      throw new TraitsError("EINVAL", `halves ${describe(lo)}, ${describe(hi)} are not both u32 integers`);
    const rc = this.rawSet(id, 8, lo, hi);
    if (rc < 0) this.fail(rc, "set", key, 8);
    return this;
  }

  /**
   * Sets several keys at once, all or nothing: each entry is [key, value, len?] as set() takes them.
   * One header write, each stored value moved at most once. Returns the store. Throws the first error
   * the same set() calls one by one would throw; on error nothing changes.
   */
  setMany(entries: ReadonlyArray<readonly [StoreKey, TraitValue | Uint8Array, number?]>): this {
    if (!Array.isArray(entries) || entries.length > 64)
      throw new TraitsError(
        "EINVAL",
        `entries must be an array of at most 64 [key, value, len] entries, not ${describe(entries)}`,
      );
    const m = entries.length;
    entries.forEach((entry, j) => {
      if (!Array.isArray(entry))
        throw new TraitsError("EINVAL", `entries[${j}] must be [key, value, len], not ${describe(entry)}`);
      const [key, value] = entry;
      const len = entry[2] ?? (value instanceof Uint8Array ? value.length : typeof value === "bigint" ? 8 : undefined);
      many.keys[j] = toKey(this.resolve(key));
      many.lens[j] = checkLength(len, this.profile);
      toPair(value, len!, many.values.subarray(2 * j, 2 * j + 2));
      this.checkStrict(many.keys[j]!, many.lens[j]!, "setMany");
    });
    const rc = this.core.setMany(this.#start, this.#capacity, this.p, many.keys, many.lens, m, many.values);
    if (rc < 0) {
      // Replay on a copy to name the entry that fails, as set() one by one would.
      const copy = TraitStore.over(this.bytes().slice(), { profile: this.profile, impl: "js" });
      for (const [key, value, len] of entries) copy.set(key, value, len);
      this.fail(rc, "setMany");
    }
    return this;
  }

  /** The 16-byte value kept in keys `key` and `key + 1` (8 bytes each), or undefined if neither is present. Throws EBADMSG if only one is, or either is not 8 bytes. */
  getWide(key: StoreKey): Uint8Array | undefined {
    const k = wideKey(this.resolve(key)),
      low = this.getBytes(k),
      high = this.getBytes(k + 1);
    if (!low && !high) return undefined;
    if (low?.length !== 8 || high?.length !== 8)
      throw new TraitsError(
        "EBADMSG",
        `keys ${k} and ${k + 1} do not hold a 16-byte value (lengths ${low?.length ?? "absent"} and ${high?.length ?? "absent"})`,
      );
    const out = new Uint8Array(16);
    out.set(low);
    out.set(high, 8);
    return out;
  }

  /** Sets keys `key` and `key + 1` to a 16-byte value (an IPv6 address, a UUID), both or neither. Returns the store. Throws as setMany(). */
  setWide(key: StoreKey, value: Uint8Array): this {
    const k = wideKey(this.resolve(key));
    if (!(value instanceof Uint8Array) || value.length !== 16)
      throw new TraitsError("EINVAL", `a 16-byte value must be a Uint8Array of 16 bytes, not ${describe(value)}`);
    return this.setMany([
      [k, value.subarray(0, 8)],
      [k + 1, value.subarray(8)],
    ]);
  }

  /** Removes `key`; returns false if it was absent. Throws EINVAL for a bad key, EBADMSG for a corrupt header. */
  delete(key: StoreKey): boolean {
    const rc = this.rawDel(this.id(key));
    if (rc === Errno.ENOENT) return false;
    return rc < 0 ? this.fail(rc, "delete", key) : true;
  }

  /** Removes every key (zeroes the header); also how a new store is initialised. */
  clear(): void {
    this.core.init(this.#start, this.#capacity);
  }

  /** The present keys in ascending order. Throws EBADMSG for a corrupt header. */
  keys(): number[] {
    return Array.from(decoded.keys.subarray(0, this.decode()));
  }

  /** [key, value] for every present key in ascending order, values as get() returns them. Throws EBADMSG. */
  entries(): Array<[number, TraitValue]> {
    const n = this.decode(),
      out: Array<[number, TraitValue]> = [];
    for (let i = 0; i < n; i++)
      out.push([decoded.keys[i]!, toValue(decoded.lens[i]!, decoded.values[2 * i]!, decoded.values[2 * i + 1]!)]);
    return out;
  }

  /** Throws EBADMSG (naming the declared size) if the header does not fit the capacity; else returns the size. */
  validate(): number {
    return this.size;
  }

  /** Non-throwing has: 1 or 0, or EINVAL, EBADMSG. */
  tryHas(key: StoreKey): number {
    const id = this.tryId(key);
    return id < 0 ? Errno.EINVAL : this.rawHas(id);
  }

  /** Non-throwing get: the value goes to out[0] (low u32) and out[1] (high u32); returns its length, or EINVAL, ENOENT, EBADMSG. */
  tryGet(key: StoreKey, out: Uint32Array): number {
    const id = this.tryId(key);
    return id < 0 || !(out instanceof Uint32Array) || out.length < 2 ? Errno.EINVAL : this.rawGet(id, 8, out);
  }

  /**
   * Non-throwing get into a caller's buffer, as the C original: copies the value's bytes to `out`
   * and returns the length, or EINVAL, ENOENT, EBADMSG, ENOSPC (out shorter than the value).
   */
  tryGetBytes(key: StoreKey, out: Uint8Array): number {
    const id = this.tryId(key);
    if (id < 0 || !(out instanceof Uint8Array)) return Errno.EINVAL;
    const len = this.rawGet(id, out.length, pair);
    if (len > 0) out.set(storedBytes(id, pairBytes.subarray(0, len)));
    return len;
  }

  /**
   * Non-throwing set of `key` to the value (hi:lo) in `len` bytes, the value before its length as in
   * set() and setPair(): `trySet(11, 7, 0, 4)`. Returns 0, or EINVAL (also for halves that do not fit
   * in `len` bytes), EBUSY, ENOSPC, EBADMSG; in a strict store EPERM, EINVAL; EOPNOTSUPP (hardware keys off).
   */
  trySet(key: StoreKey, lo: number, hi: number, len: number): number {
    const id = this.tryId(key);
    return id < 0 || !fitsPair(len, lo, hi) ? Errno.EINVAL : this.rawSet(id, len, lo, hi);
  }

  /** Non-throwing delete: 0, or EINVAL, ENOENT, EBADMSG. */
  tryDelete(key: StoreKey): number {
    const id = this.tryId(key);
    return id < 0 ? Errno.EINVAL : this.rawDel(id);
  }

  /**
   * Non-throwing decode of the whole store: key i to keys[i], its length to lens[i], its value to
   * values[2i] (lo) and values[2i + 1] (hi); the arrays need room for 64 entries. Returns the count,
   * or EINVAL (arrays too small), EBADMSG.
   */
  tryDecode(keys: Uint8Array, lens: Uint8Array, values: Uint32Array): number {
    if (
      !(keys instanceof Uint8Array && lens instanceof Uint8Array && values instanceof Uint32Array) ||
      keys.length < 64 ||
      lens.length < 64 ||
      values.length < 128
    )
      return Errno.EINVAL;
    return this.core.decode(this.#start, this.#capacity, this.p, keys, lens, values);
  }

  /** Non-throwing size: bytes in use, or EBADMSG, ENOMEM. */
  trySize(): number {
    return this.core.size(this.#start, this.#capacity, this.p);
  }

  /** The id of a key: 0..63 for application keys, 64 + i for hardware key i; throws EINVAL for anything else. */
  private id(key: StoreKey): number {
    const id = keyId(this.resolve(key));
    return id >= 0 ? id : toKey(key);
  }

  /** The id of a key as id() gives it, or -1 (the try* methods' EINVAL). */
  private tryId(key: StoreKey): number {
    return typeof key === "string" ? (this.lookup(key) ?? -1) : keyId(key);
  }

  /** The key registered under `name` in this store's registry, or undefined. */
  private lookup(name: string): number | undefined {
    return (this.registry as KeyRegistry | SharedKeyRegistry | undefined)?.lookup(name)?.key;
  }

  /** A key, with a name replaced by its registered key; throws EINVAL for a name this store cannot resolve. */
  private resolve(key: StoreKey): Key {
    if (typeof key !== "string") return key;
    const k = this.lookup(key);
    if (k !== undefined) return k;
    throw new TraitsError(
      "EINVAL",
      this.registry
        ? `key name ${describe(key)} is not registered in this store's registry`
        : `a key must be a number or a bigint, not ${describe(key)} (names are keys only in a store with a registry)`,
    );
  }

  private rawHas(id: number): number {
    return id < 64 ? this.core.has(this.#start, this.#capacity, this.p, id) : hardwareHas(this, id - 64);
  }

  private rawGet(id: number, outLen: number, out: Uint32Array): number {
    return id < 64
      ? this.core.get(this.#start, this.#capacity, this.p, id, outLen, out)
      : hardwareGet(this, id - 64, outLen, out);
  }

  private rawSet(id: number, len: number, lo: number, hi: number): number {
    // Under placement "keys" a hardware key is application key 59 + i: a strict store's registry must allow it too.
    const strict =
      id < 64
        ? strictCheck(this.registry, id, len)
        : this.hardwareKeys === "keys" && len === HARDWARE_SIZES[id - 64]
          ? strictCheck(this.registry, HARDWARE_FIRST_APP_KEY + id - 64, appLength(id - 64, this.profile))
          : 0;
    if (id >= 64) return strict < 0 ? strict : hardwareSet(this, id - 64, len, lo, hi);
    return strict < 0 ? strict : this.core.set(this.#start, this.#capacity, this.p, id, len, lo, hi);
  }

  private rawDel(id: number): number {
    return id < 64 ? this.core.del(this.#start, this.#capacity, this.p, id) : hardwareDelete(this, id - 64);
  }

  /** Throws what a strict store's registry says of setting key `id` (0..63) with `len` bytes. */
  private checkStrict(id: number, len: number, op: string): void {
    const rc = strictCheck(this.registry, id, len);
    if (rc === 0) return;
    if (rc === Errno.EPERM) throw new TraitsError("EPERM", `${op} key ${id}: not registered, and this store is strict`);
    throw new TraitsError(
      "EINVAL",
      `${op} key ${id} (${this.registry!.lookupKey(id)?.name}): registered with size ${this.registry!.sizeOfKey(id)}, not ${len}`,
    );
  }

  /** Decodes into the module's scratch arrays; returns the count or throws. */
  private decode(): number {
    const n = this.core.decode(this.#start, this.#capacity, this.p, decoded.keys, decoded.lens, decoded.values);
    return n < 0 ? this.fail(n, "decode") : n;
  }

  /** Throws the TraitsError for a failed operation, with a message that says what was wrong. */
  private fail(rc: number, op: string, key?: StoreKey, len?: number): never {
    const js = jsCoreOf(isMemory(this.source) ? this.source : this.source.buffer);
    const what = key === undefined ? op : `${op} key ${key}`;
    const id = key === undefined ? -1 : this.tryId(key);
    if (op === "set" && id >= 0 && id < 64 && (rc === Errno.EPERM || rc === Errno.EINVAL))
      this.checkStrict(id, len!, op);
    if (op === "set" && id >= 64 && this.hardwareKeys === "keys" && (rc === Errno.EPERM || rc === Errno.EINVAL))
      this.checkStrict(
        HARDWARE_FIRST_APP_KEY + id - 64,
        appLength(id - 64, this.profile),
        `set ${HARDWARE_NAMES[id - 64]} (placement "keys" keeps it in application key ${HARDWARE_FIRST_APP_KEY + id - 64}):`,
      );
    if (id >= 64 && rc === Errno.EOPNOTSUPP)
      throw new TraitsError("EOPNOTSUPP", `${what}: hardware keys are off in this store`);
    if (id >= 64 && this.hardwareKeys === "keys") {
      key = HARDWARE_FIRST_APP_KEY + id - 64;
      if (rc === Errno.EBADMSG && js.size(this.#start, this.#capacity, this.p) >= 0) {
        const held = js.get(this.#start, this.#capacity, this.p, key, 8, pair),
          want = appLength(id - 64, this.profile);
        throw new TraitsError(
          "EBADMSG",
          `${what}: application key ${key}, where placement "keys" keeps ${HARDWARE_NAMES[id - 64]}, holds ${
            held === want
              ? `0x${pair[0]!.toString(16)}, over a u16's 0xffff`
              : `a ${held}-byte value, not ${want} bytes`
          }`,
        );
      }
    }
    switch (rc) {
      case Errno.EBADMSG:
        throw new TraitsError(
          "EBADMSG",
          `${what}: corrupt header declares ${js.declared(this.#start, this.p)} bytes but the capacity is ${this.#capacity}`,
        );
      case Errno.ENOMEM:
        if (this.#lease?.released) throw new TraitsError("ENOMEM", `${what}: the store was freed`);
        if (this.source.buffer.byteLength < this.#start + this.#capacity)
          throw new TraitsError(
            "ENOMEM",
            `${what}: the store's buffer was detached (transferred) or shrank: it has ${this.source.buffer.byteLength} bytes, the store ends at ${this.#start + this.#capacity}`,
          );
        throw new TraitsError("ENOMEM", `${what}: capacity ${this.#capacity} is below the 16-byte header`);
      case Errno.EBUSY:
        throw new TraitsError(
          "EBUSY",
          `${what}: it holds a ${js.get(this.#start, this.#capacity, this.p, id, 8, pair)}-byte value, not ${len}; delete it first`,
        );
      case Errno.ENOSPC:
        throw new TraitsError(
          "ENOSPC",
          `${what}: no room for ${len} more bytes (${js.size(this.#start, this.#capacity, this.p)} of ${this.#capacity} in use)`,
        );
      default:
        throw new TraitsError(errnoName(rc) ?? "EINVAL", `${what} failed with ${rc}`);
    }
  }
}

/** Checks that [start, start + capacity) is an 8-aligned region inside a buffer of `limit` bytes; throws EINVAL or ENOMEM. */
export function checkRegion(start: number, capacity: number, limit: number): void {
  checkInteger(start, "store start", 0, limit);
  if (start % 8 !== 0) throw new TraitsError("EINVAL", `store start ${start} is not 8-byte aligned`);
  checkInteger(capacity, "store capacity", 0, limit - start);
  if (capacity < 16) throw new TraitsError("ENOMEM", `store capacity ${capacity} is below the 16-byte header`);
}

/**
 * Creates an empty store of `capacity` bytes (>= 16): in the library's WebAssembly memory (impl "wasm";
 * free() or `using` releases it, else it is released once the store and its views are unreachable)
 * or in a new ArrayBuffer (impl "js").
 * Throws ENOMEM below 16 bytes, EINVAL for bad options.
 */
export function createStore(capacity: number, options: StoreOptions = {}): TraitStore {
  const impl = toImpl(options.impl),
    profile = toProfile(options.profile);
  checkInteger(capacity, "store capacity", 0, 0xffffffff);
  if (capacity < 16) throw new TraitsError("ENOMEM", `store capacity ${capacity} is below the 16-byte header`);
  let store: TraitStore;
  const hardwareKeys = standalonePlacement(options.hardwareKeys);
  if (impl === "wasm") {
    const memory = defaultMemory(),
      core = coreOf(memory, impl),
      lease = new Lease(arenaOf(memory), capacity);
    store = TraitStore.create({
      core,
      source: memory,
      start: lease.at,
      capacity,
      profile,
      registry: options.registry,
      hardwareKeys,
      lease,
    });
  } else {
    const buffer = new ArrayBuffer(capacity);
    store = TraitStore.create({
      core: jsCoreOf(buffer),
      source: { buffer },
      start: 0,
      capacity,
      profile,
      registry: options.registry,
      hardwareKeys,
    });
  }
  store.clear();
  return store;
}
