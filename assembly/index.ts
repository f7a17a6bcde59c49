// The exports of the traits codec: single-store operations on stores anywhere
// in linear memory, and (batch.ts) loops over many frames of a packet pool.
// See store.ts for the format and the error model. `profile` is 0 (v1) or 1 (flags).
import { prepareFields, storeDecode, storeDel, storeGet, storeHas, storeInit, storeSet, storeSetMany, usedBytes } from "./store";

export * from "./batch";
// The fast path of `pcap annotate` (pipeline.ts).
export * from "./pipeline";
// The shared layouts, as exported globals that test/core/abi.test.ts compares with src/core/abi.ts.
export * from "./abi";

/** Zeroes the header of a `cap`-byte store. Returns 0, or ENOMEM if cap < 16. */
export function init(start: usize, cap: u32): i32 {
  return storeInit(start, cap);
}

/** Bytes in use, header included. Errors: ENOMEM (cap < 16), EBADMSG (header declares more than cap). */
export function size(start: usize, cap: u32, profile: u32): i32 {
  return usedBytes(start, cap, profile);
}

/** 1 if `key` is present, else 0. Errors: EINVAL (key >= 64), ENOMEM, EBADMSG. */
export function has(start: usize, cap: u32, profile: u32, key: u32): i32 {
  return storeHas(start, cap, profile, key);
}

/**
 * Reads the value of `key` into the slot at `value`, zero-extended to 8 bytes
 * if outLen >= 8, else to 4. Returns its length (0 for a flag). Errors: EINVAL
 * (key >= 64), ENOMEM, EBADMSG, ENOENT (absent), ENOSPC (longer than outLen).
 */
export function get(start: usize, cap: u32, profile: u32, key: u32, value: usize, outLen: u32): i32 {
  return storeGet(start, cap, profile, key, value, outLen);
}

/**
 * Sets `key` to the low `len` bytes of (hi:lo), little-endian; len 0 sets a flag.
 * Returns 0. Errors: EINVAL (key >= 64, len not a size of the profile), ENOMEM,
 * EBADMSG, EBUSY (present with another length), ENOSPC (no room before start + cap).
 */
export function set(start: usize, cap: u32, profile: u32, key: u32, len: u32, lo: u32, hi: u32): i32 {
  return storeSet(start, cap, profile, key, len, lo, hi);
}

/** Removes `key`. Returns 0. Errors: EINVAL (key >= 64), ENOMEM, EBADMSG, ENOENT. */
export function del(start: usize, cap: u32, profile: u32, key: u32): i32 {
  return storeDel(start, cap, profile, key);
}

/**
 * Sets the m keys of a field list at once, all or nothing (layout in abi.ts: the
 * caller writes m, keys and lengths), field j from the u64 slot at values + 8j; with
 * `replace` (1), on an emptied store. Returns 0 or the first error that init (if
 * replace) and the same sets one by one would return (EINVAL, ENOMEM, EBADMSG,
 * EBUSY, ENOSPC).
 */
export function setMany(start: usize, cap: u32, profile: u32, fields: usize, values: usize, replace: u32): i32 {
  prepareFields(fields, profile);
  return storeSetMany(start, cap, profile, fields, values, replace != 0);
}

/**
 * Writes every present key in ascending order: key i to the byte keys + i, its
 * length to lens + i, its value zero-extended to the u64 at values + 8i (room
 * for 64). Returns the number of keys. Errors: ENOMEM, EBADMSG.
 */
export function decode(start: usize, cap: u32, profile: u32, keys: usize, lens: usize, values: usize): i32 {
  return storeDecode(start, cap, profile, keys, lens, values, 64);
}
