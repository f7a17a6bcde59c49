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
import { EBADMSG, EINVAL, ENOENT, POOL_BASE, POOL_COUNT, POOL_FRAME_SIZE, POOL_HEADS, POOL_METAS, POOL_PROFILE } from "./abi";
import { fits, prepareFields, storeDecode, storeDel, storeGet, storeHas, storeInit, storeSet, storeSetMany } from "./store";

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

/** Gets `key` of every frame into u32 (stride 4) or u64 (stride >= 8) slots; status = length or errno. */
export function batchGet(pool: usize, desc: usize, first: u32, n: u32, key: u32, values: usize, stride: u32, status: usize): i32 {
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

/** Sets `key` on every frame to `len` bytes of the u64 slot at values + i * stride (stride 0: one value for all). */
export function batchSet(pool: usize, desc: usize, first: u32, n: u32, key: u32, len: u32, values: usize, stride: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  // One value for all (stride 0) is read once: the stores below could alias it, so the compiler would not hoist it.
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
  for (let i: u32 = 0; i < n; i++) {
    const frame = frameAt(desc, first, i);
    const rc = frame >= count ? EINVAL
      : storeDecode(storeStart(base, size, heads, metas, frame), storeCap(metas, frame), profile, keys + total, lens + total, values + (total << 3), room - total);
    store<i32>(status + (i << 2), rc);
    if (rc > 0) total += <u32>rc;
  }
  return <i32>total;
}
