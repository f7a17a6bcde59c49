// The traits codec on one store: the offset math and get/set/del, inlined into
// the exported single-store functions (index.ts) and the batch loops (batch.ts).
//
// A store is `cap` bytes at `start` (8-byte aligned): a 16-byte header of two
// little-endian u64 words (`high` at +0, `low` at +8), then the values packed
// in ascending key order. Key k owns bit k of both words; (high, low) is its
// size code: 00 absent, 01 = S1 bytes (2 in profile v1, 0 = a flag in profile
// flags), 10 = 4 bytes, 11 = 8 bytes. `profile` is 0 (v1) or 1 (flags).
// 64-bit values travel as u32 halves (lo, hi) or as u64 slots in memory.
//
// Every function returns a negative Linux errno on failure and never touches a
// byte outside [start, start + cap), whatever the header holds.
import { EBADMSG, EBUSY, EINVAL, ENOENT, ENOMEM, ENOSPC, FIELDS_DISTINCT, FIELDS_HIGH, FIELDS_KEYS, FIELDS_LENS, FIELDS_LOW, FIELDS_M, FIELDS_OFFSETS, FIELDS_VALUE_BYTES } from "./abi";

/** Bytes of a store header. */
export const HEADER: u32 = 16;
/** Keys of a store: 0..63. */
export const KEYS: u32 = 64;

/** Bytes of a size code 01 value: 2 in v1, 0 (a flag) in flags. */
// @ts-ignore: decorator
@inline function smallSize(profile: u32): u32 {
  return (profile ^ 1) << 1;
}

/** Bytes taken by the keys selected by `mask`: the one place of the offset math. */
// @ts-ignore: decorator
@inline export function sizeOf(high: u64, low: u64, mask: u64, profile: u32): u32 {
  return sizeWith(high, low, mask, smallSize(profile));
}

/** sizeOf with the bytes of a size code 01 value (`small`: 2 in v1, 0 in flags) given. */
// @ts-ignore: decorator
@inline export function sizeWith(high: u64, low: u64, mask: u64, small: u32): u32 {
  // Code 01 takes small, 10 takes 4, 11 takes small + 4 + (4 - small) = 8.
  const h = high & mask, l = low & mask;
  return <u32>popcnt<u64>(l) * small + (<u32>popcnt<u64>(h) << 2) + <u32>popcnt<u64>(h & l) * (4 - small);
}

/** Size code (0..3) of the key whose bit is `bit` in a header. */
// @ts-ignore: decorator
@inline export function codeOfBit(high: u64, low: u64, bit: u64): u32 {
  return (u32((high & bit) != 0) << 1) | u32((low & bit) != 0);
}

/** Size code (0..3) of `key` in a header. */
// @ts-ignore: decorator
@inline export function codeAt(high: u64, low: u64, key: u32): u32 {
  return codeOfBit(high, low, <u64>1 << key);
}

/** Bytes of a value of size code `code` (1..3): 2, 4, 8, without the 2 in profile flags (a flag: 0). */
// @ts-ignore: decorator
@inline export function lengthOf(code: u32, profile: u32): u32 {
  return (<u32>1 << code) & ~(profile << 1);
}

/** Size code (1..3) of a value length, or 0 if the profile has no such size. */
// @ts-ignore: decorator
@inline export function codeOf(len: u32, profile: u32): u32 {
  if (len == 8) return 3;
  if (len == 4) return 2;
  return len == smallSize(profile) ? 1 : 0;
}

/** True if (hi:lo) fits in `len` bytes. */
// @ts-ignore: decorator
@inline export function fits(len: u32, lo: u32, hi: u32): bool {
  return len == 8 || (hi == 0 && (len == 4 || (len == 2 ? lo <= 0xffff : lo == 0)));
}

/** Total bytes the header declares (header included); EBADMSG if over `cap`, ENOMEM if cap < 16. */
// @ts-ignore: decorator
@inline export function usedBytes(start: usize, cap: u32, profile: u32): i32 {
  if (cap < HEADER) return ENOMEM;
  const used = HEADER + sizeOf(load<u64>(start), load<u64>(start, 8), <u64>-1, profile);
  return used > cap ? EBADMSG : <i32>used;
}

/** True if the header fits `cap` (>= 16): first a cheap bound (8 bytes a key), then the exact size. */
// @ts-ignore: decorator
@inline function headerFits(high: u64, low: u64, cap: u32, profile: u32): bool {
  return HEADER + (<u32>popcnt<u64>(high | low) << 3) <= cap || HEADER + sizeOf(high, low, <u64>-1, profile) <= cap;
}

// The two moves below read only [src, src + n) and write only the n bytes at their
// destination: 8-byte words, the one at the far end overlapping its neighbour when n is
// not a multiple of 8, and loaded before any store (so that the overlap holds old bytes).

/**
 * Moves `n` bytes (even) from `src` up to `src + by`, highest first: 16 bytes at a time (SIMD), the
 * lowest 16 read before anything is written; under 16, two overlapping 8- or 4-byte words.
 */
// @ts-ignore: decorator
@inline export function moveUp(src: usize, n: u32, by: u32): void {
  if (n > 16) {
    const head = v128.load(src);
    let i = n;
    while (i > 16) { i -= 16; v128.store(src + i + by, v128.load(src + i)); }
    v128.store(src + by, head);
  } else if (n >= 8) {
    const head = load<u64>(src), tail = load<u64>(src + n - 8);
    store<u64>(src + n - 8 + by, tail);
    store<u64>(src + by, head);
  } else if (n >= 4) {
    const head = load<u32>(src), tail = load<u32>(src + n - 4);
    store<u32>(src + n - 4 + by, tail);
    store<u32>(src + by, head);
  } else if (n != 0) store<u16>(src + by, load<u16>(src));
}

/**
 * Moves `n` bytes (even) from `src` down to `src - by`, lowest first: 16 bytes at a time (SIMD), the
 * highest 16 read before anything is written; under 16, two overlapping 8- or 4-byte words.
 */
// @ts-ignore: decorator
@inline export function moveDown(src: usize, n: u32, by: u32): void {
  if (n > 16) {
    const tail = v128.load(src + n - 16);
    for (let i: u32 = 0; i + 16 < n; i += 16) v128.store(src + i - by, v128.load(src + i));
    v128.store(src + n - 16 - by, tail);
  } else if (n >= 8) {
    const head = load<u64>(src), tail = load<u64>(src + n - 8);
    store<u64>(src - by, head);
    store<u64>(src + n - 8 - by, tail);
  } else if (n >= 4) {
    const head = load<u32>(src), tail = load<u32>(src + n - 4);
    store<u32>(src - by, head);
    store<u32>(src + n - 4 - by, tail);
  } else if (n != 0) store<u16>(src - by, load<u16>(src));
}

/** Writes the low `len` (0, 2, 4 or 8) bytes of (hi:lo) at `at`, little-endian. */
// @ts-ignore: decorator
@inline export function writeValue(at: usize, len: u32, lo: u32, hi: u32): void {
  if (len == 8) { store<u32>(at, lo); store<u32>(at, hi, 4); }
  else if (len == 4) store<u32>(at, lo);
  else if (len == 2) store<u16>(at, <u16>lo);
}

/** Writes the low `len` (0, 2, 4 or 8) bytes of v at `at`, little-endian. */
// @ts-ignore: decorator
@inline export function writeWord(at: usize, len: u32, v: u64): void {
  if (len == 8) store<u64>(at, v);
  else if (len == 4) store<u32>(at, <u32>v);
  else if (len == 2) store<u16>(at, <u16>v);
}

/** Reads a `len`-byte (0, 2, 4 or 8) value at `at`, zero-extended. */
// @ts-ignore: decorator
@inline export function readValue(at: usize, len: u32): u64 {
  if (len == 8) return load<u64>(at);
  if (len == 4) return <u64>load<u32>(at);
  if (len == 2) return <u64>load<u16>(at);
  return 0;
}

/** Empties a store (a zero header); 0, or ENOMEM if cap < 16. */
// @ts-ignore: decorator
@inline export function storeInit(start: usize, cap: u32): i32 {
  if (cap < HEADER) return ENOMEM;
  store<u64>(start, 0);
  store<u64>(start, 0, 8);
  return 0;
}

/** 1 if `key` is present, 0 if not; EINVAL (key >= 64), ENOMEM (cap < 16) or EBADMSG (the header declares more than cap). */
// @ts-ignore: decorator
@inline export function storeHas(start: usize, cap: u32, profile: u32, key: u32): i32 {
  if (key >= KEYS) return EINVAL;
  if (cap < HEADER) return ENOMEM;
  const high = load<u64>(start), low = load<u64>(start, 8);
  if (!headerFits(high, low, cap, profile)) return EBADMSG;
  return <i32>(((high | low) >> key) & 1);
}

/** Reads the value of `key` into `value` (a u64 slot, zero-extended); returns its length or an errno. */
// @ts-ignore: decorator
@inline export function storeGet(start: usize, cap: u32, profile: u32, key: u32, value: usize, outLen: u32): i32 {
  if (key >= KEYS) return EINVAL;
  return storeGetBit(start, cap, profile, <u64>1 << key, value, outLen);
}

/** storeGet of the valid key whose bit is `bit` (a batch computes it once). */
// @ts-ignore: decorator
@inline export function storeGetBit(start: usize, cap: u32, profile: u32, bit: u64, value: usize, outLen: u32): i32 {
  if (cap < HEADER) return ENOMEM;
  const high = load<u64>(start), low = load<u64>(start, 8);
  if (!headerFits(high, low, cap, profile)) return EBADMSG;
  const code = codeOfBit(high, low, bit);
  if (code == 0) return ENOENT;
  const len = lengthOf(code, profile);
  if (len > outLen) return ENOSPC;
  storeValue(value, outLen, readValue(start + HEADER + sizeOf(high, low, bit - 1, profile), len));
  return <i32>len;
}

/** Writes a value read by get to its slot: a u64 if outLen >= 8, else a u32. */
// @ts-ignore: decorator
@inline export function storeValue(value: usize, outLen: u32, v: u64): void {
  if (outLen >= 8) store<u64>(value, v);
  else store<u32>(value, <u32>v);
}

/** Sets `key` to the low `len` bytes of (hi:lo): 0, or EINVAL (key, or no such size), ENOMEM, EBADMSG, EBUSY (present with another size), ENOSPC (no room). */
// @ts-ignore: decorator
@inline export function storeSet(start: usize, cap: u32, profile: u32, key: u32, len: u32, lo: u32, hi: u32): i32 {
  const code = codeOf(len, profile);
  if (key >= KEYS || code == 0) return EINVAL;
  return storeSetBit(start, cap, profile, <u64>1 << key, code, len, lo, hi);
}

/** storeSet of the valid key whose bit is `bit`, `len` bytes of size code `code` (a batch computes both once). */
// @ts-ignore: decorator
@inline export function storeSetBit(start: usize, cap: u32, profile: u32, bit: u64, code: u32, len: u32, lo: u32, hi: u32): i32 {
  if (cap < HEADER) return ENOMEM;
  const high = load<u64>(start), low = load<u64>(start, 8);
  if (!headerFits(high, low, cap, profile)) return EBADMSG;
  const at = start + HEADER + sizeOf(high, low, bit - 1, profile);
  const old = codeOfBit(high, low, bit);
  if (old != 0) {
    if (old != code) return EBUSY;
    writeValue(at, len, lo, hi);
    return 0;
  }
  const used = HEADER + sizeOf(high, low, <u64>-1, profile);
  if (used + len > cap) return ENOSPC;
  moveUp(at, used - <u32>(at - start), len);
  writeValue(at, len, lo, hi);
  if (code & 2) store<u64>(start, high | bit);
  if (code & 1) store<u64>(start, low | bit, 8);
  return 0;
}

/** Removes `key`, moving the values above it down: 0, or EINVAL, ENOMEM, EBADMSG, ENOENT (absent). */
// @ts-ignore: decorator
@inline export function storeDel(start: usize, cap: u32, profile: u32, key: u32): i32 {
  if (key >= KEYS) return EINVAL;
  return storeDelBit(start, cap, profile, <u64>1 << key);
}

/** storeDel of the valid key whose bit is `bit` (a batch computes it once). */
// @ts-ignore: decorator
@inline export function storeDelBit(start: usize, cap: u32, profile: u32, bit: u64): i32 {
  const used = usedBytes(start, cap, profile);
  if (used < 0) return used;
  const high = load<u64>(start), low = load<u64>(start, 8);
  const code = codeOfBit(high, low, bit);
  if (code == 0) return ENOENT;
  const len = lengthOf(code, profile);
  const at = start + HEADER + sizeOf(high, low, bit - 1, profile);
  moveDown(at + len, <u32>used - <u32>(at - start) - len, len);
  store<u64>(start, high & ~bit);
  store<u64>(start, low & ~bit, 8);
  return 0;
}

// A field list (layout in abi.ts), prepared once per call (prepareFields) for setMany.
// The caller writes m, keys and lengths (keys < 64, lengths of the profile).

/** Computes the masks, distinctness, total bytes and offsets of a field list from its m, keys and lengths. */
// @ts-ignore: decorator
@inline export function prepareFields(fields: usize, profile: u32): void {
  const m = load<u32>(fields, FIELDS_M);
  let high: u64 = 0, low: u64 = 0, bytes: u32 = 0, distinct: u32 = 1;
  for (let j: u32 = 0; j < m; j++) {
    const key = <u32>load<u8>(fields + FIELDS_KEYS + j), len = <u32>load<u8>(fields + FIELDS_LENS + j);
    const bit = <u64>1 << key, code = codeOf(len, profile);
    if ((high | low) & bit) distinct = 0;
    if (code & 2) high |= bit;
    if (code & 1) low |= bit;
    bytes += len;
  }
  for (let j: u32 = 0; j < m; j++) {
    const key = <u32>load<u8>(fields + FIELDS_KEYS + j);
    store<u16>(fields + FIELDS_OFFSETS + (j << 1), <u16>(HEADER + sizeOf(high, low, (<u64>1 << key) - 1, profile)));
  }
  store<u64>(fields, high, FIELDS_HIGH);
  store<u64>(fields, low, FIELDS_LOW);
  store<u32>(fields, distinct, FIELDS_DISTINCT);
  store<u32>(fields, bytes, FIELDS_VALUE_BYTES);
}

/**
 * Sets the m keys of a prepared field list in one pass, field j to the low
 * lens[j] bytes of the u64 slot at values + 8j; with `replace`, on an emptied
 * store. The result is that of init (if replace) and the same sets made one by
 * one (the first error wins: EINVAL, ENOMEM, EBADMSG, EBUSY, ENOSPC), except
 * that on any error the store is left unchanged. One header write; each value
 * already in the store moves at most once.
 */
// @ts-ignore: decorator
@inline export function storeSetMany(start: usize, cap: u32, profile: u32, fields: usize, values: usize, replace: bool): i32 {
  const m = load<u32>(fields, FIELDS_M);
  if (replace && cap < HEADER) return ENOMEM;
  if (m == 0) return replace ? storeInit(start, cap) : 0;
  let allFit = true;
  for (let j: u32 = 0; j < m; j++) {
    allFit &= fits(<u32>load<u8>(fields + FIELDS_LENS + j), load<u32>(values + (j << 3)), load<u32>(values + (j << 3), 4));
  }
  // The first field's value before the store, as the first of the same sets one by one would check them.
  if (!fits(<u32>load<u8>(fields + FIELDS_LENS), load<u32>(values), load<u32>(values, 4))) return EINVAL;
  if (cap < HEADER) return ENOMEM;
  let high: u64 = 0, low: u64 = 0, used: i32 = <i32>HEADER;
  if (!replace) {
    used = usedBytes(start, cap, profile);
    if (used < 0) return used;
    high = load<u64>(start);
    low = load<u64>(start, 8);
  }
  const fieldHigh = load<u64>(fields, FIELDS_HIGH), fieldLow = load<u64>(fields, FIELDS_LOW), fieldMask = fieldHigh | fieldLow;
  let newHigh = high | fieldHigh, newLow = low | fieldLow, lowest = fieldMask & (~fieldMask + 1);
  if (!(allFit && load<u32>(fields, FIELDS_DISTINCT) != 0 && ((high | low) & fieldMask) == 0 && <u32>used + load<u32>(fields, FIELDS_VALUE_BYTES) <= cap)) {
    // Not all distinct new keys that fit: replay the sets one by one to find the first error, or the new header.
    newHigh = high; newLow = low; lowest = 0;
    let added: u32 = 0;
    for (let j: u32 = 0; j < m; j++) {
      const key = <u32>load<u8>(fields + FIELDS_KEYS + j), len = <u32>load<u8>(fields + FIELDS_LENS + j), code = codeOf(len, profile);
      if (!fits(len, load<u32>(values + (j << 3)), load<u32>(values + (j << 3), 4))) return EINVAL;
      const old = codeAt(newHigh, newLow, key);
      if (old != 0) {
        if (old != code) return EBUSY;
        continue;
      }
      added += len;
      if (<u32>used + added > cap) return ENOSPC;
      const bit = <u64>1 << key;
      if (code & 2) newHigh |= bit;
      if (code & 1) newLow |= bit;
      if (lowest == 0 || bit < lowest) lowest = bit;
    }
  }
  if ((high | low) == 0) {
    // An empty store (or a replaced one) and distinct keys: the prepared offsets hold.
    if (load<u32>(fields, FIELDS_DISTINCT) != 0) {
      for (let j: u32 = 0; j < m; j++) {
        const at = start + <usize>load<u16>(fields + FIELDS_OFFSETS + (j << 1));
        writeValue(at, <u32>load<u8>(fields + FIELDS_LENS + j), load<u32>(values + (j << 3)), load<u32>(values + (j << 3), 4));
      }
      store<u64>(start, newHigh);
      store<u64>(start, newLow, 8);
      return 0;
    }
  } else if (lowest != 0) {
    // Values above the lowest inserted key move up, highest first, each once.
    let moving = (high | low) & ~((lowest << 1) - 1);
    while (moving != 0) {
      const key = 63 - <u32>clz<u64>(moving);
      const below = (<u64>1 << key) - 1;
      moving &= below;
      const from = start + HEADER + sizeOf(high, low, below, profile);
      const to = start + HEADER + sizeOf(newHigh, newLow, below, profile);
      const len = lengthOf(codeAt(high, low, key), profile);
      const v = readValue(from, len);
      writeValue(to, len, <u32>v, <u32>(v >> 32));
    }
  }
  for (let j: u32 = 0; j < m; j++) {
    const key = <u32>load<u8>(fields + FIELDS_KEYS + j), len = <u32>load<u8>(fields + FIELDS_LENS + j);
    const at = start + HEADER + sizeOf(newHigh, newLow, (<u64>1 << key) - 1, profile);
    writeValue(at, len, load<u32>(values + (j << 3)), load<u32>(values + (j << 3), 4));
  }
  store<u64>(start, newHigh);
  store<u64>(start, newLow, 8);
  return 0;
}

/**
 * Appends every present key in ascending order at entry `first` of the output:
 * key to the byte keys + i, length to lens + i, value zero-extended to the u64
 * at values + 8i, for i from `first`. Returns the count; EBADMSG, ENOMEM, or
 * ENOSPC (writing nothing) if more than `room` entries are present.
 */
// @ts-ignore: decorator
@inline export function storeDecode(start: usize, cap: u32, profile: u32, keys: usize, lens: usize, values: usize, room: u32): i32 {
  const used = usedBytes(start, cap, profile);
  if (used < 0) return used;
  const high = load<u64>(start), low = load<u64>(start, 8);
  let rest = high | low;
  if (<u32>popcnt<u64>(rest) > room) return ENOSPC;
  let at = start + HEADER;
  let n: u32 = 0;
  while (rest != 0) {
    const key = <u32>ctz<u64>(rest);
    rest &= rest - 1;
    const len = lengthOf(codeAt(high, low, key), profile);
    store<u8>(keys + n, <u8>key);
    store<u8>(lens + n, <u8>len);
    store<u64>(values + (n << 3), readValue(at, len));
    at += len;
    n++;
  }
  return <i32>n;
}
