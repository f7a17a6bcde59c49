// The benchmark's "js-plain" implementation: the best plain JS batch loop we could write without the
// library, as the C reference (bench/c/traits-ref.c) is the best straightforward C: one call per
// burst, typed-array views on the ring's memory kept between calls (Int32Array for the header words,
// which stay small integers; a DataView for the 2-byte-aligned values), u32 popcounts (one weighted
// SWAR popcount per header half), everything that depends only on the key worked out once per call,
// monomorphic loops without closures. It trusts the header (no check that it fits the store) and has
// no per-frame status: it does less than the library's JS twin (js-batch), and is the bar that twin
// is measured against. Decode reads each value as two masked 4-byte loads (the bytes it may read past
// a value are inside the frame), as the C does.

import { fillAnnotate } from "./burst-ops.js";

/**
 * Units of 2 bytes that the keys of one header half take: popcount(l) + popcount(h & l) + 2 popcount(h)
 * (01 = 2 bytes, 10 = 4, 11 = 8), in one SWAR reduction.
 */
function units(h, l) {
  const hl = h & l;
  let a = l - ((l >>> 1) & 0x55555555),
    b = hl - ((hl >>> 1) & 0x55555555),
    c = h - ((h >>> 1) & 0x55555555);
  a = (a & 0x33333333) + ((a >>> 2) & 0x33333333);
  b = (b & 0x33333333) + ((b >>> 2) & 0x33333333);
  c = (c & 0x33333333) + ((c >>> 2) & 0x33333333);
  a += b; // nibbles <= 8
  a = (a & 0x0f0f0f0f) + ((a >>> 4) & 0x0f0f0f0f); // bytes <= 16
  c = (c + (c >>> 4)) & 0x0f0f0f0f; // bytes <= 8
  return Math.imul(a + 2 * c, 0x01010101) >>> 24;
}

/** Bytes of values declared by the header at i32[w .. w + 3], header included. */
function used(i32, w) {
  return 16 + 2 * (units(i32[w], i32[w + 2]) + units(i32[w + 1], i32[w + 3]));
}

/** Moves the n (even) bytes at `src` up by `by`, highest 4-byte word first, every word loaded before its store. */
function moveUp(dv, src, n, by) {
  if (n >= 4) {
    const head = dv.getUint32(src, true);
    for (let i = n; i > 4; ) {
      i -= 4;
      dv.setUint32(src + i + by, dv.getUint32(src + i, true), true);
    }
    dv.setUint32(src + by, head, true);
  } else if (n !== 0) dv.setUint16(src + by, dv.getUint16(src, true), true);
}

/** Moves the n (even) bytes at `src` down by `by`, lowest 4-byte word first. */
function moveDown(dv, src, n, by) {
  if (n >= 4) {
    const tail = dv.getUint32(src + n - 4, true);
    for (let i = 0; i + 4 < n; i += 4) dv.setUint32(src + i - by, dv.getUint32(src + i, true), true);
    dv.setUint32(src + n - 4 - by, tail, true);
  } else if (n !== 0) dv.setUint16(src - by, dv.getUint16(src, true), true);
}

/** A key's constants: its header half, bit, the masks of the keys below it in each half, its size code for a length. */
class Key {
  constructor(key) {
    this.half = key >>> 5;
    this.shift = key & 31;
    this.bit = 1 << this.shift;
    const below = ~(-1 << this.shift);
    this.m0 = this.half ? -1 : below;
    this.m1 = this.half ? below : 0;
  }
}
const KEYS = Array.from({ length: 64 }, (_, k) => new Key(k));
const CODE = [0, 0, 1, 0, 2, 0, 0, 0, 3];

/**
 * Sets key `k` (a Key) to a value of size code `code` (lo, hi) in the store at `s` ending at `end`;
 * returns 1, or 0 (present with another size, or no room). The trait_set of the C reference.
 */
function set(i32, dv, s, end, k, code, lo, hi) {
  const w = s >> 2,
    hw = i32[w + k.half],
    lw = i32[w + 2 + k.half],
    old = (((hw >>> k.shift) & 1) << 1) | ((lw >>> k.shift) & 1);
  let at = units(i32[w] & k.m0, i32[w + 2] & k.m0);
  if (k.m1 !== 0) at += units(i32[w + 1] & k.m1, i32[w + 3] & k.m1);
  at = s + 16 + 2 * at;
  if (old !== code) {
    if (old !== 0) return 0;
    const len = 1 << code,
      top = s + used(i32, w);
    if (top + len > end) return 0;
    moveUp(dv, at, top - at, len);
    if (code & 2) i32[w + k.half] = hw | k.bit;
    if (code & 1) i32[w + 2 + k.half] = lw | k.bit;
  }
  if (code === 1) dv.setUint16(at, lo, true);
  else {
    dv.setUint32(at, lo, true);
    if (code === 3) dv.setUint32(at + 4, hi, true);
  }
  return 1;
}

/** Deletes key `k` (a Key) from the store at `s`; returns 1, or 0 if absent. */
function del(i32, dv, s, k) {
  const w = s >> 2,
    hw = i32[w + k.half],
    lw = i32[w + 2 + k.half],
    code = (((hw >>> k.shift) & 1) << 1) | ((lw >>> k.shift) & 1);
  if (code === 0) return 0;
  let at = units(i32[w] & k.m0, i32[w + 2] & k.m0);
  if (k.m1 !== 0) at += units(i32[w + 1] & k.m1, i32[w + 3] & k.m1);
  at = s + 16 + 2 * at;
  const len = 1 << code;
  moveDown(dv, at + len, s + used(i32, w) - at - len, len);
  i32[w + k.half] = hw & ~k.bit;
  i32[w + 2 + k.half] = lw & ~k.bit;
  return 1;
}

/**
 * The plain loops over a ring's frames (`layout`: a PacketPool's layout(); the store at each frame start,
 * its capacity the frame's head), one call per burst of frames first .. first + n - 1. Each returns the
 * operations that succeeded.
 */
export class PlainRing {
  constructor(layout, burstSize) {
    this.layout = layout;
    this.burstSize = burstSize;
    this.values = new Uint32Array(2 * layout.count);
    this.keys = new Uint8Array(64 * burstSize);
    this.lens = new Uint8Array(64 * burstSize);
    this.decoded = new Uint32Array(2 * 64 * burstSize);
    /** Annotate's value slots of a burst: 4 u64 (u32 pairs) a frame, filled by the caller. */
    this.slots = new Uint32Array(8 * burstSize);
    this.views();
  }

  // One pass over the ring, burst by burst (the interface of the C reference, bench/native.js).

  /** Gets `key` of every frame into values. */
  get(key) {
    let ok = 0;
    for (let first = 0, count = this.layout.count; first < count; first += this.burstSize)
      ok += this.getBurst(first, Math.min(this.burstSize, count - first), key);
    return ok;
  }

  /** Sets `key` of every frame to `len` bytes of (hi:lo). */
  set(key, len, lo, hi) {
    let ok = 0;
    for (let first = 0, count = this.layout.count; first < count; first += this.burstSize)
      ok += this.setBurst(first, Math.min(this.burstSize, count - first), key, len, lo, hi);
    return ok;
  }

  /** Inserts `key` into every frame and deletes it again. */
  insertDelete(key, len, lo) {
    let ok = 0;
    for (let first = 0, count = this.layout.count; first < count; first += this.burstSize)
      ok += this.insertDeleteBurst(first, Math.min(this.burstSize, count - first), key, len, lo);
    return ok;
  }

  /** Decodes every frame, burst by burst; returns the entries. */
  decodeAll() {
    let entries = 0;
    for (let first = 0, count = this.layout.count; first < count; first += this.burstSize)
      entries += this.decode(first, Math.min(this.burstSize, count - first));
    return entries;
  }

  /** Annotates every frame, burst by burst: the value slots filled from packet ids id.. (fillAnnotate), then the sets. */
  annotate(id) {
    let ok = 0;
    for (let first = 0, count = this.layout.count; first < count; first += this.burstSize) {
      const n = Math.min(this.burstSize, count - first);
      fillAnnotate(this.slots, n, id);
      id += n;
      ok += this.annotateBurst(first, n);
    }
    return ok;
  }

  /** (Re)makes the views on the memory (a memory.grow detaches them). */
  views() {
    const buffer = this.layout.memory.buffer;
    this.i32 = new Int32Array(buffer);
    this.dv = new DataView(buffer);
  }

  /** Gets `key` of frames first .. first + n - 1 into values (u32 pairs, frame f at 2f; 0 if absent). */
  getBurst(first, n, key) {
    if (this.i32.length === 0) this.views();
    const { base, frameSize } = this.layout,
      i32 = this.i32,
      dv = this.dv,
      out = this.values,
      k = KEYS[key],
      half = k.half,
      shift = k.shift,
      m0 = k.m0,
      m1 = k.m1;
    let ok = 0;
    for (let f = first, s = base + first * frameSize, end = first + n; f < end; f++, s += frameSize) {
      const w = s >> 2,
        code = (((i32[w + half] >>> shift) & 1) << 1) | ((i32[w + 2 + half] >>> shift) & 1);
      let lo = 0,
        hi = 0;
      if (code !== 0) {
        let at = units(i32[w] & m0, i32[w + 2] & m0);
        if (m1 !== 0) at += units(i32[w + 1] & m1, i32[w + 3] & m1);
        at = s + 16 + 2 * at;
        if (code === 1) lo = dv.getUint16(at, true);
        else {
          lo = dv.getUint32(at, true);
          if (code === 3) hi = dv.getUint32(at + 4, true);
        }
        ok++;
      }
      out[2 * f] = lo;
      out[2 * f + 1] = hi;
    }
    return ok;
  }

  /** Sets `key` of frames first .. first + n - 1 to `len` bytes of (hi:lo). */
  setBurst(first, n, key, len, lo, hi) {
    if (this.i32.length === 0) this.views();
    const { base, frameSize, heads } = this.layout,
      i32 = this.i32,
      dv = this.dv,
      k = KEYS[key],
      code = CODE[len];
    let ok = 0;
    for (let f = first, s = base + first * frameSize, end = first + n; f < end; f++, s += frameSize)
      ok += set(i32, dv, s, s + i32[(heads >> 2) + f], k, code, lo, hi);
    return ok;
  }

  /** Inserts `key` (`len` bytes of lo) into frames first .. first + n - 1, then deletes it, in one visit: two operations a frame. */
  insertDeleteBurst(first, n, key, len, lo) {
    if (this.i32.length === 0) this.views();
    const { base, frameSize, heads } = this.layout,
      i32 = this.i32,
      dv = this.dv,
      k = KEYS[key],
      code = CODE[len];
    let ok = 0;
    for (let f = first, s = base + first * frameSize, end = first + n; f < end; f++, s += frameSize)
      ok += set(i32, dv, s, s + i32[(heads >> 2) + f], k, code, lo, 0) + del(i32, dv, s, k);
    return ok;
  }

  /** Decodes frames first .. first + n - 1 into keys, lens, decoded (u32 pairs), starting over when fewer than 64 entries are left. Returns the entries. */
  decode(first, n) {
    if (this.i32.length === 0) this.views();
    const { base, frameSize } = this.layout,
      i32 = this.i32,
      dv = this.dv,
      keys = this.keys,
      lens = this.lens,
      values = this.decoded,
      room = keys.length;
    let e = 0,
      entries = 0;
    for (let i = 0, s = base + first * frameSize; i < n; i++, s += frameSize) {
      const w = s >> 2;
      if (room - e < 64) e = 0;
      const e0 = e;
      let at = s + 16;
      for (let half = 0; half < 2; half++) {
        const high = i32[w + half],
          low = i32[w + 2 + half];
        for (let rest = high | low; rest !== 0; rest &= rest - 1) {
          const shift = 31 - Math.clz32(rest & -rest),
            code = (((high >>> shift) & 1) << 1) | ((low >>> shift) & 1);
          keys[e] = 32 * half + shift;
          lens[e] = 1 << code;
          values[2 * e] = dv.getUint32(at, true) & ((-1 >>> ((16 >> (code - 1)) & 16)) | 0);
          values[2 * e + 1] = dv.getUint32(at + 4, true) & -((code >> 1) & code & 1);
          at += 1 << code;
          e++;
        }
      }
      entries += e - e0;
    }
    return entries;
  }

  /**
   * Annotates frames first .. first + n - 1 from the value slots (frame i's four u64 at slots[8i ..]):
   * clear, then keys 5 (8 B), 6 (4 B), 7 (2 B), 8 (8 B), as the C reference does per packet.
   */
  annotateBurst(first, n) {
    if (this.i32.length === 0) this.views();
    const { base, frameSize, heads } = this.layout,
      i32 = this.i32,
      dv = this.dv,
      v = this.slots,
      k5 = KEYS[5],
      k6 = KEYS[6],
      k7 = KEYS[7],
      k8 = KEYS[8];
    let ok = 0;
    for (let i = 0, f = first, s = base + first * frameSize; i < n; i++, f++, s += frameSize) {
      const end = s + i32[(heads >> 2) + f],
        w = s >> 2,
        x = 8 * i;
      if (end - s < 16) continue;
      i32[w] = i32[w + 1] = i32[w + 2] = i32[w + 3] = 0;
      ok +=
        set(i32, dv, s, end, k5, 3, v[x], v[x + 1]) &
        set(i32, dv, s, end, k6, 2, v[x + 2], 0) &
        set(i32, dv, s, end, k7, 1, v[x + 4], 0) &
        set(i32, dv, s, end, k8, 3, v[x + 6], v[x + 7]);
    }
    return ok;
  }
}
