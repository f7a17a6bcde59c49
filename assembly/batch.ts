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
// The common burst, a range of frames all in the pool with a valid key, takes a fast
// path: frames walked by address (no descriptor, no index check, no multiply per
// frame) and the key's bit computed once. Its results are those of the general loop.
import { EBADMSG, EINVAL, ENOENT, ENOSPC, POOL_BASE, POOL_COUNT, POOL_FRAME_SIZE, POOL_HEADS, POOL_METAS, POOL_PROFILE } from "./abi";
import { HEADER, KEYS, codeOf, fits, prepareFields, readValue, sizeOf, storeDecode, storeDel, storeDelBit, storeGet, storeGetBit, storeHas, storeInit, storeSet, storeSetBit, storeSetMany } from "./store";

// @ts-ignore: decorator
@inline function frameAt(desc: usize, first: u32, i: u32): u32 {
  return desc != 0 ? load<u32>(desc + (<usize>i << 2)) : first + i;
}

// @ts-ignore: decorator
@inline function storeStart(base: usize, size: usize, heads: usize, metas: usize, frame: u32): usize {
  const at = <usize>frame << 2;
  return base + <usize>frame * size + <usize>load<u32>(heads + at) - <usize>load<u32>(metas + at);
}

// @ts-ignore: decorator
@inline function storeCap(metas: usize, frame: u32): u32 {
  return load<u32>(metas + (<usize>frame << 2));
}

/** True if the burst is the range first .. first + n - 1 and all of it is in the pool: the fast path's case. */
// @ts-ignore: decorator
@inline function inRange(desc: usize, first: u32, n: u32, count: u32): bool {
  return desc == 0 && first <= count && n <= count - first;
}

/** Gets `key` of every frame into u32 (stride 4) or u64 (stride >= 8) slots; status = length or errno. */
export function batchGet(pool: usize, desc: usize, first: u32, n: u32, key: u32, values: usize, stride: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  let ok = 0;
  if (key < KEYS && inRange(desc, first, n, count)) {
    const bit = <u64>1 << key;
    let frame = base + <usize>first * size, at = <usize>first << 2;
    for (let i: u32 = 0; i < n; i++, frame += size, at += 4) {
      const cap = load<u32>(metas + at);
      const rc = storeGetBit(frame + load<u32>(heads + at) - cap, cap, profile, bit, values + i * stride, stride);
      store<i32>(status + (i << 2), rc);
      ok += i32(rc >= 0);
    }
    return ok;
  }
  for (let i: u32 = 0; i < n; i++) {
    const frame = frameAt(desc, first, i);
    const rc = frame >= count ? EINVAL : storeGet(storeStart(base, size, heads, metas, frame), storeCap(metas, frame), profile, key, values + i * stride, stride);
    store<i32>(status + (i << 2), rc);
    ok += i32(rc >= 0);
  }
  return ok;
}

/** Sets `key` on every frame to `len` bytes of the u64 slot at values + i * stride (stride 0: one value for all). */
export function batchSet(pool: usize, desc: usize, first: u32, n: u32, key: u32, len: u32, values: usize, stride: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  // One value for all (stride 0) is read once: the stores below could alias it, so the compiler would not hoist it.
  let lo = load<u32>(values), hi = load<u32>(values, 4);
  let ok = 0;
  const code = codeOf(len, profile);
  if (key < KEYS && code != 0 && inRange(desc, first, n, count)) {
    const bit = <u64>1 << key, same = fits(len, lo, hi);
    let frame = base + <usize>first * size, at = <usize>first << 2;
    for (let i: u32 = 0; i < n; i++, frame += size, at += 4) {
      let valid = same;
      if (stride != 0) {
        const from = values + i * stride;
        lo = load<u32>(from);
        hi = load<u32>(from, 4);
        valid = fits(len, lo, hi);
      }
      let rc = EINVAL;
      if (valid) {
        const cap = load<u32>(metas + at);
        rc = storeSetBit(frame + load<u32>(heads + at) - cap, cap, profile, bit, code, len, lo, hi);
      }
      store<i32>(status + (i << 2), rc);
      ok += i32(rc == 0);
    }
    return ok;
  }
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
 * same values for all); with `replace` (1), each store is emptied first.
 */
export function batchSetMany(pool: usize, desc: usize, first: u32, n: u32, fields: usize, values: usize, stride: u32, replace: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  prepareFields(fields, profile);
  let ok = 0;
  for (let i: u32 = 0; i < n; i++) {
    const frame = frameAt(desc, first, i);
    const rc = frame >= count ? EINVAL : storeSetMany(storeStart(base, size, heads, metas, frame), storeCap(metas, frame), profile, fields, values + i * stride, replace != 0);
    store<i32>(status + (i << 2), rc);
    ok += i32(rc == 0);
  }
  return ok;
}

/** Removes `key` from every frame; status 0 or errno. */
export function batchDel(pool: usize, desc: usize, first: u32, n: u32, key: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  let ok = 0;
  if (key < KEYS && inRange(desc, first, n, count)) {
    const bit = <u64>1 << key;
    let frame = base + <usize>first * size, at = <usize>first << 2;
    for (let i: u32 = 0; i < n; i++, frame += size, at += 4) {
      const cap = load<u32>(metas + at);
      const rc = storeDelBit(frame + load<u32>(heads + at) - cap, cap, profile, bit);
      store<i32>(status + (i << 2), rc);
      ok += i32(rc == 0);
    }
    return ok;
  }
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
 * Returns the number of entries written.
 */
export function batchDecode(pool: usize, desc: usize, first: u32, n: u32, keys: usize, lens: usize, values: usize, room: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  let total: u32 = 0;
  if (inRange(desc, first, n, count)) {
    // Frames of a burst mostly hold the same keys: a frame whose header is that of the last one
    // decoded (the pattern) copies its keys and lengths from that frame's entries.
    let patternHigh: u64 = 0, patternLow: u64 = 0, patternUsed: u32 = 0, patternCount: i32 = -1, patternAt: u32 = 0;
    let frame = base + <usize>first * size, at = <usize>first << 2;
    for (let i: u32 = 0; i < n; i++, frame += size, at += 4) {
      const cap = load<u32>(metas + at), start = frame + load<u32>(heads + at) - cap;
      let rc: i32;
      if (patternCount >= 0 && cap >= HEADER && load<u64>(start) == patternHigh && load<u64>(start, 8) == patternLow) {
        rc = patternUsed > cap ? EBADMSG : <u32>patternCount > room - total ? ENOSPC : patternCount;
        if (rc > 0) {
          let from = start + HEADER;
          for (let j: u32 = 0; j < <u32>rc; j++) {
            const len = <u32>load<u8>(lens + patternAt + j);
            store<u8>(keys + total + j, load<u8>(keys + patternAt + j));
            store<u8>(lens + total + j, <u8>len);
            store<u64>(values + ((total + j) << 3), readValue(from, len));
            from += len;
          }
        }
      } else {
        rc = storeDecode(start, cap, profile, keys + total, lens + total, values + (total << 3), room - total);
        if (rc >= 0) {
          patternHigh = load<u64>(start);
          patternLow = load<u64>(start, 8);
          patternUsed = HEADER + sizeOf(patternHigh, patternLow, <u64>-1, profile);
          patternCount = rc;
          patternAt = total;
        }
      }
      store<i32>(status + (i << 2), rc);
      if (rc > 0) total += <u32>rc;
    }
    return <i32>total;
  }
  for (let i: u32 = 0; i < n; i++) {
    const frame = frameAt(desc, first, i);
    const rc = frame >= count ? EINVAL
      : storeDecode(storeStart(base, size, heads, metas, frame), storeCap(metas, frame), profile, keys + total, lens + total, values + (total << 3), room - total);
    store<i32>(status + (i << 2), rc);
    if (rc > 0) total += <u32>rc;
  }
  return <i32>total;
}
