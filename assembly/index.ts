// The traits codec: get/set/del over stores anywhere in linear memory.
//
// A store is `cap` bytes at `start` (8-byte aligned): a 16-byte header of two
// little-endian u64 words (`high` at +0, `low` at +8), then the values packed
// in ascending key order. Key k owns bit k of both words; (high, low) is its
// size code: 00 absent, 01 = S1 bytes (2 in profile v1, 0 = a flag in profile
// flags), 10 = 4 bytes, 11 = 8 bytes. `profile` is 0 (v1) or 1 (flags).
//
// Every function returns a negative Linux errno on failure and never touches a
// byte outside [start, start + cap), whatever the header holds.

const EINVAL: i32 = -22;
const ENOENT: i32 = -2;
const EBUSY: i32 = -16;
const ENOSPC: i32 = -28;
const ENOMEM: i32 = -12;
const EBADMSG: i32 = -74;

const HEADER: u32 = 16;
const KEYS: u32 = 64;

/** Bytes of a size code 01 value: 2 in v1, 0 (a flag) in flags. */
// @ts-ignore: decorator
@inline function smallSize(profile: u32): u32 {
  return (profile ^ 1) << 1;
}

/** Bytes taken by the keys selected by `mask`: the one place of the offset math. */
// @ts-ignore: decorator
@inline function sizeOf(high: u64, low: u64, mask: u64, profile: u32): u32 {
  const small = <u32>popcnt<u64>(low & ~high & mask);
  const wide = <u32>(popcnt<u64>(high & mask) + popcnt<u64>(high & low & mask));
  return small * smallSize(profile) + (wide << 2);
}

/** Bytes of a value of size code `code` (1..3). */
// @ts-ignore: decorator
@inline function lengthOf(code: u32, profile: u32): u32 {
  return code == 3 ? 8 : code == 2 ? 4 : smallSize(profile);
}

/** Size code (1..3) of a value length, or 0 if the profile has no such size. */
// @ts-ignore: decorator
@inline function codeOf(len: u32, profile: u32): u32 {
  if (len == 8) return 3;
  if (len == 4) return 2;
  return len == smallSize(profile) ? 1 : 0;
}

/** Total bytes the header declares (header included), or EBADMSG if over `cap`; ENOMEM if cap < 16. */
// @ts-ignore: decorator
@inline function usedBytes(start: usize, cap: u32, profile: u32): i32 {
  if (cap < HEADER) return ENOMEM;
  const used = HEADER + sizeOf(load<u64>(start), load<u64>(start, 8), <u64>-1, profile);
  return used > cap ? EBADMSG : <i32>used;
}

/** Moves `n` bytes (even) from `src` up to `src + by`, highest first. */
// @ts-ignore: decorator
@inline function moveUp(src: usize, n: u32, by: u32): void {
  let i = n;
  while (i >= 8) { i -= 8; store<u64>(src + i + by, load<u64>(src + i)); }
  while (i > 0) { i -= 2; store<u16>(src + i + by, load<u16>(src + i)); }
}

/** Moves `n` bytes (even) from `src` down to `src - by`, lowest first. */
// @ts-ignore: decorator
@inline function moveDown(src: usize, n: u32, by: u32): void {
  let i: u32 = 0;
  for (; i + 8 <= n; i += 8) store<u64>(src + i - by, load<u64>(src + i));
  for (; i < n; i += 2) store<u16>(src + i - by, load<u16>(src + i));
}

/** Writes the low `len` (0, 2, 4 or 8) bytes of (hi:lo) at `at`, little-endian. */
// @ts-ignore: decorator
@inline function writeValue(at: usize, len: u32, lo: u32, hi: u32): void {
  if (len == 8) { store<u32>(at, lo); store<u32>(at, hi, 4); }
  else if (len == 4) store<u32>(at, lo);
  else if (len == 2) store<u16>(at, <u16>lo);
}

/** Reads a `len`-byte (0, 2, 4 or 8) value at `at` as a zero-extended u64. */
// @ts-ignore: decorator
@inline function readValue(at: usize, len: u32): u64 {
  if (len == 8) return load<u64>(at);
  if (len == 4) return <u64>load<u32>(at);
  if (len == 2) return <u64>load<u16>(at);
  return 0;
}

/** Zeroes the header of a `cap`-byte store. Returns 0, or ENOMEM if cap < 16. */
export function init(start: usize, cap: u32): i32 {
  if (cap < HEADER) return ENOMEM;
  store<u64>(start, 0);
  store<u64>(start, 0, 8);
  return 0;
}

/** Bytes in use (header included). Errors: ENOMEM, EBADMSG. */
export function size(start: usize, cap: u32, profile: u32): i32 {
  return usedBytes(start, cap, profile);
}

/** 1 if `key` is present, else 0. Errors: EINVAL (key >= 64), ENOMEM, EBADMSG. */
export function has(start: usize, cap: u32, profile: u32, key: u32): i32 {
  if (key >= KEYS) return EINVAL;
  const used = usedBytes(start, cap, profile);
  if (used < 0) return used;
  return <i32>(((load<u64>(start) | load<u64>(start, 8)) >> key) & 1);
}

/**
 * Copies the value of `key` to `out` (room for `outLen` bytes).
 * Returns its length (0 for a flag). Errors: EINVAL (key >= 64),
 * ENOMEM, EBADMSG, ENOENT (absent), ENOSPC (value longer than outLen).
 */
export function get(start: usize, cap: u32, profile: u32, key: u32, out: usize, outLen: u32): i32 {
  if (key >= KEYS) return EINVAL;
  const used = usedBytes(start, cap, profile);
  if (used < 0) return used;
  const high = load<u64>(start), low = load<u64>(start, 8);
  const code = <u32>(((high >> key) & 1) << 1 | ((low >> key) & 1));
  if (code == 0) return ENOENT;
  const len = lengthOf(code, profile);
  if (len > outLen) return ENOSPC;
  const at = start + HEADER + sizeOf(high, low, (<u64>1 << key) - 1, profile);
  if (len == 8) store<u64>(out, load<u64>(at));
  else if (len == 4) store<u32>(out, load<u32>(at));
  else if (len == 2) store<u16>(out, load<u16>(at));
  return <i32>len;
}

/**
 * Sets `key` to the low `len` bytes of (hi:lo), little-endian; len 0 sets a flag.
 * Inserting moves the values above the key up; a present key of the same
 * length is overwritten in place. Returns 0. Errors: EINVAL (key >= 64, or len
 * not a size of the profile), ENOMEM, EBADMSG, EBUSY (present with another
 * length), ENOSPC (no room before start + cap).
 */
export function set(start: usize, cap: u32, profile: u32, key: u32, len: u32, lo: u32, hi: u32): i32 {
  const code = codeOf(len, profile);
  if (key >= KEYS || code == 0) return EINVAL;
  const used = usedBytes(start, cap, profile);
  if (used < 0) return used;
  let high = load<u64>(start), low = load<u64>(start, 8);
  const bit = <u64>1 << key;
  const at = start + HEADER + sizeOf(high, low, bit - 1, profile);
  const old = <u32>(((high >> key) & 1) << 1 | ((low >> key) & 1));
  if (old != 0) {
    if (old != code) return EBUSY;
    writeValue(at, len, lo, hi);
    return 0;
  }
  if (<u32>used + len > cap) return ENOSPC;
  moveUp(at, <u32>used - <u32>(at - start), len);
  writeValue(at, len, lo, hi);
  if (code & 2) store<u64>(start, high | bit);
  if (code & 1) store<u64>(start, low | bit, 8);
  return 0;
}

/**
 * Removes `key`, moving the values above it down. Returns 0. Errors: EINVAL
 * (key >= 64), ENOMEM, EBADMSG, ENOENT (absent).
 */
export function del(start: usize, cap: u32, profile: u32, key: u32): i32 {
  if (key >= KEYS) return EINVAL;
  const used = usedBytes(start, cap, profile);
  if (used < 0) return used;
  const high = load<u64>(start), low = load<u64>(start, 8);
  const bit = <u64>1 << key;
  const code = <u32>(((high >> key) & 1) << 1 | ((low >> key) & 1));
  if (code == 0) return ENOENT;
  const len = lengthOf(code, profile);
  const at = start + HEADER + sizeOf(high, low, bit - 1, profile);
  moveDown(at + len, <u32>used - <u32>(at - start) - len, len);
  store<u64>(start, high & ~bit);
  store<u64>(start, low & ~bit, 8);
  return 0;
}

/**
 * Writes every present key in ascending order: key i to the byte `keys + i`,
 * its length to `lens + i`, its value zero-extended to the u64 at
 * `values + 8 * i`. Returns the number of keys. Errors: ENOMEM, EBADMSG.
 */
export function decode(start: usize, cap: u32, profile: u32, keys: usize, lens: usize, values: usize): i32 {
  const used = usedBytes(start, cap, profile);
  if (used < 0) return used;
  const high = load<u64>(start), low = load<u64>(start, 8);
  let rest = high | low;
  let at = start + HEADER;
  let n: u32 = 0;
  while (rest != 0) {
    const key = <u32>ctz<u64>(rest);
    rest &= rest - 1;
    const len = lengthOf(<u32>(((high >> key) & 1) << 1 | ((low >> key) & 1)), profile);
    store<u8>(keys + n, <u8>key);
    store<u8>(lens + n, <u8>len);
    store<u64>(values + (n << 3), readValue(at, len));
    at += len;
    n++;
  }
  return <i32>n;
}
