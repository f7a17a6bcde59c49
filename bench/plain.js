// The benchmark's "js-plain" implementation: the naive pure-JS loop over a ring, the way one would write
// it without the library, as the C reference does (bench/c/traits-ref.c): typed-array views on the
// ring's memory, the header trusted (no check that it fits the store), no per-frame status. It does
// less than the library's JS twin (js-batch), and is the bar that twin is measured against.

/** Set bits of a u32. */
function popcount(x) {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** Bytes of the values of the keys below `key` (all keys for 64) in the header at i32[w .. w + 3]. */
function lengthBelow(i32, w, key) {
  const mLo = key >= 32 ? -1 : (1 << key) - 1,
    mHi = key >= 64 ? -1 : key > 32 ? (1 << (key - 32)) - 1 : 0;
  const hLo = i32[w] & mLo,
    hHi = i32[w + 1] & mHi,
    lLo = i32[w + 2] & mLo,
    lHi = i32[w + 3] & mHi;
  return (
    2 * (popcount(lLo) + popcount(lHi)) +
    4 * (popcount(hLo) + popcount(hHi)) +
    2 * popcount(hLo & lLo) +
    2 * popcount(hHi & lHi)
  );
}

/** Size code (0..3) of `key` in the header at i32[w .. w + 3]. */
function codeOf(i32, w, key) {
  const word = key >> 5,
    bit = key & 31;
  return (((i32[w + word] >>> bit) & 1) << 1) | ((i32[w + 2 + word] >>> bit) & 1);
}

const LENGTHS = [0, 2, 4, 8];

/** Plain get: the value of `key` of the store at byte `s` into out[2i], out[2i + 1]; returns 1, or 0 if absent. */
function get(u16, i32, s, key, out, i) {
  const w = s >> 2,
    len = LENGTHS[codeOf(i32, w, key)];
  if (len === 0) return 0;
  const at = (s + 16 + lengthBelow(i32, w, key)) >> 1;
  out[2 * i] = len === 2 ? u16[at] : (u16[at] | (u16[at + 1] << 16)) >>> 0;
  out[2 * i + 1] = len === 8 ? (u16[at + 2] | (u16[at + 3] << 16)) >>> 0 : 0;
  return 1;
}

/** Plain set of `key` to `len` bytes of (hi:lo) in the store at `s` ending at `end`; returns 1 or 0 (no room, other length). */
function set(u16, i32, s, end, key, len, lo, hi) {
  const w = s >> 2,
    code = len === 8 ? 3 : len === 4 ? 2 : 1,
    old = codeOf(i32, w, key);
  const at = (s + 16 + lengthBelow(i32, w, key)) >> 1;
  if (old !== 0) {
    if (old !== code) return 0;
  } else {
    const used = s + 16 + lengthBelow(i32, w, 64);
    if (used + len > end) return 0;
    for (let i = (used >> 1) - 1; i >= at; i--) u16[i + (len >> 1)] = u16[i];
    const word = key >> 5,
      bit = 1 << (key & 31);
    if (code & 2) i32[w + word] |= bit;
    if (code & 1) i32[w + 2 + word] |= bit;
  }
  u16[at] = lo;
  if (len >= 4) u16[at + 1] = lo >>> 16;
  if (len === 8) {
    u16[at + 2] = hi;
    u16[at + 3] = hi >>> 16;
  }
  return 1;
}

/** Plain delete of `key` from the store at `s`; returns 1, or 0 if absent. */
function del(u16, i32, s, key) {
  const w = s >> 2,
    len = LENGTHS[codeOf(i32, w, key)];
  if (len === 0) return 0;
  const at = (s + 16 + lengthBelow(i32, w, key)) >> 1,
    used = s + 16 + lengthBelow(i32, w, 64);
  for (let i = at, n = len >> 1, stop = (used >> 1) - n; i < stop; i++) u16[i] = u16[i + n];
  const word = key >> 5,
    bit = ~(1 << (key & 31));
  i32[w + word] &= bit;
  i32[w + 2 + word] &= bit;
  return 1;
}

/**
 * The plain loops over a ring's frames (`layout`: a PacketPool's layout(); the store at each frame start,
 * its capacity the frame's head). Each returns the operations that succeeded.
 */
export class PlainRing {
  constructor(layout) {
    this.layout = layout;
    this.values = new Uint32Array(2 * layout.count);
    this.keys = new Uint8Array(64 * 256);
    this.lens = new Uint8Array(64 * 256);
    this.decoded = new Uint32Array(2 * 64 * 256);
  }

  /** Gets `key` of every frame into values (u32 pairs, frame f at 2f). */
  get(key) {
    const { memory, base, frameSize, count } = this.layout,
      u16 = new Uint16Array(memory.buffer),
      i32 = new Int32Array(memory.buffer),
      out = this.values;
    let ok = 0;
    for (let f = 0, s = base; f < count; f++, s += frameSize) ok += get(u16, i32, s, key, out, f);
    return ok;
  }

  /** Sets `key` of every frame to `len` bytes of (hi:lo). */
  set(key, len, lo, hi) {
    const { memory, base, frameSize, count, heads } = this.layout,
      u16 = new Uint16Array(memory.buffer),
      i32 = new Int32Array(memory.buffer),
      head = heads >> 2;
    let ok = 0;
    for (let f = 0, s = base; f < count; f++, s += frameSize)
      ok += set(u16, i32, s, s + i32[head + f], key, len, lo, hi);
    return ok;
  }

  /** Inserts `key` (`len` bytes of lo) into every frame, then deletes it: two operations a frame. */
  insertDelete(key, len, lo) {
    const { memory, base, frameSize, count, heads } = this.layout,
      u16 = new Uint16Array(memory.buffer),
      i32 = new Int32Array(memory.buffer),
      head = heads >> 2;
    let ok = 0;
    for (let f = 0, s = base; f < count; f++, s += frameSize)
      ok += set(u16, i32, s, s + i32[head + f], key, len, lo, 0) + del(u16, i32, s, key);
    return ok;
  }

  /** Decodes frames first .. first + n - 1 into keys, lens, decoded (u32 pairs), starting over when fewer than 64 entries are left. Returns the entries. */
  decode(first = 0, n = this.layout.count) {
    const { memory, base, frameSize } = this.layout,
      u16 = new Uint16Array(memory.buffer),
      i32 = new Int32Array(memory.buffer),
      keys = this.keys,
      lens = this.lens,
      values = this.decoded;
    let e = 0,
      entries = 0;
    for (let i = 0, s = base + first * frameSize; i < n; i++, s += frameSize) {
      const w = s >> 2;
      if (keys.length - e < 64) e = 0;
      let at = (s + 16) >> 1;
      for (let word = 0; word < 2; word++) {
        const high = i32[w + word],
          low = i32[w + 2 + word];
        for (let rest = high | low; rest !== 0; rest &= rest - 1) {
          const bit = 31 - Math.clz32(rest & -rest),
            len = LENGTHS[(((high >>> bit) & 1) << 1) | ((low >>> bit) & 1)];
          keys[e] = 32 * word + bit;
          lens[e] = len;
          values[2 * e] = len === 2 ? u16[at] : (u16[at] | (u16[at + 1] << 16)) >>> 0;
          values[2 * e + 1] = len === 8 ? (u16[at + 2] | (u16[at + 3] << 16)) >>> 0 : 0;
          at += len >> 1;
          e++;
          entries++;
        }
      }
    }
    return entries;
  }

  /** Annotates every frame: clear, then keys 5 (id, 8 B), 6 (hash, 4 B), 7 (vlan, 2 B), 8 (timestamp, 8 B) from packet id `id`. */
  annotate(id, tsLo, tsHi) {
    const { memory, base, frameSize, count, heads } = this.layout,
      u16 = new Uint16Array(memory.buffer),
      i32 = new Int32Array(memory.buffer),
      head = heads >> 2;
    let ok = 0;
    for (let f = 0, s = base; f < count; f++, s += frameSize, id++) {
      const end = s + i32[head + f],
        w = s >> 2;
      if (end - s < 16) continue;
      i32[w] = i32[w + 1] = i32[w + 2] = i32[w + 3] = 0;
      ok +=
        set(u16, i32, s, end, 5, 8, id, 0) &
        set(u16, i32, s, end, 6, 4, Math.imul(id, 0x9e3779b1) >>> 0, 0) &
        set(u16, i32, s, end, 7, 2, id & 0xfff, 0) &
        set(u16, i32, s, end, 8, 8, tsLo, tsHi);
    }
    return ok;
  }
}
