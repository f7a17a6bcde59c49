// Batch loops: one call for many frames of a packet pool.
//
// A pool is described by a control block at `pool` (base, frameSize, count, heads,
// profile, metas: layout in abi.ts). Frame f's store is the metas[f] bytes that end at its
// head: at base + f * frameSize + heads[f] - metas[f] (the classic placement's metas are its
// heads: the store at the frame start, its capacity the head).
// Frames are `first .. first + n - 1` when `desc` is 0, else the u32 frame
// indices at desc[0 .. n-1] (an rx ring). A descriptor >= count gets EINVAL.
// Each frame's result (a length, 0/1, 0 or a negative errno) goes to the i32 at
// status + 4i; values of frame i are at values + i * stride. Each function
// returns how many frames succeeded. Each reads the control block once, into
// locals (stores to the outputs could otherwise alias it and force reloads).
//
// The common burst, a range of frames all in the pool with their stores at the frame starts
// (placement "frame") and a valid key, takes a fast path: frames walked by address (no descriptor,
// no index check, no multiply per frame), the key's bit computed once, each frame worked out on its
// own under the cheap bound of frames.ts; a burst of one flow takes the run paths of runs.ts.
// Results and bytes written are those of the general loop.
import { EBADMSG, EBUSY, EINVAL, ENOENT, ENOSPC, FIELDS_DISTINCT, FIELDS_HIGH, FIELDS_LENS, FIELDS_LOW, FIELDS_M, FIELDS_OFFSETS, FIELDS_VALUE_BYTES, POOL_BASE, POOL_COUNT, POOL_FRAME_SIZE, POOL_HEADS, POOL_METAS, POOL_PROFILE } from "./abi";
import { HEADER, KEYS, codeOf, sizeWith, fits, moveDown, moveUp, prepareFields, storeDecode, storeDel, storeGet, storeHas, storeInit, storeSet, storeSetMany, writeValue, writeWord } from "./store";
import { frameAt, storeStart, storeCap, fitsBound, boundKeys, overBound, roomAt, failures, inRange } from "./frames";
import { oneFlow, getRun, setRun, delRun, decodeRun } from "./runs";

/**
 * Gets `key` of every frame into u32 (stride 4) or u64 (stride >= 8) slots; status = length or errno.
 * The fast path (a range of frames in the pool, placement "frame", a valid key, u64 slots) works on
 * each frame on its own, without branches on its header where the cheap bound says it fits
 * (fitsBound); the frames it does not cover go through getFrames, one at a time.
 */
export function batchGet(pool: usize, desc: usize, first: u32, n: u32, key: u32, values: usize, stride: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  if (!(key < KEYS && heads == metas && stride >= 8 && inRange(desc, first, n, count))) return getFrames(pool, desc, first, n, key, values, stride, status);
  // One copy of the fast loop per profile, so that the size of a code 01 value is a constant in each.
  const caps = metas + (<usize>first << 2);
  if (oneFlow(base + <usize>first * size, size, caps, n)) return getRun(base + <usize>first * size, size, caps, n, profile, <u64>1 << key, values, stride, status);
  return profile == 0
    ? getRange<V1>(pool, base, size, caps, first, n, key, values, stride, status)
    : getRange<Flags>(pool, base, size, caps, first, n, key, values, stride, status);
}

// The profiles as types, so that each fast loop is compiled once per profile with the size of a code
// 01 value as a constant (a constant argument would not do: Binaryen folds two copies of a loop that
// differ in one local back into one).
/** Profile v1: a code 01 value is 2 bytes (a u16). */
type V1 = u16;
/** Profile flags: a code 01 value is a flag, 0 bytes (marked by a u8, which has no 0-byte type). */
type Flags = u8;
/** Bytes of a code 01 value in profile P (V1 or Flags): a compile-time constant. */
// @ts-ignore: decorator
@inline function smallOf<P>(): u32 {
  return sizeof<P>() == 2 ? 2 : 0;
}

/** Bytes of a value of size code `code` (1..3) when a code 01 value is `small` bytes: small, 4, 8. */
// @ts-ignore: decorator
@inline function lengthIn(code: u32, small: u32): u32 {
  return (<u32>1 << code) & (small != 0 ? ~0 : ~2);
}

/**
 * batchGet's fast path: frames first .. first + n - 1 (frame first + i at base + (first + i) * size,
 * its capacity at caps + 4i), in profile P.
 * A frame whose store the cheap bound (fitsBound) covers is worked out on its own, in a loop without
 * calls (a call in the loop would make V8 keep its values on the stack); any other goes through
 * getFrames, then the loop goes on.
 */
// @ts-ignore: decorator
@inline function getRange<P>(pool: usize, base: usize, size: usize, caps: usize, first: u32, n: u32, key: u32, values: usize, stride: u32, status: usize): i32 {
  const bit = <u64>1 << key, below = bit - 1, end = status + (<usize>n << 2);
  // Frame i's capacity is at caps + 4i = its status + toCap: one pointer walks both.
  const keys = boundKeys(caps, n), toCap = caps - status;
  let i: u32 = 0;
  while (i < n) {
    let frame = base + <usize>(first + i) * size, st = status + (<usize>i << 2), slot = values + <usize>i * stride;
    // Two frames an iteration: half the loop's compares and V8's stack checks (one per iteration).
    while (st < end) {
      let high = load<u64>(frame), low = load<u64>(frame, 8);
      if (overBound(high, low, keys)) {
        if (!fitsBound(high, low, load<u32>(st + toCap))) break;
      }
      store<i32>(st, getValue<P>(frame, high, low, bit, below, slot));
      frame += size;
      st += 4;
      slot += stride;
      if (st >= end) break;
      high = load<u64>(frame);
      low = load<u64>(frame, 8);
      if (overBound(high, low, keys)) {
        if (!fitsBound(high, low, load<u32>(st + toCap))) break;
      }
      store<i32>(st, getValue<P>(frame, high, low, bit, below, slot));
      frame += size;
      st += 4;
      slot += stride;
    }
    i = <u32>((st - status) >> 2);
    if (i < n) {
      // The key's bit is used here too, so that V8 computes it once, before the loops, not in them.
      getFrames(pool, 0, first + i, 1, <u32>ctz(bit), slot, stride, st);
      i++;
    }
  }
  return <i32>(n - failures(status, n));
}

/**
 * getRange's step for the frame at `frame`, whose header (high, low) the cheap bound covers: the
 * key's value (bit `bit`, the keys below it `below`) to the u64 slot at `slot`. Returns the status.
 */
// @ts-ignore: decorator
@inline function getValue<P>(frame: usize, high: u64, low: u64, bit: u64, below: u64, slot: usize): i32 {
  const small = smallOf<P>();
  if (((high | low) & bit) == 0) return ENOENT;
  const at = frame + HEADER + sizeWith(high, low, below, small);
  if (high & bit) {
    if (low & bit) {
      store<u64>(slot, load<u64>(at));
      return 8;
    }
    store<u64>(slot, <u64>load<u32>(at));
    return 4;
  }
  store<u64>(slot, small != 0 ? <u64>load<u16>(at) : 0);
  return <i32>small;
}

/** batchGet's general loop: any selection, frame by frame through storeGet. */
function getFrames(pool: usize, desc: usize, first: u32, n: u32, key: u32, values: usize, stride: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  let ok = 0;
  for (let i: u32 = 0; i < n; i++) {
    const frame = frameAt(desc, first, i);
    const rc = frame >= count ? EINVAL : storeGet(storeStart(base, size, heads, metas, frame), storeCap(metas, frame), profile, key, values + i * stride, stride);
    store<i32>(status + (i << 2), rc);
    ok += i32(rc >= 0);
  }
  return ok;
}

/**
 * Sets `key` on every frame to `len` bytes of the u64 slot at values + i * stride (stride 0: one value
 * for all). The fast path (a range of frames in the pool, placement "frame", a valid key and length)
 * works as batchGet's.
 */
export function batchSet(pool: usize, desc: usize, first: u32, n: u32, key: u32, len: u32, values: usize, stride: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  const code = codeOf(len, profile);
  if (!(key < KEYS && code != 0 && heads == metas && inRange(desc, first, n, count))) return setFrames(pool, desc, first, n, key, len, values, stride, status);
  const caps = metas + (<usize>first << 2);
  if (oneFlow(base + <usize>first * size, size, caps, n)) return setRun(base + <usize>first * size, size, caps, n, profile, <u64>1 << key, code, len, values, stride, status);
  return profile == 0
    ? setRange<V1>(pool, base, size, caps, first, n, key, code, len, values, stride, status)
    : setRange<Flags>(pool, base, size, caps, first, n, key, code, len, values, stride, status);
}

/**
 * batchSet's fast path (frames as getRange's), in profile P: `code` is the size code of `len`. A frame
 * whose store the cheap bound covers, with a value that fits `len`, is set on its own, in a loop
 * without calls; any other goes through setFrames, then the loop goes on. With one value for all
 * frames (stride 0) it is read and checked once, before the loop.
 */
// @ts-ignore: decorator
@inline function setRange<P>(pool: usize, base: usize, size: usize, caps: usize, first: u32, n: u32, key: u32, code: u32, len: u32, values: usize, stride: u32, status: usize): i32 {
  // A value fits `len` bytes if it has no bit in `reject`.
  const reject = len >= 8 ? 0 : <u64>-1 << (<u64>len << 3);
  if (stride != 0) return setEach<P>(pool, base, size, caps, first, n, key, code, len, reject, values, stride, status);
  // One value that does not fit: every frame gets setFrames' EINVAL.
  const v = load<u64>(values);
  if (v & reject) return setFrames(pool, 0, first, n, key, len, values, 0, status);
  const small = smallOf<P>(), bit = <u64>1 << key, below = bit - 1, end = status + (<usize>n << 2);
  const keys = boundKeys(caps, n), toCap = caps - status;
  const highBit = code & 2 ? bit : 0, lowBit = code & 1 ? bit : 0;
  let i: u32 = 0;
  while (i < n) {
    let frame = base + <usize>(first + i) * size, st = status + (<usize>i << 2);
    // Two frames an iteration: half the loop's compares and V8's stack checks (one per iteration).
    while (st < end) {
      let high = load<u64>(frame), low = load<u64>(frame, 8);
      if (overBound(high, low, keys)) {
        if (!fitsBound(high, low, load<u32>(st + toCap))) break;
      }
      store<i32>(st, setValue(frame, high, low, bit, below, highBit, lowBit, small, len, v, keys, st + toCap));
      frame += size;
      st += 4;
      if (st >= end) break;
      high = load<u64>(frame);
      low = load<u64>(frame, 8);
      if (overBound(high, low, keys)) {
        if (!fitsBound(high, low, load<u32>(st + toCap))) break;
      }
      store<i32>(st, setValue(frame, high, low, bit, below, highBit, lowBit, small, len, v, keys, st + toCap));
      frame += size;
      st += 4;
    }
    i = <u32>((st - status) >> 2);
    if (i < n) {
      // The key's bit is used here too, so that V8 computes it once, before the loops, not in them.
      setFrames(pool, 0, first + i, 1, <u32>ctz(bit), len, values, 0, st);
      i++;
    }
  }
  return <i32>(n - failures(status, n));
}

/** setRange's loop for a value per frame (the u64 slot at values + i * stride, checked against `reject`). */
function setEach<P>(pool: usize, base: usize, size: usize, caps: usize, first: u32, n: u32, key: u32, code: u32, len: u32, reject: u64, values: usize, stride: u32, status: usize): i32 {
  const small = smallOf<P>(), bit = <u64>1 << key, below = bit - 1, end = status + (<usize>n << 2);
  const keys = boundKeys(caps, n), toCap = caps - status;
  const highBit = code & 2 ? bit : 0, lowBit = code & 1 ? bit : 0;
  let i: u32 = 0;
  while (i < n) {
    let frame = base + <usize>(first + i) * size, st = status + (<usize>i << 2), slot = values + <usize>i * stride;
    while (st < end) {
      const v = load<u64>(slot);
      if (v & reject) break;
      const high = load<u64>(frame), low = load<u64>(frame, 8);
      if (overBound(high, low, keys)) {
        if (!fitsBound(high, low, load<u32>(st + toCap))) break;
      }
      store<i32>(st, setValue(frame, high, low, bit, below, highBit, lowBit, small, len, v, keys, st + toCap));
      frame += size;
      st += 4;
      slot += stride;
    }
    i = <u32>((st - status) >> 2);
    if (i < n) {
      // The key's bit is used here too, so that V8 computes it once, before the loops, not in them.
      setFrames(pool, 0, first + i, 1, <u32>ctz(bit), len, slot, stride, st);
      i++;
    }
  }
  return <i32>(n - failures(status, n));
}

/**
 * A fast set loop's step for the frame at `frame`, whose header (high, low) the cheap bound covers:
 * sets the key (bit `bit`, the keys below it `below`; its header bits with the value's size code
 * highBit, lowBit) to the `len` bytes of v, inserting it if absent and its store (capacity at `cap`,
 * keys: boundKeys) has room. Returns the status (0, ENOSPC, EBUSY for the key with another size).
 */
// @ts-ignore: decorator
@inline function setValue(frame: usize, high: u64, low: u64, bit: u64, below: u64, highBit: u64, lowBit: u64, small: u32, len: u32, v: u64, keys: i32, cap: usize): i32 {
  const at = frame + HEADER + sizeWith(high, low, below, small);
  if ((((high & bit) ^ highBit) | ((low & bit) ^ lowBit)) == 0) {
    writeWord(at, len, v);
    return 0;
  }
  if ((high | low) & bit) return EBUSY;
  const used = HEADER + sizeWith(high, low, <u64>-1, small);
  if (!roomAt(used + len, keys, cap)) return ENOSPC;
  moveUp(at, used - <u32>(at - frame), len);
  writeWord(at, len, v);
  store<u64>(frame, high | highBit);
  store<u64>(frame, low | lowBit, 8);
  return 0;
}

/** batchSet's general loop: any selection, frame by frame through storeSet. */
function setFrames(pool: usize, desc: usize, first: u32, n: u32, key: u32, len: u32, values: usize, stride: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  let lo = load<u32>(values), hi = load<u32>(values, 4);
  let ok = 0;
  for (let i: u32 = 0; i < n; i++) {
    const frame = frameAt(desc, first, i);
    if (stride != 0) {
      const at = values + i * stride;
      lo = load<u32>(at);
      hi = load<u32>(at, 4);
    }
    let rc = EINVAL;
    if (frame < count && fits(len, lo, hi)) {
      rc = storeSet(storeStart(base, size, heads, metas, frame), storeCap(metas, frame), profile, key, len, lo, hi);
    }
    store<i32>(status + (i << 2), rc);
    ok += i32(rc == 0);
  }
  return ok;
}

/**
 * Sets the m keys of a field list on every frame, all or nothing per frame (see
 * setMany); frame i's m u64 slots start at values + i * stride (stride 0: the
 * same values for all); with `replace` (1), each store is emptied first. The fast
 * path (replace, distinct keys, a range of frames in the pool, placement "frame")
 * writes each frame's values at the offsets prepareFields worked out, then its header.
 */
export function batchSetMany(pool: usize, desc: usize, first: u32, n: u32, fields: usize, values: usize, stride: u32, replace: u32, status: usize): i32 {
  const size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  prepareFields(fields, profile);
  if (!(replace != 0 && load<u32>(fields, FIELDS_DISTINCT) != 0 && heads == metas && inRange(desc, first, n, count))) return setManyFrames(pool, desc, first, n, fields, values, stride, replace, status);
  const caps = metas + (<usize>first << 2), end = caps + (<usize>n << 2), m = load<u32>(fields, FIELDS_M);
  const need = HEADER + load<u32>(fields, FIELDS_VALUE_BYTES), high = load<u64>(fields, FIELDS_HIGH), low = load<u64>(fields, FIELDS_LOW);
  let failed: u32 = 0, i: u32 = 0;
  while (i < n) {
    let frame = <usize>load<u32>(pool, POOL_BASE) + <usize>(first + i) * size, cap = caps + (<usize>i << 2), st = status + (<usize>i << 2), slot = values + <usize>i * stride;
    while (cap < end) {
      if (load<u32>(cap) < need) break;
      let fit = true;
      for (let j: u32 = 0; j < m; j++) fit &= fits(<u32>load<u8>(fields + FIELDS_LENS + j), load<u32>(slot + (j << 3)), load<u32>(slot + (j << 3), 4));
      if (!fit) break;
      for (let j: u32 = 0; j < m; j++) {
        const at = frame + <usize>load<u16>(fields + FIELDS_OFFSETS + (j << 1));
        writeValue(at, <u32>load<u8>(fields + FIELDS_LENS + j), load<u32>(slot + (j << 3)), load<u32>(slot + (j << 3), 4));
      }
      store<u64>(frame, high);
      store<u64>(frame, low, 8);
      store<i32>(st, 0);
      frame += size;
      cap += 4;
      st += 4;
      slot += stride;
    }
    i = <u32>((cap - caps) >> 2);
    if (i < n) {
      failed += <u32>(1 - setManyFrames(pool, 0, first + i, 1, fields, slot, stride, replace, st));
      i++;
    }
  }
  return <i32>(n - failed);
}

/** batchSetMany's general loop: any selection, frame by frame through storeSetMany (the field list prepared). */
function setManyFrames(pool: usize, desc: usize, first: u32, n: u32, fields: usize, values: usize, stride: u32, replace: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  let ok = 0;
  for (let i: u32 = 0; i < n; i++) {
    const frame = frameAt(desc, first, i);
    const rc = frame >= count ? EINVAL : storeSetMany(storeStart(base, size, heads, metas, frame), storeCap(metas, frame), profile, fields, values + i * stride, replace != 0);
    store<i32>(status + (i << 2), rc);
    ok += i32(rc == 0);
  }
  return ok;
}

/** Removes `key` from every frame; status 0 or errno. The fast path works as batchGet's. */
export function batchDel(pool: usize, desc: usize, first: u32, n: u32, key: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  if (!(key < KEYS && heads == metas && inRange(desc, first, n, count))) return delFrames(pool, desc, first, n, key, status);
  const caps = metas + (<usize>first << 2);
  if (oneFlow(base + <usize>first * size, size, caps, n)) return delRun(base + <usize>first * size, size, caps, n, profile, <u64>1 << key, status);
  return profile == 0
    ? delRange<V1>(pool, base, size, caps, first, n, key, status)
    : delRange<Flags>(pool, base, size, caps, first, n, key, status);
}

/** batchDel's fast path (frames as getRange's), in profile P. */
// @ts-ignore: decorator
@inline function delRange<P>(pool: usize, base: usize, size: usize, caps: usize, first: u32, n: u32, key: u32, status: usize): i32 {
  const small = smallOf<P>(), bit = <u64>1 << key, below = bit - 1, end = status + (<usize>n << 2);
  const keys = boundKeys(caps, n), toCap = caps - status;
  let i: u32 = 0;
  while (i < n) {
    let frame = base + <usize>(first + i) * size, st = status + (<usize>i << 2);
    while (st < end) {
      const high = load<u64>(frame), low = load<u64>(frame, 8);
      if (overBound(high, low, keys)) {
        if (!fitsBound(high, low, load<u32>(st + toCap))) break;
      }
      let rc = ENOENT;
      if ((high | low) & bit) {
        const len: u32 = high & bit ? (low & bit ? 8 : 4) : small, at = HEADER + sizeWith(high, low, below, small);
        moveDown(frame + at + len, HEADER + sizeWith(high, low, <u64>-1, small) - at - len, len);
        store<u64>(frame, high & ~bit);
        store<u64>(frame, low & ~bit, 8);
        rc = 0;
      }
      store<i32>(st, rc);
      frame += size;
      st += 4;
    }
    i = <u32>((st - status) >> 2);
    if (i < n) {
      // The key's bit is used here too, so that V8 computes it once, before the loops, not in them.
      delFrames(pool, 0, first + i, 1, <u32>ctz(bit), st);
      i++;
    }
  }
  return <i32>(n - failures(status, n));
}

/** batchDel's general loop: any selection, frame by frame through storeDel. */
function delFrames(pool: usize, desc: usize, first: u32, n: u32, key: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  let ok = 0;
  for (let i: u32 = 0; i < n; i++) {
    const frame = frameAt(desc, first, i);
    const rc = frame >= count ? EINVAL : storeDel(storeStart(base, size, heads, metas, frame), storeCap(metas, frame), profile, key);
    store<i32>(status + (i << 2), rc);
    ok += i32(rc == 0);
  }
  return ok;
}

/** Tests `key` on every frame; status 1, 0 or errno; returns how many frames hold it. */
export function batchHas(pool: usize, desc: usize, first: u32, n: u32, key: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  let ok = 0;
  for (let i: u32 = 0; i < n; i++) {
    const frame = frameAt(desc, first, i);
    const rc = frame >= count ? EINVAL : storeHas(storeStart(base, size, heads, metas, frame), storeCap(metas, frame), profile, key);
    store<i32>(status + (i << 2), rc);
    ok += i32(rc == 1);
  }
  return ok;
}

/** Empties the store of every frame; status 0 or errno. */
export function batchInit(pool: usize, desc: usize, first: u32, n: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS);
  let ok = 0;
  for (let i: u32 = 0; i < n; i++) {
    const frame = frameAt(desc, first, i);
    const rc = frame >= count ? EINVAL : storeInit(storeStart(base, size, heads, metas, frame), storeCap(metas, frame));
    store<i32>(status + (i << 2), rc);
    ok += i32(rc == 0);
  }
  return ok;
}

/**
 * Reads keys `key` and `key + 1` of every frame as one 16-byte value into
 * values + i * stride (stride >= 16). Status 16; ENOENT if neither is present;
 * EBADMSG if only one is, or either is not 8 bytes; or the error of the store.
 */
export function batchGetWide(pool: usize, desc: usize, first: u32, n: u32, key: u32, values: usize, stride: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  let ok = 0;
  for (let i: u32 = 0; i < n; i++) {
    const frame = frameAt(desc, first, i);
    let rc = EINVAL;
    if (frame < count) {
      const start = storeStart(base, size, heads, metas, frame), cap = storeCap(metas, frame), at = values + i * stride;
      const a = storeGet(start, cap, profile, key, at, 8);
      const b = storeGet(start, cap, profile, key + 1, at + 8, 8);
      rc = a == 8 && b == 8 ? 16 : a == ENOENT && b == ENOENT ? ENOENT : a < 0 && a != ENOENT ? a : EBADMSG;
    }
    store<i32>(status + (i << 2), rc);
    ok += i32(rc == 16);
  }
  return ok;
}

/**
 * Decodes every frame's store, appending its entries to the parallel arrays
 * keys (u8), lens (u8) and values (u64), which have room for `room` entries.
 * Status = the frame's entry count, or an errno (ENOSPC when out of room).
 * Returns the number of entries written. The fast path works as batchGet's; it may also write
 * within room past the entries it returns (scratch: see decodeRange), which DecodeBuffer's views,
 * of the returned count, never show.
 */
export function batchDecode(pool: usize, desc: usize, first: u32, n: u32, keys: usize, lens: usize, values: usize, room: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  if (!(heads == metas && inRange(desc, first, n, count))) return decodeFrames(pool, desc, first, n, keys, lens, values, room, status);
  const caps = metas + (<usize>first << 2);
  if (oneFlow(base + <usize>first * size, size, caps, n)) return decodeRun(base + <usize>first * size, size, caps, n, profile, keys, lens, values, room, status);
  return profile == 0
    ? decodeRange<V1>(pool, base, size, caps, first, n, keys, lens, values, room, status)
    : decodeRange<Flags>(pool, base, size, caps, first, n, keys, lens, values, room, status);
}

/**
 * Writes the length of every key 0..63 of the header (high, low) to the 64 bytes at `table` (0 for an
 * absent key), 16 keys at a time (SIMD): each key's bit of both words spread to a byte lane, the two
 * lanes made a size code, the code looked up in `lengths` (its lanes 0..3: the lengths of codes 0..3).
 */
// @ts-ignore: decorator
@inline function lengthTable(table: usize, high: u64, low: u64, lengths: v128): void {
  const bits = i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128), one = i8x16.splat(1);
  const h = i64x2.splat(<i64>high), l = i64x2.splat(<i64>low);
  lengthLanes(table, h, l, i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1), bits, one, lengths);
  lengthLanes(table + 16, h, l, i8x16(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3), bits, one, lengths);
  lengthLanes(table + 32, h, l, i8x16(4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5), bits, one, lengths);
  lengthLanes(table + 48, h, l, i8x16(6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7), bits, one, lengths);
}

/** lengthTable's 16 keys whose bits are in bytes `bytes` (lanes: the byte of each key) of the splatted words h and l. */
// @ts-ignore: decorator
@inline function lengthLanes(at: usize, h: v128, l: v128, bytes: v128, bits: v128, one: v128, lengths: v128): void {
  const hi = i8x16.min_u(v128.and(i8x16.swizzle(h, bytes), bits), one), lo = i8x16.min_u(v128.and(i8x16.swizzle(l, bytes), bits), one);
  v128.store(at, i8x16.swizzle(lengths, v128.or(i8x16.add(hi, hi), lo)));
}

/**
 * batchDecode's fast path (frames as getRange's), in profile P. Under the cheap bound, and with 64
 * entries of room left, a frame's key lengths are first worked out for all 64 keys at once
 * (lengthTable) into the lens output where its entries go: entry j (key k >= j) reads byte k before
 * writing byte j, so the table is read before it is overwritten. Past the frame's entries, those 64
 * bytes keep table bytes (room the call may use: the caller reads only the entries it returns).
 * Every value is read with one 8-byte load cut to its length by two shifts, without a branch on it.
 */
// @ts-ignore: decorator
@inline function decodeRange<P>(pool: usize, base: usize, size: usize, caps: usize, first: u32, n: u32, keys: usize, lens: usize, values: usize, room: u32, status: usize): i32 {
  const small = smallOf<P>(), end = status + (<usize>n << 2);
  const bound = boundKeys(caps, n), toCap = caps - status;
  const lengths = i8x16(0, <i8>small, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  let total: u32 = 0, i: u32 = 0;
  while (i < n) {
    let frame = base + <usize>(first + i) * size, st = status + (<usize>i << 2);
    while (st < end) {
      if (room - total <= KEYS) break;
      const high = load<u64>(frame), low = load<u64>(frame, 8);
      if (overBound(high, low, bound)) {
        if (!fitsBound(high, low, load<u32>(st + toCap))) break;
      }
      const table = lens + total;
      lengthTable(table, high, low, lengths);
      let rest = high | low, at = frame + HEADER, e = total;
      while (rest != 0) {
        const key = <u32>ctz<u64>(rest);
        rest &= rest - 1;
        const len = <u32>load<u8>(table + key), value = values + (<usize>e << 3);
        store<u8>(keys + e, <u8>key);
        store<u8>(lens + e, <u8>len);
        // The 8 bytes at `at`, then zeros over those past the value's length (into the next entry's slot).
        store<u64>(value, load<u64>(at));
        store<u64>(value + len, 0);
        at += len;
        e++;
      }
      store<i32>(st, <i32>(e - total));
      total = e;
      frame += size;
      st += 4;
    }
    i = <u32>((st - status) >> 2);
    if (i < n) {
      total += <u32>decodeFrames(pool, 0, first + i, 1, keys + total, lens + total, values + (<usize>total << 3), room - total, st);
      i++;
    }
  }
  return <i32>total;
}

/** batchDecode's general loop: any selection, frame by frame through storeDecode. */
function decodeFrames(pool: usize, desc: usize, first: u32, n: u32, keys: usize, lens: usize, values: usize, room: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  let total: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const frame = frameAt(desc, first, i);
    const rc = frame >= count ? EINVAL
      : storeDecode(storeStart(base, size, heads, metas, frame), storeCap(metas, frame), profile, keys + total, lens + total, values + (total << 3), room - total);
    store<i32>(status + (i << 2), rc);
    if (rc > 0) total += <u32>rc;
  }
  return <i32>total;
}
