/**
 * The JS twin's offset math and value access, on 32-bit halves of the header (no BigInt), and the
 * prepared field lists of setMany. Used by the loops of js-loops.ts; mirrors assembly/store.ts.
 */

// Inlined as literals by tsc: module-level consts cost a TDZ check on every use in V8's optimized code.
/** The store header's size: values start HEADER bytes after the store. */
export const enum Layout {
  HEADER = 16,
  /** The largest store a header can declare: 64 keys of 8 bytes. */
  MAX_STORE = 16 + 64 * 8,
}

// The offset math, on 32-bit halves of the header: h0/l0 hold keys 0..31 of `high`/`low`, h1/l1 keys
// 32..63. Sizes are SWAR popcounts of the masked words (small integers only: no table, no BigInt, no
// 64-bit arithmetic). A profile enters as its `unit`: half the bytes of a size code 01 value (1 in v1,
// whose code 01 is 2 bytes; 0 in flags, whose code 01 is a flag).

/** The `unit` of a profile (0 v1, 1 flags): half the bytes of its size code 01 values. */
export function unitOf(profile: number): number {
  return (profile ^ 1) & 1;
}

/**
 * Bytes the values of the keys in one header half (h: high bits, l: low bits) take: in 2-byte units,
 * a key of code 11 counts 4, 10 counts 2 and 01 `unit`, i.e. popcount(h & l) + popcount(unit ? l : h & l)
 * + 2 popcount(h), in one SWAR reduction: the first two add up per 4-bit lane (at most 8), then per
 * byte lane (16), the third per byte lane (8, doubled); a half (at most 128 units) adds up in one multiply.
 */
export function valueBytes(h: number, l: number, unit: number): number {
  const hl = h & l,
    x = unit !== 0 ? l : hl;
  let a = hl - ((hl >>> 1) & 0x55555555),
    b = x - ((x >>> 1) & 0x55555555),
    c = h - ((h >>> 1) & 0x55555555);
  a = (a & 0x33333333) + ((a >>> 2) & 0x33333333) + (b & 0x33333333) + ((b >>> 2) & 0x33333333);
  a = (a & 0x0f0f0f0f) + ((a >>> 4) & 0x0f0f0f0f);
  c = (c & 0x33333333) + ((c >>> 2) & 0x33333333);
  c = (c + (c >>> 4)) & 0x0f0f0f0f;
  return (Math.imul(a + 2 * c, 0x01010101) >>> 24) << 1;
}

/** Bytes taken by the values of keys below `key` (0..63): the offset of its value after the header. */
export function bytesBelow(h0: number, l0: number, h1: number, l1: number, key: number, unit: number): number {
  const m = ((1 << (key & 31)) - 1) | 0;
  return key < 32 ? valueBytes(h0 & m, l0 & m, unit) : valueBytes(h0, l0, unit) + valueBytes(h1 & m, l1 & m, unit);
}

/** The exact size of a store with this header: header and values. */
export function storeSize(h0: number, l0: number, h1: number, l1: number, unit: number): number {
  return Layout.HEADER + valueBytes(h0, l0, unit) + valueBytes(h1, l1, unit);
}

/** The exact size of the store whose header is at i32[w .. w + 3]. */
export function storeSizeAt(i32: Int32Array, w: number, unit: number): number {
  return storeSize(i32[w]!, i32[w + 2]!, i32[w + 1]!, i32[w + 3]!, unit);
}

/**
 * An upper bound of a store's size, 8 bytes a key: one popcount of two words, where the exact size
 * takes three; the exact size is needed only when a capacity is under it.
 */
export function sizeBound(h0: number, l0: number, h1: number, l1: number): number {
  let a = h0 | l0,
    b = h1 | l1;
  a -= (a >>> 1) & 0x55555555;
  b -= (b >>> 1) & 0x55555555;
  // Per 4-bit lane at most 8 (4 keys of each half), per byte lane 16: the lanes add up in one multiply.
  let x = (a & 0x33333333) + ((a >>> 2) & 0x33333333) + (b & 0x33333333) + ((b >>> 2) & 0x33333333);
  x = (x & 0x0f0f0f0f) + ((x >>> 4) & 0x0f0f0f0f);
  return Layout.HEADER + ((Math.imul(x, 0x01010101) >>> 24) << 3);
}

/** Size code (0 absent, 1..3) of `key` (0..63) in a header. */
export function codeAt(h0: number, l0: number, h1: number, l1: number, key: number): number {
  const bit = key & 31;
  return key < 32 ? (((h0 >>> bit) & 1) << 1) | ((l0 >>> bit) & 1) : (((h1 >>> bit) & 1) << 1) | ((l1 >>> bit) & 1);
}

/** Bytes of a value of size code `code` (0..3) in the profile of `unit` (0 for code 0), without a branch. */
export function lengthOf(code: number, unit: number): number {
  return (1 << code) & ~(((unit ^ 1) << 1) | 1);
}

/** Size code (1..3) of a value length in the profile of `unit`, or 0 if it has no such size. */
export function codeOf(len: number, unit: number): number {
  return len === 8 ? 3 : len === 4 ? 2 : len === unit << 1 ? 1 : 0;
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

/**
 * Reads the `len`-byte value at byte `at` into out[o] (lo) and out[o + 1] (hi) as two 4-byte loads
 * masked to the value, without a branch on its length: only where the 8 bytes at `at` are in the store.
 */
export function readValue8(dv: DataView, at: number, len: number, out: Int32Array, o: number): void {
  out[o] = dv.getInt32(at, true) & (-1 >>> (32 - (len << 3))) & -((len + 6) >>> 3);
  out[o + 1] = dv.getInt32(at + 4, true) & -(len >>> 3);
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

  prepare(unit: number): void {
    let h0 = 0,
      l0 = 0,
      h1 = 0,
      l1 = 0,
      bytes = 0,
      distinct = true;
    for (let j = 0; j < this.m; j++) {
      const key = this.keys[j]!,
        len = this.lens[j]!,
        code = codeOf(len, unit),
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
    for (let j = 0; j < this.m; j++) this.offsets[j] = Layout.HEADER + bytesBelow(h0, l0, h1, l1, this.keys[j]!, unit);
    Object.assign(this, { h0, l0, h1, l1, bytes, distinct });
  }
}
