/**
 * The JS twin's offset math and value access, on 32-bit halves of the header (no BigInt), and the
 * prepared field lists of setMany. Used by the loops of js-loops.ts; mirrors assembly/store.ts.
 */

// Inlined as literals by tsc: module-level consts cost a TDZ check on every use in V8's optimized code.
/** The store header's size: values start HEADER bytes after the store. */
export const enum Layout {
  HEADER = 16,
}

// The offset math, on 32-bit halves of the header: h0/l0 hold keys 0..31 of `high`/`low`, h1/l1 keys 32..63.
// A table per profile gives the value bytes of 8 keys from their high and low bits (one byte of each
// word): four lookups size a half, with no BigInt, no 64-bit arithmetic and no bit-by-bit popcount.

const tables: Uint8Array[] = [];

/**
 * The size table of a profile: entry (highByte << 8 | lowByte) is the bytes the values of those
 * 8 keys take. Entry 1 (key 0 alone, code 01) is the profile's small size.
 */
export function sizeTable(profile: number): Uint8Array {
  return tables[profile] ?? buildTable(profile);
}

function buildTable(profile: number): Uint8Array {
  const sizes = [0, smallSize(profile), 4, 8],
    t = (tables[profile] = new Uint8Array(65536));
  for (let x = 0; x < 65536; x++) {
    let bytes = 0;
    for (let b = 0; b < 8; b++) bytes += sizes[(((x >>> (8 + b)) & 1) << 1) | ((x >>> b) & 1)]!;
    t[x] = bytes;
  }
  return t;
}

/** Bytes the values of one header half (32 keys) take: four lookups of (high byte, low byte) pairs. */
export function halfSize(t: Uint8Array, h: number, l: number): number {
  const even = ((h & 0x00ff00ff) << 8) | (l & 0x00ff00ff),
    odd = (h & 0xff00ff00) | ((l >>> 8) & 0x00ff00ff);
  return t[even & 0xffff]! + t[even >>> 16]! + t[odd & 0xffff]! + t[odd >>> 16]!;
}

/**
 * Bytes taken by the values of keys below `key` (0..63), where `low` = halfSize(t, h0, l0): with it,
 * the one place of the offset math (a store's size is Layout.HEADER + low + halfSize(t, h1, l1)).
 */
export function sizeBelow(
  t: Uint8Array,
  h0: number,
  l0: number,
  h1: number,
  l1: number,
  low: number,
  key: number,
): number {
  const m = ((1 << (key & 31)) - 1) | 0,
    upper = key >= 32;
  return (upper ? low : 0) + halfSize(t, (upper ? h1 : h0) & m, (upper ? l1 : l0) & m);
}

/** The exact size of the store whose header is at i32[w .. w + 3]: header and values. */
export function storeSize(t: Uint8Array, i32: Int32Array, w: number): number {
  return Layout.HEADER + halfSize(t, i32[w]!, i32[w + 2]!) + halfSize(t, i32[w + 1]!, i32[w + 3]!);
}

/**
 * An upper bound of a store's size, 8 bytes a key: two popcounts, where the exact size takes eight
 * lookups; the exact size is needed only when a capacity is under it.
 */
export function sizeBound(h0: number, l0: number, h1: number, l1: number): number {
  return Layout.HEADER + ((popcount(h0 | l0) + popcount(h1 | l1)) << 3);
}

/** Number of set bits in a 32-bit integer (SWAR). */
export function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * True if a header's u64 words read as float64 (h, l) are those of the header (high, low) seen before:
 * equal doubles have equal bits, except +0/-0 (told apart here) and NaNs (never equal: a header with a
 * NaN pattern is never taken for another, only worked out again).
 */
export function sameHeader(h: number, l: number, high: number, low: number): boolean {
  return h === high && l === low && (h !== 0 || Object.is(h, high)) && (l !== 0 || Object.is(l, low));
}

/** Size code (0 absent, 1..3) of `key` (0..63) in a header. */
export function codeAt(h0: number, l0: number, h1: number, l1: number, key: number): number {
  const bit = key & 31;
  return key < 32 ? (((h0 >>> bit) & 1) << 1) | ((l0 >>> bit) & 1) : (((h1 >>> bit) & 1) << 1) | ((l1 >>> bit) & 1);
}

/** Bytes of a size code 01 value: 2 in v1, 0 (a flag) in flags. */
export function smallSize(profile: number): number {
  return (profile ^ 1) << 1;
}

/** Bytes of a value of size code `code` (1..3) in the profile of size table `t`. */
export function lengthOf(code: number, t: Uint8Array): number {
  return code === 3 ? 8 : code === 2 ? 4 : t[1]!;
}

/** Size code (1..3) of a value length in the profile of size table `t`, or 0 if it has no such size. */
export function codeOf(len: number, t: Uint8Array): number {
  return len === 8 ? 3 : len === 4 ? 2 : len === t[1]! ? 1 : 0;
}

/** True if (hi:lo) are the halves of a value that fits in `len` bytes (as u32 or i32). */
export function fits(len: number, lo: number, hi: number): boolean {
  return len === 8 || (hi === 0 && (len === 4 || (len === 2 ? lo >>> 0 <= 0xffff : lo === 0)));
}

/** Reads the `len`-byte value at byte `at` into out[o] (lo) and, if `wide`, out[o + 1] (hi). */
export function readValue(dv: DataView, at: number, len: number, out: Int32Array, o: number, wide: boolean): void {
  out[o] = len === 0 ? 0 : len === 2 ? dv.getUint16(at, true) : dv.getInt32(at, true);
  if (wide) out[o + 1] = len === 8 ? dv.getInt32(at + 4, true) : 0;
}

/** Writes the low `len` bytes of (hi:lo) at byte `at`. */
export function writeValue(dv: DataView, at: number, len: number, lo: number, hi: number): void {
  if (len === 2) dv.setUint16(at, lo, true);
  else if (len >= 4) {
    dv.setInt32(at, lo, true);
    if (len === 8) dv.setInt32(at + 4, hi, true);
  }
}

/** A field list of setMany, prepared once per call: keys, lengths, and (as prepareFields in assembly/store.ts) their masks and offsets. */
export class Fields {
  m = 0;
  readonly keys = new Uint8Array(64);
  readonly lens = new Uint8Array(64);
  readonly offsets = new Int32Array(64);
  /** The fields' size codes as header halves (h0/l0 keys 0..31, h1/l1 keys 32..63), total bytes, distinct keys. */
  h0 = 0;
  l0 = 0;
  h1 = 0;
  l1 = 0;
  bytes = 0;
  distinct = true;

  prepare(t: Uint8Array): void {
    let h0 = 0,
      l0 = 0,
      h1 = 0,
      l1 = 0,
      bytes = 0,
      distinct = true;
    for (let j = 0; j < this.m; j++) {
      const key = this.keys[j]!,
        len = this.lens[j]!,
        code = codeOf(len, t),
        bit = 1 << (key & 31);
      if (((key < 32 ? h0 | l0 : h1 | l1) & bit) !== 0) distinct = false;
      if (key < 32) {
        if (code & 2) h0 |= bit;
        if (code & 1) l0 |= bit;
      } else {
        if (code & 2) h1 |= bit;
        if (code & 1) l1 |= bit;
      }
      bytes += len;
    }
    const low = halfSize(t, h0, l0);
    for (let j = 0; j < this.m; j++) this.offsets[j] = Layout.HEADER + sizeBelow(t, h0, l0, h1, l1, low, this.keys[j]!);
    Object.assign(this, { h0, l0, h1, l1, bytes, distinct });
  }
}
