/** Keys and values: validation and conversion shared by stores and pools. */
import { TraitsError } from "../core/errors.js";
import { PROFILE_SIZES, describe, type Profile } from "../core/options.js";

/** A key: an integer as a number (0..2^53-1) or a bigint (0..2^64-1). Keys 0..63 hold values. */
export type Key = number | bigint;

const U64_MAX = (1n << 64n) - 1n;
/** A u64 and its u32 halves (lo, hi on the little-endian hosts the cores assume): bigint values split without BigInt arithmetic. */
const u64 = new BigUint64Array(1),
  u64Halves = new Uint32Array(u64.buffer);

/** 2^(8 len) for len 0..8: the bound of a `len`-byte value, looked up (`2 ** (8 * len)` calls Math.pow at every use). */
const LIMITS = [1, 2 ** 8, 2 ** 16, 2 ** 24, 2 ** 32, 2 ** 40, 2 ** 48, 2 ** 56, 2 ** 64];
/** 2^(8 len): one more than the largest value of `len` bytes. */
function limitOf(len: number): number {
  return LIMITS[len] ?? 2 ** (8 * len);
}

/** The values `len` bytes hold, for error messages. */
function rangeOf(len: number): string {
  return len === 8 ? "0..2^64-1" : `0..${2 ** (8 * len) - 1}`;
}

/** Returns the key as 0..63, or -1 if it is not a valid key below 64. */
export function keyIndex(key: unknown): number {
  if (typeof key === "number") return key >>> 0 === key && key < 64 ? key : -1;
  if (typeof key === "bigint") return key >= 0n && key < 64n ? Number(key) : -1;
  return -1;
}

/** Returns the key as 0..63; throws EINVAL saying what is wrong with it. */
export function toKey(key: unknown): number {
  const index = keyIndex(key);
  if (index >= 0) return index;
  if (typeof key === "number") {
    if (!Number.isInteger(key) || key < 0) throw new TraitsError("EINVAL", `key ${key} is not an integer in 0..2^64-1`);
    if (!Number.isSafeInteger(key))
      throw new TraitsError("EINVAL", `key ${key} is above 2^53-1 and not exact as a number; pass it as a bigint`);
  } else if (typeof key === "bigint") {
    if (key < 0n || key > U64_MAX) throw new TraitsError("EINVAL", `key ${key}n is not in 0..2^64-1`);
  } else {
    throw new TraitsError("EINVAL", `a key must be a number or a bigint, not ${describe(key)}`);
  }
  throw new TraitsError("EINVAL", `key ${key} is outside the key-value space 0..63`);
}

/** The first key (0..62) of a 16-byte value kept in keys k and k + 1; throws EINVAL. */
export function wideKey(key: unknown): number {
  const k = toKey(key);
  if (k > 62) throw new TraitsError("EINVAL", `a 16-byte value needs keys ${k} and ${k + 1}; the last key is 63`);
  return k;
}

/** Checks that `len` is a value size of the profile; throws EINVAL otherwise. */
export function checkLength(len: unknown, profile: Profile): number {
  if (typeof len === "number" && PROFILE_SIZES[profile].includes(len)) return len;
  throw new TraitsError(
    "EINVAL",
    `length ${describe(len)} is not a size of profile ${profile} (${PROFILE_SIZES[profile].join(", ")})`,
  );
}

/** True if (hi:lo) are u32 halves of a value that fits in `len` bytes. */
export function fitsPair(len: number, lo: number, hi: number): boolean {
  if (lo >>> 0 !== lo || hi >>> 0 !== hi) return false;
  return len === 8 || (hi === 0 && (len === 4 || (len === 2 ? lo <= 0xffff : len === 0 && lo === 0)));
}

/**
 * Splits a value of `len` bytes into u32 halves written to pair[0] (lo) and pair[1] (hi).
 * Accepts a number, a bigint or a Uint8Array of exactly `len` bytes (little-endian);
 * throws EINVAL if the value is of another kind or does not fit.
 */
export function toPair(value: unknown, len: number, pair: Uint32Array): void {
  if (typeof value === "number") {
    if (Number.isSafeInteger(value) && value >= 0 && value < limitOf(len)) {
      pair[0] = value % 0x100000000;
      pair[1] = Math.floor(value / 0x100000000);
      return;
    }
    const why = len === 8 && Number.isInteger(value) && value > 0 ? "; pass values above 2^53-1 as a bigint" : "";
    throw new TraitsError(
      "EINVAL",
      `value ${value} does not fit in ${len} bytes (an integer in ${rangeOf(len)})${why}`,
    );
  }
  if (typeof value === "bigint") {
    // Split through a u64 view and checked as halves: no BigInt is created (each costs 15-30 ns).
    if (value >= 0n && value <= U64_MAX) {
      u64[0] = value;
      const lo = u64Halves[0]!,
        hi = u64Halves[1]!;
      if (len >= 8 || (hi === 0 && lo < limitOf(len))) {
        pair[0] = lo;
        pair[1] = hi;
        return;
      }
    }
    throw new TraitsError("EINVAL", `value ${value}n does not fit in ${len} bytes (${rangeOf(len)})`);
  }
  if (value instanceof Uint8Array) {
    if (value.length !== len)
      throw new TraitsError("EINVAL", `value has ${value.length} bytes but the length is ${len}`);
    let lo = 0,
      hi = 0;
    for (let i = 0; i < len; i++) {
      if (i < 4) lo |= value[i]! << (8 * i);
      else hi |= value[i]! << (8 * (i - 4));
    }
    pair[0] = lo;
    pair[1] = hi;
    return;
  }
  throw new TraitsError("EINVAL", `a value must be a number, a bigint or a Uint8Array, not ${describe(value)}`);
}
