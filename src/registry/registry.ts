/**
 * KeyRegistry: which application key (0..63) means what, shared by the services that touch a
 * packet. One registry answers both ways of sharing keys: a per-deployment config file (JSON,
 * loaded with validation, saved atomically, updated under a lock file across processes) and
 * dynamic registration (lowest free key, idempotent for the same name and size).
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { Errno, TraitsError } from "../core/errors.js";
import { PROFILE_SIZES, describe, toProfile, type Profile } from "../core/options.js";

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
  if (name.length > 63) throw new TraitsError("ENAMETOOLONG", `${where} ${describe(name)} has ${name.length} characters; at most 63`);
  if (!NAME.test(name)) throw new TraitsError("EINVAL", `${where} ${describe(name)} must be 1 to 63 characters of [a-z0-9_.-], starting with a letter`);
  return name;
}

/** Checks a value size for a profile; throws EINVAL naming `where`. */
export function checkSize(size: unknown, profile: Profile, where = "size"): number {
  if (typeof size === "number" && PROFILE_SIZES[profile].includes(size)) return size;
  throw new TraitsError("EINVAL", `${where}: ${describe(size)} is not a size of profile ${profile} (${PROFILE_SIZES[profile].join(", ")})`);
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
   * is another name's), ENOSPC (no free key).
   */
  register(name: string, size: number, { key, description }: { key?: number; description?: string } = {}): number {
    checkName(name);
    checkSize(size, this.profile);
    if (key !== undefined) checkAppKey(key);
    if (description !== undefined && typeof description !== "string") throw new TraitsError("EINVAL", `description must be a string, not ${describe(description)}`);
    const old = this.byName.get(name);
    if (old) {
      if (old.size !== size) throw new TraitsError("EEXIST", `${name} is registered as key ${old.key} with size ${old.size}, not ${size}`);
      if (key !== undefined && key !== old.key) throw new TraitsError("EEXIST", `${name} is registered as key ${old.key}, not ${key}`);
      return old.key;
    }
    if (key !== undefined && this.byKey[key]) throw new TraitsError("EBUSY", `key ${key} is registered to ${this.byKey[key]!.name}`);
    const chosen = key ?? this.byKey.findIndex((entry) => entry === undefined);
    if (chosen < 0) throw new TraitsError("ENOSPC", `no free key for ${name}: all 64 are registered`);
    const entry: KeyEntry = description === undefined ? { name, key: chosen, size } : { name, key: chosen, size, description };
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
    for (const { name, key, size, description } of this.entries()) keys[name] = description === undefined ? { key, size } : { key, size, description };
    return { version: 1, profile: this.profile, keys };
  }

  /** A registry from a config object, every field validated; errors (EINVAL) name the field path and what was expected. */
  static fromJSON(config: unknown): KeyRegistry {
    if (typeof config !== "object" || config === null || Array.isArray(config)) throw new TraitsError("EINVAL", `registry config must be an object, not ${describe(config)}`);
    const c = config as Record<string, unknown>;
    for (const field of Object.keys(c)) if (!["version", "profile", "keys"].includes(field)) throw new TraitsError("EINVAL", `${field}: unknown field (expected version, profile, keys)`);
    if (c.version !== 1) throw new TraitsError("EINVAL", `version: ${describe(c.version)} is not supported (expected 1)`);
    if (c.profile !== "v1" && c.profile !== "flags") throw new TraitsError("EINVAL", `profile: ${describe(c.profile)} is not "v1" or "flags"`);
    if (typeof c.keys !== "object" || c.keys === null || Array.isArray(c.keys)) throw new TraitsError("EINVAL", `keys: expected an object of name: { key, size }, not ${describe(c.keys)}`);
    const registry = new KeyRegistry({ profile: c.profile });
    for (const [name, value] of Object.entries(c.keys as Record<string, unknown>)) {
      const path = `keys.${name}`;
      checkName(name, path);
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new TraitsError("EINVAL", `${path}: expected { key, size, description? }, not ${describe(value)}`);
      const v = value as Record<string, unknown>;
      for (const field of Object.keys(v)) if (!["key", "size", "description"].includes(field)) throw new TraitsError("EINVAL", `${path}.${field}: unknown field (expected key, size, description)`);
      const key = checkAppKey(v.key, `${path}.key`), size = checkSize(v.size, registry.profile, `${path}.size`);
      if (v.description !== undefined && typeof v.description !== "string") throw new TraitsError("EINVAL", `${path}.description: expected a string, not ${describe(v.description)}`);
      const holder = registry.byKey[key];
      if (holder) throw new TraitsError("EINVAL", `${path}.key: ${key} is already keys.${holder.name}'s`);
      registry.register(name, size, v.description === undefined ? { key } : { key, description: v.description as string });
    }
    return registry;
  }

  /** A registry from config file text. Throws EINVAL for text that is not JSON, and as fromJSON. */
  static parse(text: string): KeyRegistry {
    let config: unknown;
    try {
      config = JSON.parse(text);
    } catch (error) {
      throw new TraitsError("EINVAL", `registry config is not JSON: ${(error as Error).message}`);
    }
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
      if (error instanceof TraitsError) throw new TraitsError(error.code, `${file}: ${error.message.slice(error.code.length + 2)}`);
      throw error;
    }
  }

  /** Saves the config file atomically: a temporary file beside it, flushed, then renamed over it. */
  save(file: string): void {
    const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    const fd = openSync(temporary, "w");
    try {
      writeSync(fd, JSON.stringify(this.toJSON(), null, 2) + "\n");
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
  }

  /**
   * Runs `change` on the registry in `file` (an empty one of `profile` if the file does not exist yet)
   * under the file's lock (`file.lock`), saves it, and returns what `change` returned: concurrent
   * processes never lose an entry or hand out one key twice. A lock left by a process that died is
   * taken over. Throws EBUSY if the lock is not free within `timeoutMs` (default 10 s).
   */
  static update<T>(file: string, change: (registry: KeyRegistry) => T, { profile, timeoutMs = 10_000 }: { profile?: Profile; timeoutMs?: number } = {}): T {
    const release = lock(`${file}.lock`, timeoutMs);
    try {
      const registry = existsSync(file) ? KeyRegistry.load(file) : new KeyRegistry(profile === undefined ? {} : { profile });
      const result = change(registry);
      registry.save(file);
      return result;
    } finally {
      release();
    }
  }

  /** Registers a name in a registry file under its lock (see update); returns the key. Throws as register and update. */
  static registerInFile(file: string, name: string, size: number, options: { key?: number; description?: string; profile?: Profile; timeoutMs?: number } = {}): number {
    const { profile, timeoutMs, ...rest } = options;
    return KeyRegistry.update(file, (registry) => registry.register(name, size, rest), { ...(profile && { profile }), ...(timeoutMs && { timeoutMs }) });
  }
}

/** A readable table of registry entries. */
export function dumpEntries(profile: Profile, entries: KeyEntry[]): string {
  const lines = [`key registry (profile ${profile}, ${entries.length} of 64 keys)`, "key  size  name"];
  for (const e of entries) lines.push(`${String(e.key).padStart(3)}  ${String(e.size).padStart(4)}  ${e.name}${e.description ? `  (${e.description})` : ""}`);
  return lines.join("\n");
}

// Where SharedArrayBuffer does not exist (a page that is not cross-origin isolated), neither do files to lock.
const sleeper = new Int32Array(typeof SharedArrayBuffer === "function" ? new SharedArrayBuffer(4) : new ArrayBuffer(4));

/** Takes a lock file (exclusive create), taking over one whose process is gone; returns its release. */
function lock(path: string, timeoutMs: number): () => void {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = readHolder(path);
    if (holder !== undefined && !alive(holder)) {
      // Take over a dead process's lock, unless it changed hands since we read it.
      if (readHolder(path)?.mtimeMs === holder.mtimeMs) unlinkSafe(path);
      continue;
    }
    if (Date.now() > deadline) throw new TraitsError("EBUSY", `cannot lock ${path} within ${timeoutMs} ms (held by process ${holder?.pid ?? "?"})`);
    Atomics.wait(sleeper, 0, 0, wait);
  }
}

function readHolder(path: string): { pid: number; mtimeMs: number } | undefined {
  try {
    const pid = Number(readFileSync(path, "utf8"));
    return { pid: Number.isInteger(pid) && pid > 0 ? pid : 0, mtimeMs: statSync(path).mtimeMs };
  } catch {
    return undefined;
  }
}

/** True if the lock's process runs (a lock with no pid yet counts as alive for a second). */
function alive({ pid, mtimeMs }: { pid: number; mtimeMs: number }): boolean {
  if (pid === 0) return Date.now() - mtimeMs < 1000;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function unlinkSafe(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // another process took it over first
  }
}
