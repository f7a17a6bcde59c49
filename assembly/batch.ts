// Batch loops: one call for many frames of a packet pool.
//
// A pool is described by a control block of u32 words at `pool`:
//   [0] base: address of frame 0   [1] frameSize   [2] count
//   [3] heads: address of a u32 per frame, its data offset = its store's capacity
//   [4] profile
// Frames are `first .. first + n - 1` when `desc` is 0, else the u32 frame
// indices at desc[0 .. n-1] (an rx ring). A descriptor >= count gets EINVAL.
// Each frame's result (a length, 0/1, 0 or a negative errno) goes to the i32 at
// status + 4i; values of frame i are at values + i * stride. Each function
// returns how many frames succeeded.
import { EBADMSG, ENOENT, EINVAL, prepareFields, storeDecode, storeDel, storeGet, storeHas, storeInit, storeSet, storeSetMany } from "./store";

const NO_FRAME: usize = <usize>-1;

/** Address of the store of the i-th selected frame, or NO_FRAME; its capacity goes to the global `cap`. */
let cap: u32 = 0;

// @ts-ignore: decorator
@inline function frameStart(pool: usize, desc: usize, first: u32, i: u32): usize {
  const frame = desc != 0 ? load<u32>(desc + (<usize>i << 2)) : first + i;
  if (frame >= load<u32>(pool, 8)) return NO_FRAME;
  cap = load<u32>(<usize>load<u32>(pool, 12) + (<usize>frame << 2));
  return <usize>load<u32>(pool) + <usize>frame * <usize>load<u32>(pool, 4);
}

// @ts-ignore: decorator
@inline function profileOf(pool: usize): u32 {
  return load<u32>(pool, 16);
}

/** Gets `key` of every frame into u32 (stride 4) or u64 (stride >= 8) slots; status = length or errno. */
export function batchGet(pool: usize, desc: usize, first: u32, n: u32, key: u32, values: usize, stride: u32, status: usize): i32 {
  const profile = profileOf(pool);
  let ok = 0;
  for (let i: u32 = 0; i < n; i++) {
    const start = frameStart(pool, desc, first, i);
    const rc = start == NO_FRAME ? EINVAL : storeGet(start, cap, profile, key, values + i * stride, stride);
    store<i32>(status + (i << 2), rc);
    ok += i32(rc >= 0);
  }
  return ok;
}

/** Sets `key` on every frame to `len` bytes of the u64 slot at values + i * stride (stride 0: one value for all). */
export function batchSet(pool: usize, desc: usize, first: u32, n: u32, key: u32, len: u32, values: usize, stride: u32, status: usize): i32 {
  const profile = profileOf(pool);
  let ok = 0;
  for (let i: u32 = 0; i < n; i++) {
    const start = frameStart(pool, desc, first, i);
    const at = values + i * stride, lo = load<u32>(at), hi = load<u32>(at, 4);
    let rc = EINVAL;
    if (start != NO_FRAME && (len == 8 || (hi == 0 && (len == 4 || (len == 2 ? lo <= 0xffff : lo == 0))))) {
      rc = storeSet(start, cap, profile, key, len, lo, hi);
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
  const profile = profileOf(pool);
  prepareFields(fields, profile);
  let ok = 0;
  for (let i: u32 = 0; i < n; i++) {
    const start = frameStart(pool, desc, first, i);
    const rc = start == NO_FRAME ? EINVAL : storeSetMany(start, cap, profile, fields, values + i * stride, replace != 0);
    store<i32>(status + (i << 2), rc);
    ok += i32(rc == 0);
  }
  return ok;
}

/** Removes `key` from every frame; status 0 or errno. */
export function batchDel(pool: usize, desc: usize, first: u32, n: u32, key: u32, status: usize): i32 {
  const profile = profileOf(pool);
  let ok = 0;
  for (let i: u32 = 0; i < n; i++) {
    const start = frameStart(pool, desc, first, i);
    const rc = start == NO_FRAME ? EINVAL : storeDel(start, cap, profile, key);
    store<i32>(status + (i << 2), rc);
    ok += i32(rc == 0);
  }
  return ok;
}

/** Tests `key` on every frame; status 1, 0 or errno; returns how many frames hold it. */
export function batchHas(pool: usize, desc: usize, first: u32, n: u32, key: u32, status: usize): i32 {
  const profile = profileOf(pool);
  let ok = 0;
  for (let i: u32 = 0; i < n; i++) {
    const start = frameStart(pool, desc, first, i);
    const rc = start == NO_FRAME ? EINVAL : storeHas(start, cap, profile, key);
    store<i32>(status + (i << 2), rc);
    ok += i32(rc == 1);
  }
  return ok;
}

/** Empties the store of every frame; status 0 or errno. */
export function batchInit(pool: usize, desc: usize, first: u32, n: u32, status: usize): i32 {
  let ok = 0;
  for (let i: u32 = 0; i < n; i++) {
    const start = frameStart(pool, desc, first, i);
    const rc = start == NO_FRAME ? EINVAL : storeInit(start, cap);
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
  const profile = profileOf(pool);
  let ok = 0;
  for (let i: u32 = 0; i < n; i++) {
    const start = frameStart(pool, desc, first, i);
    let rc = EINVAL;
    if (start != NO_FRAME) {
      const at = values + i * stride;
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
  const profile = profileOf(pool);
  let total: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const start = frameStart(pool, desc, first, i);
    const rc = start == NO_FRAME ? EINVAL : storeDecode(start, cap, profile, keys + total, lens + total, values + (total << 3), room - total);
    store<i32>(status + (i << 2), rc);
    if (rc > 0) total += <u32>rc;
  }
  return <i32>total;
}
