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
  /** Sets keys[j] to lens[j] bytes of (values[2j+1]:values[2j]), all or nothing; 0 or the first error of the same sets one by one. Keys and lengths are checked by the caller. */
  setMany(start: number, cap: number, profile: number, keys: Uint8Array, lens: Uint8Array, m: number, values: Uint32Array): number;
  /** Every present key in order: keys[i], lens[i], value in values[2i] (lo), values[2i+1] (hi). Returns the count; ENOMEM, EBADMSG. */
  decode(start: number, cap: number, profile: number, keys: Uint8Array, lens: Uint8Array, values: Uint32Array): number;
  /** The batch loops of assembly/batch.ts over a pool control block at `pool`; every address is in this core's memory. */
  batchGet(pool: number, desc: number, first: number, n: number, key: number, values: number, stride: number, status: number): number;
  batchSet(pool: number, desc: number, first: number, n: number, key: number, len: number, values: number, stride: number, status: number): number;
  batchSetMany(pool: number, desc: number, first: number, n: number, keys: number, lens: number, m: number, values: number, stride: number, status: number): number;
  batchDel(pool: number, desc: number, first: number, n: number, key: number, status: number): number;
  batchHas(pool: number, desc: number, first: number, n: number, key: number, status: number): number;
  batchInit(pool: number, desc: number, first: number, n: number, status: number): number;
  batchGetWide(pool: number, desc: number, first: number, n: number, key: number, values: number, stride: number, status: number): number;
  batchDecode(pool: number, desc: number, first: number, n: number, keys: number, lens: number, values: number, room: number, status: number): number;
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

/** Bytes taken by the keys below `key` in a header given as 32-bit words (h0/l0: keys 0..31, h1/l1: keys 32..63). */
function sizeBelow(h0: number, l0: number, h1: number, l1: number, key: number, small: number): number {
  return key < 32
    ? sizeOf(h0, l0, (1 << key) - 1, small)
    : sizeOf(h0, l0, -1, small) + sizeOf(h1, l1, (1 << (key - 32)) - 1, small);
}

/** True if (hi:lo) are the halves of a value that fits in `len` bytes (hi, lo as u32 or i32). */
function fits(len: number, lo: number, hi: number): boolean {
  return len === 8 || (hi === 0 && (len === 4 || (len === 2 ? lo >>> 0 <= 0xffff : lo === 0)));
}

/** Frame index of the i-th selected frame (a descriptor, or first + i). */
const NO_FRAME = -1;

/**
 * The pure-JS core over any ArrayBuffer, SharedArrayBuffer or WebAssembly.Memory. Values are read
 * and written as u16 halves (they are only 2-byte aligned), header words as i32; no BigInt anywhere.
 */
export class JsCore implements Core {
  readonly impl = "js" as const;
  private u8: Uint8Array;
  private u16: Uint16Array;
  private i32: Int32Array;
  /** Capacity of the frame found by the last frameStart(). */
  private cap = 0;

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

  /** Refreshes the views if they do not reach `end`. */
  private reach(end: number): void {
    if (end > this.u8.length) this.refresh();
  }

  /** Bytes in use (header included), ENOMEM or EBADMSG. */
  private used(start: number, cap: number, profile: number): number {
    if (cap < HEADER) return ENOMEM;
    this.reach(start + cap);
    const w = start >>> 2, i32 = this.i32, small = smallSize(profile);
    const used = HEADER + sizeOf(i32[w]!, i32[w + 2]!, -1, small) + sizeOf(i32[w + 1]!, i32[w + 3]!, -1, small);
    return used > cap ? EBADMSG : used;
  }

  /** Address of the value of `key` (its place if absent). */
  private at(start: number, profile: number, key: number): number {
    const w = start >>> 2, i32 = this.i32;
    return start + HEADER + sizeBelow(i32[w]!, i32[w + 2]!, i32[w + 1]!, i32[w + 3]!, key, smallSize(profile));
  }

  /** Size code (0..3) of `key`. */
  private code(start: number, key: number): number {
    const w = (start >>> 2) + (key >>> 5), bit = key & 31;
    return (((this.i32[w]! >>> bit) & 1) << 1) | ((this.i32[w + 2]! >>> bit) & 1);
  }

  /** Reads the `len`-byte value at address `at` into out[i] (lo) and out[i + 1] (hi, if `wide`). */
  private read(at: number, len: number, out: Uint32Array | Int32Array, i: number, wide: boolean): void {
    const u16 = this.u16, h = at >>> 1;
    out[i] = len === 0 ? 0 : len === 2 ? u16[h]! : u16[h]! | (u16[h + 1]! << 16);
    if (wide) out[i + 1] = len === 8 ? u16[h + 2]! | (u16[h + 3]! << 16) : 0;
  }

  /** Writes the low `len` bytes of (hi:lo) at address `at`. */
  private write(at: number, len: number, lo: number, hi: number): void {
    const u16 = this.u16, h = at >>> 1;
    if (len >= 2) u16[h] = lo;
    if (len >= 4) u16[h + 1] = lo >>> 16;
    if (len === 8) { u16[h + 2] = hi; u16[h + 3] = hi >>> 16; }
  }

  init(start: number, cap: number): number {
    if (cap < HEADER) return ENOMEM;
    this.reach(start + cap);
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

  get(start: number, cap: number, profile: number, key: number, outLen: number, out: Uint32Array | Int32Array, i = 0): number {
    if (key >= 64) return EINVAL;
    const used = this.used(start, cap, profile);
    if (used < 0) return used;
    const code = this.code(start, key);
    if (code === 0) return ENOENT;
    const len = lengthOf(code, profile);
    if (len > outLen) return ENOSPC;
    this.read(this.at(start, profile, key), len, out, i, outLen >= 8);
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
      const w = (start >>> 2) + (key >>> 5), bit = 1 << (key & 31), i32 = this.i32;
      if (code & 2) i32[w] = i32[w]! | bit;
      if (code & 1) i32[w + 2] = i32[w + 2]! | bit;
    }
    this.write(at, len, lo, hi);
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
    const w = (start >>> 2) + (key >>> 5), clear = ~(1 << (key & 31)), i32 = this.i32;
    i32[w] = i32[w]! & clear;
    i32[w + 2] = i32[w + 2]! & clear;
    return 0;
  }

  setMany(start: number, cap: number, profile: number, keys: Uint8Array, lens: Uint8Array, m: number, values: Uint32Array | Int32Array, k = 0, l = 0, v = 0): number {
    if (m === 0) return 0;
    if (!fits(lens[l]!, values[v]!, values[v + 1]!)) return EINVAL;
    const used = this.used(start, cap, profile);
    if (used < 0) return used;
    const i32 = this.i32, w = start >>> 2, small = smallSize(profile);
    const h0 = i32[w]!, h1 = i32[w + 1]!, l0 = i32[w + 2]!, l1 = i32[w + 3]!;
    let n0 = h0, n1 = h1, m0 = l0, m1 = l1, added = 0, lowest = 64;
    for (let j = 0; j < m; j++) {
      const key = keys[k + j]!, len = lens[l + j]!, code = codeOf(len, profile);
      if (!fits(len, values[v + 2 * j]!, values[v + 2 * j + 1]!)) return EINVAL;
      const bit = 1 << (key & 31), high = key < 32 ? n0 : n1, low = key < 32 ? m0 : m1;
      const old = (high & bit ? 2 : 0) | (low & bit ? 1 : 0);
      if (old !== 0) {
        if (old !== code) return EBUSY;
        continue;
      }
      added += len;
      if (used + added > cap) return ENOSPC;
      if (key < 32) { if (code & 2) n0 |= bit; if (code & 1) m0 |= bit; }
      else { if (code & 2) n1 |= bit; if (code & 1) m1 |= bit; }
      if (key < lowest) lowest = key;
    }
    if (added > 0) {
      // Values above the lowest inserted key move up, highest first, each once.
      for (let key = 63; key > lowest; key--) {
        const code = this.code(start, key);
        if (code === 0) continue;
        const len = lengthOf(code, profile);
        const from = start + HEADER + sizeBelow(h0, l0, h1, l1, key, small);
        const to = start + HEADER + sizeBelow(n0, m0, n1, m1, key, small);
        const u16 = this.u16;
        for (let i = (len >>> 1) - 1; i >= 0; i--) u16[(to >>> 1) + i] = u16[(from >>> 1) + i]!;
      }
    }
    for (let j = 0; j < m; j++) {
      const key = keys[k + j]!;
      this.write(start + HEADER + sizeBelow(n0, m0, n1, m1, key, small), lens[l + j]!, values[v + 2 * j]!, values[v + 2 * j + 1]!);
    }
    i32[w] = n0; i32[w + 1] = n1; i32[w + 2] = m0; i32[w + 3] = m1;
    return 0;
  }

  decode(start: number, cap: number, profile: number, keys: Uint8Array, lens: Uint8Array, values: Uint32Array | Int32Array, k = 0, l = 0, v = 0, room = 64): number {
    const used = this.used(start, cap, profile);
    if (used < 0) return used;
    const i32 = this.i32, w = start >>> 2;
    const present = [i32[w]! | i32[w + 2]!, i32[w + 1]! | i32[w + 3]!];
    if (popcount(present[0]!) + popcount(present[1]!) > room) return ENOSPC;
    let at = start + HEADER, n = 0;
    for (let half = 0; half < 2; half++) {
      for (let rest = present[half]!; rest !== 0; rest &= rest - 1) {
        const key = 32 * half + 31 - Math.clz32(rest & -rest), len = lengthOf(this.code(start, key), profile);
        keys[k + n] = key;
        lens[l + n] = len;
        this.read(at, len, values, v + 2 * n, true);
        at += len;
        n++;
      }
    }
    return n;
  }

  /** Store address of the i-th selected frame of a pool, or NO_FRAME; its capacity goes to this.cap. */
  private frameStart(pool: number, desc: number, first: number, i: number): number {
    const i32 = this.i32, p = pool >>> 2;
    const frame = desc !== 0 ? i32[(desc >>> 2) + i]! >>> 0 : first + i;
    if (frame >= i32[p + 2]! >>> 0) return NO_FRAME;
    this.cap = i32[(i32[p + 3]! >>> 2) + frame]! >>> 0;
    return (i32[p]! >>> 0) + frame * (i32[p + 1]! >>> 0);
  }

  batchGet(pool: number, desc: number, first: number, n: number, key: number, values: number, stride: number, status: number): number {
    this.reach(values + n * stride);
    const i32 = this.i32, profile = i32[(pool >>> 2) + 4]!, s = status >>> 2;
    let ok = 0;
    for (let i = 0; i < n; i++) {
      const start = this.frameStart(pool, desc, first, i);
      const rc = start === NO_FRAME ? EINVAL : this.get(start, this.cap, profile, key, stride, i32, (values + i * stride) >>> 2);
      i32[s + i] = rc;
      if (rc >= 0) ok++;
    }
    return ok;
  }

  batchSet(pool: number, desc: number, first: number, n: number, key: number, len: number, values: number, stride: number, status: number): number {
    const i32 = this.i32, profile = i32[(pool >>> 2) + 4]!, s = status >>> 2;
    let ok = 0;
    for (let i = 0; i < n; i++) {
      const start = this.frameStart(pool, desc, first, i);
      const v = (values + i * stride) >>> 2, lo = i32[v]!, hi = i32[v + 1]!;
      const rc = start === NO_FRAME || !fits(len, lo, hi) ? EINVAL : this.set(start, this.cap, profile, key, len, lo, hi);
      i32[s + i] = rc;
      if (rc === 0) ok++;
    }
    return ok;
  }

  batchSetMany(pool: number, desc: number, first: number, n: number, keys: number, lens: number, m: number, values: number, stride: number, status: number): number {
    const i32 = this.i32, profile = i32[(pool >>> 2) + 4]!, s = status >>> 2;
    let ok = 0;
    for (let i = 0; i < n; i++) {
      const start = this.frameStart(pool, desc, first, i);
      const rc = start === NO_FRAME ? EINVAL : this.setMany(start, this.cap, profile, this.u8, this.u8, m, i32, keys, lens, (values + i * stride) >>> 2);
      i32[s + i] = rc;
      if (rc === 0) ok++;
    }
    return ok;
  }

  batchDel(pool: number, desc: number, first: number, n: number, key: number, status: number): number {
    const i32 = this.i32, profile = i32[(pool >>> 2) + 4]!, s = status >>> 2;
    let ok = 0;
    for (let i = 0; i < n; i++) {
      const start = this.frameStart(pool, desc, first, i);
      const rc = start === NO_FRAME ? EINVAL : this.del(start, this.cap, profile, key);
      i32[s + i] = rc;
      if (rc === 0) ok++;
    }
    return ok;
  }

  batchHas(pool: number, desc: number, first: number, n: number, key: number, status: number): number {
    const i32 = this.i32, profile = i32[(pool >>> 2) + 4]!, s = status >>> 2;
    let ok = 0;
    for (let i = 0; i < n; i++) {
      const start = this.frameStart(pool, desc, first, i);
      const rc = start === NO_FRAME ? EINVAL : this.has(start, this.cap, profile, key);
      i32[s + i] = rc;
      if (rc === 1) ok++;
    }
    return ok;
  }

  batchInit(pool: number, desc: number, first: number, n: number, status: number): number {
    const i32 = this.i32, s = status >>> 2;
    let ok = 0;
    for (let i = 0; i < n; i++) {
      const start = this.frameStart(pool, desc, first, i);
      const rc = start === NO_FRAME ? EINVAL : this.init(start, this.cap);
      i32[s + i] = rc;
      if (rc === 0) ok++;
    }
    return ok;
  }

  batchGetWide(pool: number, desc: number, first: number, n: number, key: number, values: number, stride: number, status: number): number {
    const i32 = this.i32, profile = i32[(pool >>> 2) + 4]!, s = status >>> 2;
    let ok = 0;
    for (let i = 0; i < n; i++) {
      const start = this.frameStart(pool, desc, first, i);
      let rc: number = EINVAL;
      if (start !== NO_FRAME) {
        const v = (values + i * stride) >>> 2;
        const a = this.get(start, this.cap, profile, key, 8, i32, v);
        const b = this.get(start, this.cap, profile, key + 1, 8, i32, v + 2);
        rc = a === 8 && b === 8 ? 16 : a === ENOENT && b === ENOENT ? ENOENT : a < 0 && a !== ENOENT ? a : EBADMSG;
      }
      i32[s + i] = rc;
      if (rc === 16) ok++;
    }
    return ok;
  }

  batchDecode(pool: number, desc: number, first: number, n: number, keys: number, lens: number, values: number, room: number, status: number): number {
    const i32 = this.i32, profile = i32[(pool >>> 2) + 4]!, s = status >>> 2;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const start = this.frameStart(pool, desc, first, i);
      const rc = start === NO_FRAME ? EINVAL : this.decode(start, this.cap, profile, this.u8, this.u8, i32, keys + total, lens + total, (values >>> 2) + 2 * total, room - total);
      i32[s + i] = rc;
      if (rc > 0) total += rc;
    }
    return total;
  }
}
