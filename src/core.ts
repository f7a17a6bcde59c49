/**
 * The codec contract both implementations fulfil, and the pure-JS twin of the
 * AssemblyScript core (assembly/index.ts), with the same semantics op for op.
 *
 * Addresses are byte offsets in one buffer; `profile` is 0 (v1) or 1 (flags);
 * 64-bit values travel as u32 halves (lo, hi). Callers (the store and pool
 * wrappers) guarantee integer arguments, an 8-byte aligned `start` and a store
 * inside the buffer; everything else, the header above all, is checked here.
 */
import { Errno } from "./errors.js";

const { EINVAL, ENOENT, EBUSY, ENOSPC, ENOMEM, EBADMSG } = Errno;
const HEADER = 16;

/** Which implementation runs the codec. */
export type Impl = "wasm" | "js";

/** A memory a core works on: a WebAssembly.Memory or anything else with a `buffer`. */
export interface BufferSource {
  readonly buffer: ArrayBufferLike;
}

/** The raw codec: every call returns a result >= 0 or a negative errno, and throws nothing. */
export interface Core {
  readonly impl: Impl;
  /** Zeroes the header. 0, or ENOMEM if cap < 16. */
  init(start: number, cap: number): number;
  /** Bytes in use, header included. ENOMEM, EBADMSG. */
  size(start: number, cap: number, profile: number): number;
  /** 1 if present, 0 if not. EINVAL (key >= 64), ENOMEM, EBADMSG. */
  has(start: number, cap: number, profile: number, key: number): number;
  /** Value to out[0] (lo) and out[1] (hi); returns its length. EINVAL, ENOMEM, EBADMSG, ENOENT, ENOSPC (len > outLen). */
  get(start: number, cap: number, profile: number, key: number, outLen: number, out: Uint32Array): number;
  /** Sets the low `len` bytes of (hi:lo). 0, or EINVAL, ENOMEM, EBADMSG, EBUSY, ENOSPC. */
  set(start: number, cap: number, profile: number, key: number, len: number, lo: number, hi: number): number;
  /** Removes a key. 0, or EINVAL, ENOMEM, EBADMSG, ENOENT. */
  del(start: number, cap: number, profile: number, key: number): number;
  /** Every present key in order: keys[i], lens[i], value in values[2i] (lo), values[2i+1] (hi). Returns the count; ENOMEM, EBADMSG. */
  decode(start: number, cap: number, profile: number, keys: Uint8Array, lens: Uint8Array, values: Uint32Array): number;
}

/** Number of set bits in a 32-bit integer (SWAR). */
function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Bytes taken by the keys selected by `mask` in one 32-bit half of the header: the one place of the offset math. */
function sizeOf(high: number, low: number, mask: number, small: number): number {
  return small * popcount(low & ~high & mask) + 4 * (popcount(high & mask) + popcount(high & low & mask));
}

/** Bytes of a size code 01 value: 2 in v1, 0 (a flag) in flags. */
function smallSize(profile: number): number {
  return (profile ^ 1) << 1;
}

/** Bytes of a value of size code `code` (1..3). */
function lengthOf(code: number, profile: number): number {
  return code === 3 ? 8 : code === 2 ? 4 : smallSize(profile);
}

/** Size code (1..3) of a value length, or 0 if the profile has no such size. */
function codeOf(len: number, profile: number): number {
  return len === 8 ? 3 : len === 4 ? 2 : len === smallSize(profile) ? 1 : 0;
}

/** The pure-JS core over any ArrayBuffer, SharedArrayBuffer or WebAssembly.Memory. */
export class JsCore implements Core {
  readonly impl = "js" as const;
  private u8: Uint8Array;
  private u16: Uint16Array;
  private i32: Int32Array;

  constructor(private readonly source: BufferSource) {
    this.u8 = this.u16 = this.i32 = undefined as never;
    this.refresh();
  }

  /** Recreates the views (after the memory grew; a detached view has length 0). */
  private refresh(): void {
    const buffer = this.source.buffer;
    this.u8 = new Uint8Array(buffer);
    this.u16 = new Uint16Array(buffer, 0, buffer.byteLength >>> 1);
    this.i32 = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
  }

  /** Bytes in use (header included), ENOMEM or EBADMSG; refreshes stale views first. */
  private used(start: number, cap: number, profile: number): number {
    if (cap < HEADER) return ENOMEM;
    if (start + cap > this.u8.length) this.refresh();
    const w = start >>> 2, i32 = this.i32, small = smallSize(profile);
    const used = HEADER + sizeOf(i32[w]!, i32[w + 2]!, -1, small) + sizeOf(i32[w + 1]!, i32[w + 3]!, -1, small);
    return used > cap ? EBADMSG : used;
  }

  /** Address of the value of `key` (its place if absent). */
  private at(start: number, profile: number, key: number): number {
    const w = start >>> 2, i32 = this.i32, small = smallSize(profile);
    const below = key < 32
      ? sizeOf(i32[w]!, i32[w + 2]!, (1 << key) - 1, small)
      : sizeOf(i32[w]!, i32[w + 2]!, -1, small) + sizeOf(i32[w + 1]!, i32[w + 3]!, (1 << (key - 32)) - 1, small);
    return start + HEADER + below;
  }

  /** Size code (0..3) of `key`. */
  private code(start: number, key: number): number {
    const w = (start >>> 2) + (key >>> 5), bit = key & 31;
    return (((this.i32[w]! >>> bit) & 1) << 1) | ((this.i32[w + 2]! >>> bit) & 1);
  }

  init(start: number, cap: number): number {
    if (cap < HEADER) return ENOMEM;
    if (start + cap > this.u8.length) this.refresh();
    const w = start >>> 2;
    this.i32.fill(0, w, w + 4);
    return 0;
  }

  size(start: number, cap: number, profile: number): number {
    return this.used(start, cap, profile);
  }

  has(start: number, cap: number, profile: number, key: number): number {
    if (key >= 64) return EINVAL;
    const used = this.used(start, cap, profile);
    return used < 0 ? used : this.code(start, key) === 0 ? 0 : 1;
  }

  get(start: number, cap: number, profile: number, key: number, outLen: number, out: Uint32Array): number {
    if (key >= 64) return EINVAL;
    const used = this.used(start, cap, profile);
    if (used < 0) return used;
    const code = this.code(start, key);
    if (code === 0) return ENOENT;
    const len = lengthOf(code, profile);
    if (len > outLen) return ENOSPC;
    const i = this.at(start, profile, key) >>> 1, u16 = this.u16;
    out[0] = len === 0 ? 0 : len === 2 ? u16[i]! : u16[i]! | (u16[i + 1]! << 16);
    out[1] = len === 8 ? u16[i + 2]! | (u16[i + 3]! << 16) : 0;
    return len;
  }

  set(start: number, cap: number, profile: number, key: number, len: number, lo: number, hi: number): number {
    const code = codeOf(len, profile);
    if (key >= 64 || code === 0) return EINVAL;
    const used = this.used(start, cap, profile);
    if (used < 0) return used;
    const at = this.at(start, profile, key), old = this.code(start, key);
    if (old !== 0) {
      if (old !== code) return EBUSY;
    } else {
      if (used + len > cap) return ENOSPC;
      const u16 = this.u16, shift = len >>> 1;
      for (let i = (start + used) >>> 1, end = at >>> 1; i > end; ) { i--; u16[i + shift] = u16[i]!; }
      const w = (start >>> 2) + (key >>> 5), bit = 1 << (key & 31);
      const i32 = this.i32;
      if (code & 2) i32[w] = i32[w]! | bit;
      if (code & 1) i32[w + 2] = i32[w + 2]! | bit;
    }
    const i = at >>> 1, u16 = this.u16;
    if (len >= 2) u16[i] = lo;
    if (len >= 4) u16[i + 1] = lo >>> 16;
    if (len === 8) { u16[i + 2] = hi; u16[i + 3] = hi >>> 16; }
    return 0;
  }

  del(start: number, cap: number, profile: number, key: number): number {
    if (key >= 64) return EINVAL;
    const used = this.used(start, cap, profile);
    if (used < 0) return used;
    const code = this.code(start, key);
    if (code === 0) return ENOENT;
    const shift = lengthOf(code, profile) >>> 1, u16 = this.u16;
    for (let i = this.at(start, profile, key) >>> 1, end = ((start + used) >>> 1) - shift; i < end; i++) u16[i] = u16[i + shift]!;
    const w = (start >>> 2) + (key >>> 5), clear = ~(1 << (key & 31));
    const i32 = this.i32;
    i32[w] = i32[w]! & clear;
    i32[w + 2] = i32[w + 2]! & clear;
    return 0;
  }

  decode(start: number, cap: number, profile: number, keys: Uint8Array, lens: Uint8Array, values: Uint32Array): number {
    const used = this.used(start, cap, profile);
    if (used < 0) return used;
    const u16 = this.u16;
    let i = (start + HEADER) >>> 1, n = 0;
    for (let key = 0; key < 64; key++) {
      const code = this.code(start, key);
      if (code === 0) continue;
      const len = lengthOf(code, profile);
      keys[n] = key;
      lens[n] = len;
      values[2 * n] = len === 0 ? 0 : len === 2 ? u16[i]! : u16[i]! | (u16[i + 1]! << 16);
      values[2 * n + 1] = len === 8 ? u16[i + 2]! | (u16[i + 3]! << 16) : 0;
      i += len >>> 1;
      n++;
    }
    return n;
  }
}
