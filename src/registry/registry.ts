/**
 * KeyRegistry: which application key (0..63) means what, shared by the services that touch a
 * packet. One registry answers both ways of sharing keys: a per-deployment config file (JSON,
 * loaded with validation, saved atomically, updated under a lock file across processes) and
 * dynamic registration (lowest free key, idempotent for the same name and size).
 */
import {
  type Stats,
  accessSync,
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  fchownSync,
  fsyncSync,
  openSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { Errno, TraitsError } from "../core/errors.js";
import { PROFILE_SIZES, checkInteger, describe, toProfile, type Profile } from "../core/options.js";
import { duplicateField } from "./json-scan.js";
import { lockAsync, lockSync, type HeldLock, type LockOptions } from "./lock.js";
import { pauseAt } from "./pauses.js";

/** A registered key: its name, key (0..63), value size (a size of the profile) and an optional description. */
export interface KeyEntry {
  name: string;
  key: number;
  size: number;
  description?: string;
}

/** The config file: `{ "version": 1, "profile": "v1", "keys": { "packet_id": { "key": 5, "size": 8, "description": "..." } } }`. */
export interface RegistryConfig {
  version: 1;
  profile: Profile;
  keys: Record<string, { key: number; size: number; description?: string }>;
}

/** What strict stores ask of a registry (KeyRegistry and SharedKeyRegistry both answer). */
export interface KeyLookup {
  readonly profile: Profile;
  /** The registered entry of a key, or undefined. */
  lookupKey(key: number): KeyEntry | undefined;
  /** The registered size of a key (0..63), or -1 if it is not registered: the check a strict set makes. */
  sizeOfKey(key: number): number;
}

/** What a strict store's registry says of setting key `key` (0..63) with `len` bytes: 0, EPERM (not registered) or EINVAL (another size). 0 without a registry. */
export function strictCheck(registry: KeyLookup | undefined, key: number, len: number): number {
  const size = registry?.sizeOfKey(key);
  return size === undefined || size === len ? 0 : size < 0 ? Errno.EPERM : Errno.EINVAL;
}

const NAME = /^[a-z][a-z0-9_.-]*$/;

/** Checks a key name: 1 to 63 characters of [a-z0-9_.-], starting with a letter. Throws EINVAL or ENAMETOOLONG. */
export function checkName(name: unknown, where = "name"): string {
  if (typeof name !== "string") throw new TraitsError("EINVAL", `${where} must be a string, not ${describe(name)}`);
  if (name.length > 63)
    throw new TraitsError("ENAMETOOLONG", `${where} ${describe(name)} has ${name.length} characters; at most 63`);
  if (!NAME.test(name))
    throw new TraitsError(
      "EINVAL",
      `${where} ${describe(name)} must be 1 to 63 characters of [a-z0-9_.-], starting with a letter`,
    );
  return name;
}

/** Checks a value size for a profile; throws EINVAL naming `where`. */
export function checkSize(size: unknown, profile: Profile, where = "size"): number {
  if (typeof size === "number" && PROFILE_SIZES[profile].includes(size)) return size;
  throw new TraitsError(
    "EINVAL",
    `${where}: ${describe(size)} is not a size of profile ${profile} (${PROFILE_SIZES[profile].join(", ")})`,
  );
}

/** Control characters (C0, DEL, C1: ANSI escapes start with ESC or CSI) and bidirectional overrides. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/**
 * Checks a description: a string of printable text. Control characters, ANSI escapes and
 * bidirectional overrides are refused (EINVAL naming `where`, the character and its index), so
 * that `dump()` and `registry ls` never print anything but text.
 */
export function checkDescription(description: unknown, where = "description"): string {
  if (typeof description !== "string")
    throw new TraitsError("EINVAL", `${where}: expected a string, not ${describe(description)}`);
  const found = UNPRINTABLE.exec(description);
  if (found) {
    const code = found[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    throw new TraitsError(
      "EINVAL",
      `${where}: control character U+${code} at index ${found.index}; a description is printable text (no control characters, ANSI escapes or bidirectional overrides)`,
    );
  }
  return description;
}

/** Checks an application key (0..63); throws EINVAL naming `where`. */
export function checkAppKey(key: unknown, where = "key"): number {
  if (typeof key === "number" && Number.isInteger(key) && key >= 0 && key <= 63) return key;
  throw new TraitsError("EINVAL", `${where}: ${describe(key)} is not a key in 0..63`);
}

/** An in-process registry of application keys. Load and save it as a config file, or update a file under its lock. */
export class KeyRegistry implements KeyLookup {
  readonly profile: Profile;
  private readonly byKey: Array<KeyEntry | undefined> = new Array(64).fill(undefined);
  private readonly byName = new Map<string, KeyEntry>();

  /** An empty registry for stores of `profile` (default "v1"). Throws EINVAL for a bad profile. */
  constructor({ profile }: { profile?: Profile } = {}) {
    this.profile = toProfile(profile);
  }

  /**
   * Registers `name` with values of `size` bytes and returns its key: `key` if given, else the lowest
   * free one. The same name and size again returns the same key. Throws EINVAL (bad name, size or key),
   * ENAMETOOLONG (name over 63 characters), EEXIST (the name holds another size or key), EBUSY (the key
   * is another name's), ENOSPC (no free key); EINVAL for a description that is not printable text.
   */
  register(name: string, size: number, { key, description }: { key?: number; description?: string } = {}): number {
    checkName(name);
    checkSize(size, this.profile);
    if (key !== undefined) checkAppKey(key);
    if (description !== undefined) checkDescription(description);
    const old = this.byName.get(name);
    if (old) {
      if (old.size !== size)
        throw new TraitsError("EEXIST", `${name} is registered as key ${old.key} with size ${old.size}, not ${size}`);
      if (key !== undefined && key !== old.key)
        throw new TraitsError("EEXIST", `${name} is registered as key ${old.key}, not ${key}`);
      return old.key;
    }
    if (key !== undefined && this.byKey[key])
      throw new TraitsError("EBUSY", `key ${key} is registered to ${this.byKey[key]!.name}`);
    const chosen = key ?? this.byKey.indexOf(undefined);
    if (chosen < 0) throw new TraitsError("ENOSPC", `no free key for ${name}: all 64 are registered`);
    const entry: KeyEntry =
      description === undefined ? { name, key: chosen, size } : { name, key: chosen, size, description };
    this.byKey[chosen] = entry;
    this.byName.set(name, entry);
    return chosen;
  }

  /** Removes a name; throws ENOENT if it is not registered. */
  unregister(name: string): void {
    const entry = this.byName.get(name);
    if (!entry) throw new TraitsError("ENOENT", `${describe(name)} is not registered`);
    this.byName.delete(name);
    this.byKey[entry.key] = undefined;
  }

  /** The entry of a name, or undefined. */
  lookup(name: string): KeyEntry | undefined {
    const entry = this.byName.get(name);
    return entry && { ...entry };
  }

  /** The entry of a key, or undefined. */
  lookupKey(key: number): KeyEntry | undefined {
    const entry = this.byKey[key];
    return entry && { ...entry };
  }

  /** The registered size of key 0..63, or -1. */
  sizeOfKey(key: number): number {
    return this.byKey[key]?.size ?? -1;
  }

  /** Every entry, by key. */
  entries(): KeyEntry[] {
    return this.byKey.filter((entry): entry is KeyEntry => entry !== undefined).map((entry) => ({ ...entry }));
  }

  /** A readable table of the entries. */
  dump(): string {
    return dumpEntries(this.profile, this.entries());
  }

  /** The config file's object. */
  toJSON(): RegistryConfig {
    const keys: RegistryConfig["keys"] = {};
    for (const { name, key, size, description } of this.entries())
      keys[name] = description === undefined ? { key, size } : { key, size, description };
    return { version: 1, profile: this.profile, keys };
  }

  /** A registry from a config object, every field validated; errors (EINVAL) name the field path and what was expected. */
  static fromJSON(config: unknown): KeyRegistry {
    if (typeof config !== "object" || config === null || Array.isArray(config))
      throw new TraitsError("EINVAL", `registry config must be an object, not ${describe(config)}`);
    const c = config as Record<string, unknown>;
    for (const field of Object.keys(c))
      if (!["version", "profile", "keys"].includes(field))
        throw new TraitsError("EINVAL", `${field}: unknown field (expected version, profile, keys)`);
    if (c.version !== 1)
      throw new TraitsError("EINVAL", `version: ${describe(c.version)} is not supported (expected 1)`);
    if (c.profile !== "v1" && c.profile !== "flags")
      throw new TraitsError("EINVAL", `profile: ${describe(c.profile)} is not "v1" or "flags"`);
    if (typeof c.keys !== "object" || c.keys === null || Array.isArray(c.keys))
      throw new TraitsError("EINVAL", `keys: expected an object of name: { key, size }, not ${describe(c.keys)}`);
    const registry = new KeyRegistry({ profile: c.profile });
    for (const [name, value] of Object.entries(c.keys as Record<string, unknown>)) {
      const path = `keys.${name}`;
      checkName(name, path);
      if (typeof value !== "object" || value === null || Array.isArray(value))
        throw new TraitsError("EINVAL", `${path}: expected { key, size, description? }, not ${describe(value)}`);
      const v = value as Record<string, unknown>;
      for (const field of Object.keys(v))
        if (!["key", "size", "description"].includes(field))
          throw new TraitsError("EINVAL", `${path}.${field}: unknown field (expected key, size, description)`);
      const key = checkAppKey(v.key, `${path}.key`),
        size = checkSize(v.size, registry.profile, `${path}.size`);
      if (v.description !== undefined) checkDescription(v.description, `${path}.description`);
      const holder = registry.byKey[key];
      if (holder) throw new TraitsError("EINVAL", `${path}.key: ${key} is already keys.${holder.name}'s`);
      registry.register(
        name,
        size,
        v.description === undefined ? { key } : { key, description: v.description as string },
      );
    }
    return registry;
  }

  /** A registry from config file text. Throws EINVAL for text that is not JSON, for a field given twice in one object (naming its path), and as fromJSON. */
  static parse(text: string): KeyRegistry {
    let config: unknown;
    try {
      config = JSON.parse(text);
    } catch (error) {
      throw new TraitsError("EINVAL", `registry config is not JSON: ${(error as Error).message}`);
    }
    const duplicate = duplicateField(text);
    if (duplicate !== undefined)
      throw new TraitsError("EINVAL", `${duplicate}: given twice (JSON would keep only the last one)`);
    return KeyRegistry.fromJSON(config);
  }

  /** Loads a config file. Throws ENOENT if it does not exist, and as parse (messages name the file). */
  static load(file: string): KeyRegistry {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new TraitsError("ENOENT", `cannot read registry ${file}: ${(error as Error).message}`);
    }
    try {
      return KeyRegistry.parse(text);
    } catch (error) {
      if (error instanceof TraitsError)
        throw new TraitsError(error.code, `${file}: ${error.message.slice(error.code.length + 2)}`);
      throw error;
    }
  }

  /**
   * Saves the config file atomically: a temporary file beside the real file (symbolic links are
   * followed, so a linked config is updated where it lives), flushed, given the old file's mode (and,
   * as root, its owner), renamed over it, and the directory flushed. Throws EPERM, changing nothing,
   * if the file exists but is read-only (no write permission bit, or not writable by this process).
   */
  save(file: string): void {
    writeConfig(realTarget(file), `${JSON.stringify(this.toJSON(), null, 2)}\n`);
  }

  /**
   * Runs `change` on the registry in `file` (an empty one of `profile` if the file does not exist yet)
   * under the file's lock (`<real path>.lock`, see docs/REGISTRY.md), saves it, and returns what
   * `change` returned: concurrent processes never lose an entry or hand out one key twice. A lock
   * left by a process that is gone is taken over. This waits for the lock with short sleeps that block
   * the thread for up to `timeoutMs` (default 10 000; 0 tries once): use updateAsync in a server.
   * Throws EBUSY if the lock is not free in time (or was lost before the save: then nothing is saved),
   * EPERM for a read-only file, and as load, save and `change`.
   */
  static update<T>(file: string, change: (registry: KeyRegistry) => T, options: UpdateOptions = {}): T {
    const target = realTarget(file);
    return changeLocked(target, lockSync(`${target}.lock`, lockOptions(options)), change, options.profile);
  }

  /** As update, but waits for the lock with timers, so the event loop keeps running; resolves to what `change` returned. */
  static async updateAsync<T>(
    file: string,
    change: (registry: KeyRegistry) => T,
    options: UpdateOptions = {},
  ): Promise<T> {
    const target = realTarget(file);
    return changeLocked(target, await lockAsync(`${target}.lock`, lockOptions(options)), change, options.profile);
  }

  /** Registers a name in a registry file under its lock (see update); returns the key. Throws as register and update. */
  static registerInFile(file: string, name: string, size: number, options: RegisterInFileOptions = {}): number {
    const { profile, timeoutMs, staleMs, ...rest } = options;
    return KeyRegistry.update(file, (registry) => registry.register(name, size, rest), { profile, timeoutMs, staleMs });
  }

  /** As registerInFile, without blocking the event loop while it waits for the lock (see updateAsync). */
  static registerInFileAsync(
    file: string,
    name: string,
    size: number,
    options: RegisterInFileOptions = {},
  ): Promise<number> {
    const { profile, timeoutMs, staleMs, ...rest } = options;
    return KeyRegistry.updateAsync(file, (registry) => registry.register(name, size, rest), {
      profile,
      timeoutMs,
      staleMs,
    });
  }
}

/** Options of KeyRegistry.update: the profile of a new file, and the lock's timeouts. */
export interface UpdateOptions {
  /** The profile of the registry if the file does not exist yet (default "v1"). */
  profile?: Profile | undefined;
  /** Give up with EBUSY after this many milliseconds of waiting for the lock; 0 tries once (default 10 000). */
  timeoutMs?: number | undefined;
  /** A lock whose holder cannot be checked (another host or pid namespace) is taken over after this many milliseconds (default 30 000). */
  staleMs?: number | undefined;
}

/** Options of KeyRegistry.registerInFile: register's and update's. */
export interface RegisterInFileOptions extends UpdateOptions {
  key?: number;
  description?: string;
}

function lockOptions({ timeoutMs = 10_000, staleMs = 30_000 }: UpdateOptions): LockOptions {
  return {
    timeoutMs: checkInteger(timeoutMs, "timeoutMs", 0, 2 ** 31),
    staleMs: checkInteger(staleMs, "staleMs", 0, 2 ** 31),
  };
}

/** Loads `target` (or starts an empty registry), runs `change`, and saves it while `held`; releases the lock whatever happens. */
function changeLocked<T>(
  target: string,
  held: HeldLock,
  change: (registry: KeyRegistry) => T,
  profile: Profile | undefined,
): T {
  try {
    pauseAt("lock.acquired");
    const registry = existsSync(target) ? KeyRegistry.load(target) : new KeyRegistry({ profile });
    const result = change(registry);
    pauseAt("lock.save");
    writeConfig(target, `${JSON.stringify(registry.toJSON(), null, 2)}\n`, () => held.check());
    return result;
  } finally {
    held.release();
  }
}

/**
 * Where a config file really is: symbolic links followed (a link to a file that does not exist yet
 * leads to where it will be). Throws ENOENT if its directory does not exist.
 */
function realTarget(file: string): string {
  try {
    return realpathSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  let path = resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    let link: string;
    try {
      link = readlinkSync(path);
    } catch {
      break; // not a link (or not there): path is where the file goes
    }
    path = resolve(dirname(path), link);
  }
  try {
    return join(realpathSync(dirname(path)), basename(path));
  } catch (error) {
    throw new TraitsError("ENOENT", `cannot write registry ${file}: ${(error as Error).message}`);
  }
}

/** Writes `text` to `target` atomically, keeping an existing file's mode (and owner, as root); `beforeCommit` may still refuse. */
function writeConfig(target: string, text: string, beforeCommit?: () => void): void {
  const old = statOr(target);
  if (old) {
    const mode = old.mode & 0o7777;
    let writable = (mode & 0o222) !== 0;
    try {
      accessSync(target, constants.W_OK);
    } catch {
      writable = false;
    }
    if (!writable)
      throw new TraitsError(
        "EPERM",
        `${target} is read-only (mode ${mode.toString(8).padStart(4, "0")}): nothing was saved; make it writable to change the registry`,
      );
  }
  const temporary = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    const fd = openSync(temporary, "wx");
    try {
      if (old) {
        fchmodSync(fd, old.mode & 0o7777);
        if (process.getuid?.() === 0) fchownSync(fd, old.uid, old.gid);
      }
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    beforeCommit?.();
    renameSync(temporary, target);
  } catch (error) {
    unlinkOr(temporary);
    throw error;
  }
  const dir = openSync(dirname(target), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

function statOr(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function unlinkOr(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** A readable table of registry entries. */
export function dumpEntries(profile: Profile, entries: KeyEntry[]): string {
  const lines = [`key registry (profile ${profile}, ${entries.length} of 64 keys)`, "key  size  name"];
  for (const e of entries)
    lines.push(
      `${String(e.key).padStart(3)}  ${String(e.size).padStart(4)}  ${e.name}${e.description ? `  (${e.description})` : ""}`,
    );
  return lines.join("\n");
}
