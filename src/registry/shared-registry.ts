/**
 * SharedKeyRegistry: a key registry in a SharedArrayBuffer, for worker threads. Its core is a
 * 16-byte header in the traits encoding (the size code of every registered key), then a names table:
 *
 *   bytes 0..15   the header (high, low: u64 little-endian), read by lookups with Atomics.load
 *   bytes 16..19  the registration lock word: 0 free, else the owner's threadId + 1 (-1 while recover() repairs)
 *   bytes 20..23  the profile (0 v1, 1 flags)
 *   bytes 24..27  the key being changed under the lock, + 1 (0 none): what recover() undoes
 *   bytes 32..287 a version per key (odd while its name is being written)
 *   bytes 288..   64 names of 64 bytes (length, then up to 63 characters)
 *
 * Registrations are serialized by the lock word (a name must stay unique, and a key's claim spans
 * both header words); lookups take no lock: they read the header and check the name's version.
 * Waiting for the lock is bounded (LOCK_WAIT_MS, then EBUSY naming the owner), and the lock of a
 * thread that exited while holding it is freed by recover(threadId), which undoes its half-done change.
 */
import { threadId } from "node:worker_threads";
import { TraitsError } from "../core/errors.js";
import { PROFILE_ID, describe, toProfile, type Profile } from "../core/options.js";
import { checkAppKey, checkName, checkSize, dumpEntries, type KeyEntry, type KeyLookup } from "./registry.js";
import { pauseAt } from "./pauses.js";

const LOCK = 4,
  PROFILE = 5,
  CHANGING = 6,
  VERSIONS = 8,
  NAMES = 288,
  BYTES = NAMES + 64 * 64;
const RECOVERING = -1;

/** The longest a register() or unregister() waits for the lock word before EBUSY (a registration holds it for microseconds). */
const LOCK_WAIT_MS = 1000;

/** A key registry shared by worker threads through a SharedArrayBuffer. */
export class SharedKeyRegistry implements KeyLookup {
  readonly profile: Profile;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;

  private constructor(readonly buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer, 0, NAMES >>> 2);
    this.bytes = new Uint8Array(buffer);
    this.profile = Atomics.load(this.words, PROFILE) === 1 ? "flags" : "v1";
  }

  /** A new empty registry in a new SharedArrayBuffer (post `buffer` to workers). Throws EINVAL for a bad profile. */
  static create({ profile }: { profile?: Profile } = {}): SharedKeyRegistry {
    const buffer = new SharedArrayBuffer(BYTES);
    new Int32Array(buffer)[PROFILE] = PROFILE_ID[toProfile(profile)];
    return new SharedKeyRegistry(buffer);
  }

  /** The registry in `buffer` (from create(), possibly in another thread). Throws EINVAL for anything else. */
  static from(buffer: SharedArrayBuffer): SharedKeyRegistry {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength !== BYTES)
      throw new TraitsError(
        "EINVAL",
        `expected the ${BYTES}-byte SharedArrayBuffer of a SharedKeyRegistry, not ${describe(buffer)}`,
      );
    return new SharedKeyRegistry(buffer);
  }

  /**
   * Registers `name` (as KeyRegistry.register: same results, same errors), atomically across threads.
   * Throws EBUSY if the lock stays held for LOCK_WAIT_MS (its owner exited while holding it: see recover).
   */
  register(name: string, size: number, { key }: { key?: number } = {}): number {
    checkName(name);
    checkSize(size, this.profile);
    if (key !== undefined) checkAppKey(key);
    return this.locked(() => {
      const old = this.find(name);
      if (old >= 0) {
        if (this.sizeOfKey(old) !== size)
          throw new TraitsError(
            "EEXIST",
            `${name} is registered as key ${old} with size ${this.sizeOfKey(old)}, not ${size}`,
          );
        if (key !== undefined && key !== old)
          throw new TraitsError("EEXIST", `${name} is registered as key ${old}, not ${key}`);
        return old;
      }
      if (key !== undefined && this.sizeOfKey(key) >= 0)
        throw new TraitsError("EBUSY", `key ${key} is registered to ${this.nameOf(key)}`);
      let chosen = key ?? -1;
      for (let k = 0; chosen < 0 && k < 64; k++) if (this.sizeOfKey(k) < 0) chosen = k;
      if (chosen < 0) throw new TraitsError("ENOSPC", `no free key for ${name}: all 64 are registered`);
      Atomics.store(this.words, CHANGING, chosen + 1);
      this.writeName(chosen, name);
      pauseAt("shared.claim");
      const code = size === 8 ? 3 : size === 4 ? 2 : 1,
        half = chosen >>> 5,
        bit = 1 << (chosen & 31);
      if (code & 2) Atomics.or(this.words, half, bit);
      if (code & 1) Atomics.or(this.words, 2 + half, bit);
      Atomics.store(this.words, CHANGING, 0);
      return chosen;
    });
  }

  /** Removes a name; throws ENOENT if it is not registered, EBUSY as register. */
  unregister(name: string): void {
    this.locked(() => {
      const key = this.find(name);
      if (key < 0) throw new TraitsError("ENOENT", `${describe(name)} is not registered`);
      Atomics.store(this.words, CHANGING, key + 1);
      this.clearKey(key);
      Atomics.store(this.words, CHANGING, 0);
    });
  }

  /**
   * Frees the lock if thread `threadId` (a Worker's threadId, read before it exited) held it when it
   * exited, undoing its half-done change: a key it was registering is left free, one it was
   * unregistering is removed. Returns true if it did. Call it only for a thread that has exited
   * (WorkerGroup does so for its workers): a live owner's lock must not be taken.
   */
  recover(threadId: number): boolean {
    if (Atomics.compareExchange(this.words, LOCK, threadId + 1, RECOVERING) !== threadId + 1) return false;
    const changing = Atomics.load(this.words, CHANGING);
    if (changing !== 0) {
      const key = changing - 1;
      this.clearKey(key);
      if (Atomics.load(this.words, VERSIONS + key) & 1) Atomics.add(this.words, VERSIONS + key, 1);
      Atomics.store(this.words, CHANGING, 0);
    }
    Atomics.store(this.words, LOCK, 0);
    Atomics.notify(this.words, LOCK);
    return true;
  }

  /** The entry of a name, or undefined. Takes no lock. */
  lookup(name: string): KeyEntry | undefined {
    const key = this.find(name);
    return key < 0 ? undefined : { name, key, size: this.sizeOfKey(key) };
  }

  /** The entry of a key, or undefined. Takes no lock. */
  lookupKey(key: number): KeyEntry | undefined {
    const size = this.sizeOfKey(key),
      name = size < 0 ? undefined : this.nameOf(key);
    return name === undefined ? undefined : { name, key, size };
  }

  /** The registered size of key 0..63 (from the header's size code), or -1. */
  sizeOfKey(key: number): number {
    const half = key >>> 5,
      shift = key & 31;
    const code =
      (((Atomics.load(this.words, half) >>> shift) & 1) << 1) | ((Atomics.load(this.words, 2 + half) >>> shift) & 1);
    return code === 0 ? -1 : code === 3 ? 8 : code === 2 ? 4 : this.profile === "v1" ? 2 : 0;
  }

  /** Every entry, by key. */
  entries(): KeyEntry[] {
    const out: KeyEntry[] = [];
    for (let key = 0; key < 64; key++) {
      const entry = this.lookupKey(key);
      if (entry) out.push(entry);
    }
    return out;
  }

  /** A readable table of the entries. */
  dump(): string {
    return dumpEntries(this.profile, this.entries());
  }

  /** The key holding `name`, or -1. */
  private find(name: string): number {
    for (let key = 0; key < 64; key++) if (this.sizeOfKey(key) >= 0 && this.nameOf(key) === name) return key;
    return -1;
  }

  /** The name stored for a key, read consistently (retried while a writer is at it). */
  private nameOf(key: number): string | undefined {
    for (;;) {
      const before = Atomics.load(this.words, VERSIONS + key);
      if (before & 1) continue;
      const at = NAMES + 64 * key,
        length = Atomics.load(this.bytes, at);
      let name = "";
      for (let i = 1; i <= length && i < 64; i++) name += String.fromCharCode(Atomics.load(this.bytes, at + i));
      if (Atomics.load(this.words, VERSIONS + key) === before) return length === 0 ? undefined : name;
    }
  }

  private clearKey(key: number): void {
    const half = key >>> 5,
      bit = ~(1 << (key & 31));
    Atomics.and(this.words, half, bit);
    Atomics.and(this.words, 2 + half, bit);
  }

  private writeName(key: number, name: string): void {
    const at = NAMES + 64 * key;
    Atomics.add(this.words, VERSIONS + key, 1);
    Atomics.store(this.bytes, at, name.length);
    for (let i = 0; i < name.length; i++) Atomics.store(this.bytes, at + 1 + i, name.charCodeAt(i));
    Atomics.add(this.words, VERSIONS + key, 1);
  }

  /** Runs `fn` holding the lock word (compare-and-swap 0 → our threadId + 1; waiters sleep on it, LOCK_WAIT_MS at most). */
  private locked<T>(fn: () => T): T {
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      const owner = Atomics.compareExchange(this.words, LOCK, 0, threadId + 1);
      if (owner === 0) break;
      const left = deadline - Date.now();
      if (left <= 0) {
        const who =
          owner === RECOVERING
            ? "recover()"
            : owner - 1 === threadId
              ? "this thread (a call that never returned)"
              : `thread ${owner - 1}`;
        throw new TraitsError(
          "EBUSY",
          `the SharedKeyRegistry lock has been held by ${who} for over ${LOCK_WAIT_MS} ms; if that thread exited while registering, recover(${owner - 1}) frees it (WorkerGroup does so for its workers)`,
        );
      }
      Atomics.wait(this.words, LOCK, owner, Math.min(left, 10));
    }
    try {
      return fn();
    } finally {
      Atomics.store(this.words, LOCK, 0);
      Atomics.notify(this.words, LOCK, 1);
    }
  }
}
