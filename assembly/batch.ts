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
// The common burst, a range of frames all in the pool with their stores at the frame
// starts (placement "frame") and a valid key, takes a fast path: frames walked by address (no descriptor, no index check, no multiply per
// frame) and the key's bit computed once. Frames of a burst mostly hold the same keys:
// a frame goes through the store function, and if its header fits its store, that
// header's outcome (the pattern) is applied to the frames that follow with the same
// header and a capacity of at least the bytes it needs, in a tight inner loop without
// the offset math (few live values, so the compiler keeps them in registers). Each
// fast path is a function of its own (Binaryen does not inline functions with loops)
// for the same reason. Results and bytes written are those of the general loop.
import { EBADMSG, EBUSY, EINVAL, ENOENT, ENOMEM, POOL_BASE, POOL_COUNT, POOL_FRAME_SIZE, POOL_HEADS, POOL_METAS, POOL_PROFILE } from "./abi";
import { HEADER, KEYS, codeOf, codeOfBit, fits, lengthOf, moveDown, moveUp, prepareFields, readValue, sizeOf, storeDecode, storeDel, storeDelBit, storeGet, storeGetBit, storeHas, storeInit, storeSet, storeSetBit, storeSetMany, storeValue, writeValue } from "./store";

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

/**
 * True if frame i (of n, at `frame`, its capacity at caps + 4i) has a capacity of at least `need`
 * and the header (high, low): a run of the fast path goes on. The header is read only if it fits.
 */
// @ts-ignore: decorator
@inline function sameRun(i: u32, n: u32, frame: usize, caps: usize, need: u32, high: u64, low: u64): bool {
  return i < n && load<u32>(caps + (<usize>i << 2)) >= need && ((load<u64>(frame) ^ high) | (load<u64>(frame, 8) ^ low)) == 0;
}

/**
 * batchGet's fast path: the n frames from address `frame` on, `size` bytes apart, each store at its
 * frame start with the capacity at caps + 4i; the valid key whose bit is `bit`.
 */
function getRange(frame: usize, size: usize, caps: usize, n: u32, profile: u32, bit: u64, values: usize, stride: u32, status: usize): i32 {
  let ok = 0, i: u32 = 0;
  while (i < n) {
    const rc = storeGetBit(frame, load<u32>(caps + (<usize>i << 2)), profile, bit, values, stride);
    let high: u64 = 0, low: u64 = 0, need = u32.MAX_VALUE, at: usize = 0;
    if (rc != ENOMEM && rc != EBADMSG) {
      // The outcome (a length, ENOENT or ENOSPC) holds for any capacity the header fits.
      high = load<u64>(frame);
      low = load<u64>(frame, 8);
      need = HEADER + sizeOf(high, low, <u64>-1, profile);
      at = HEADER + sizeOf(high, low, bit - 1, profile);
    }
    const got = i32(rc >= 0);
    do {
      store<i32>(status, rc);
      ok += got;
      i++;
      frame += size;
      status += 4;
      values += stride;
      if (!sameRun(i, n, frame, caps, need, high, low)) break;
      if (got) storeValue(values, stride, readValue(frame + at, <u32>rc));
    } while (true);
  }
  return ok;
}

/**
 * batchSet's fast path (frames as getRange's): sets the valid key whose bit is `bit` to `len` bytes of
 * size code `code`, from the u64 slot at values + i * stride (stride 0: one value for all).
 */
function setRange(frame: usize, size: usize, caps: usize, n: u32, profile: u32, bit: u64, code: u32, len: u32, values: usize, stride: u32, status: usize): i32 {
  const highBit = code & 2 ? bit : 0, lowBit = code & 1 ? bit : 0;
  let lo = load<u32>(values), hi = load<u32>(values, 4);
  const same = fits(len, lo, hi);
  let ok = 0, i: u32 = 0;
  while (i < n) {
    if (stride != 0) {
      lo = load<u32>(values);
      hi = load<u32>(values, 4);
    }
    const cap = load<u32>(caps + (<usize>i << 2));
    // The header before the set (which may change it), if the store has one.
    let high: u64 = 0, low: u64 = 0;
    if (cap >= HEADER) {
      high = load<u64>(frame);
      low = load<u64>(frame, 8);
    }
    const rc = (stride != 0 ? fits(len, lo, hi) : same) ? storeSetBit(frame, cap, profile, bit, code, len, lo, hi) : EINVAL;
    store<i32>(status, rc);
    ok += i32(rc == 0);
    i++;
    frame += size;
    status += 4;
    values += stride;
    if (rc == EINVAL || rc == ENOMEM || rc == EBADMSG) continue;
    // The header fits: with room for the value (ENOSPC otherwise), its outcome is an overwrite, an insert or EBUSY.
    const used = HEADER + sizeOf(high, low, <u64>-1, profile), old = codeOfBit(high, low, bit), insert = old == 0;
    const result = insert || old == code ? 0 : EBUSY, need = insert ? used + len : used;
    const at = HEADER + sizeOf(high, low, bit - 1, profile), move = used - <u32>at;
    // The common cases, one value for all frames overwritten or inserted, in loops of their own (fewer live values).
    if (stride == 0 && result == 0 && !insert) {
      while (sameRun(i, n, frame, caps, need, high, low)) {
        writeValue(frame + at, len, lo, hi);
        store<i32>(status, 0);
        ok++;
        i++;
        frame += size;
        status += 4;
      }
      continue;
    }
    if (stride == 0 && result == 0) {
      const newHigh = high | highBit, newLow = low | lowBit;
      while (sameRun(i, n, frame, caps, need, high, low)) {
        moveUp(frame + at, move, len);
        writeValue(frame + at, len, lo, hi);
        store<u64>(frame, newHigh);
        store<u64>(frame, newLow, 8);
        store<i32>(status, 0);
        ok++;
        i++;
        frame += size;
        status += 4;
      }
      continue;
    }
    while (sameRun(i, n, frame, caps, need, high, low)) {
      if (stride != 0) {
        lo = load<u32>(values);
        hi = load<u32>(values, 4);
        if (!fits(len, lo, hi)) break;
      }
      if (result == 0) {
        if (insert) {
          moveUp(frame + at, move, len);
          store<u64>(frame, high | highBit);
          store<u64>(frame, low | lowBit, 8);
        }
        writeValue(frame + at, len, lo, hi);
      }
      store<i32>(status, result);
      ok += i32(result == 0);
      i++;
      frame += size;
      status += 4;
      values += stride;
    }
  }
  return ok;
}

/** batchDel's fast path (frames as getRange's): removes the valid key whose bit is `bit`. */
function delRange(frame: usize, size: usize, caps: usize, n: u32, profile: u32, bit: u64, status: usize): i32 {
  let ok = 0, i: u32 = 0;
  while (i < n) {
    const cap = load<u32>(caps + (<usize>i << 2));
    // The header before the delete (which changes it), if the store has one.
    let high: u64 = 0, low: u64 = 0;
    if (cap >= HEADER) {
      high = load<u64>(frame);
      low = load<u64>(frame, 8);
    }
    const rc = storeDelBit(frame, cap, profile, bit);
    store<i32>(status, rc);
    ok += i32(rc == 0);
    i++;
    frame += size;
    status += 4;
    if (rc == ENOMEM || rc == EBADMSG) continue;
    // The header fits: its outcome is a removal or ENOENT.
    const used = HEADER + sizeOf(high, low, <u64>-1, profile), old = codeOfBit(high, low, bit);
    const result = old == 0 ? ENOENT : 0, len = old == 0 ? 0 : lengthOf(old, profile);
    const at = HEADER + sizeOf(high, low, bit - 1, profile), move = used - <u32>at - len;
    const newHigh = high & ~bit, newLow = low & ~bit;
    // Removals and ENOENT in loops of their own (fewer live values).
    if (result == 0) {
      while (sameRun(i, n, frame, caps, used, high, low)) {
        moveDown(frame + at + len, move, len);
        store<u64>(frame, newHigh);
        store<u64>(frame, newLow, 8);
        store<i32>(status, 0);
        ok++;
        i++;
        frame += size;
        status += 4;
      }
    } else {
      while (sameRun(i, n, frame, caps, used, high, low)) {
        store<i32>(status, ENOENT);
        i++;
        frame += size;
        status += 4;
      }
    }
  }
  return ok;
}

/** batchDecode's fast path (frames as getRange's): the entries of each frame copied after those before. */
function decodeRange(frame: usize, size: usize, caps: usize, n: u32, profile: u32, keys: usize, lens: usize, values: usize, room: u32, status: usize): i32 {
  let total: u32 = 0, i: u32 = 0;
  while (i < n) {
    const rc = storeDecode(frame, load<u32>(caps + (<usize>i << 2)), profile, keys + total, lens + total, values + (total << 3), room - total);
    store<i32>(status, rc);
    i++;
    frame += size;
    status += 4;
    if (rc < 0) continue;
    // The header fits: a frame with the same one and room for it has the same keys and lengths, copied from this frame's entries.
    const from = total, count = <u32>rc, high = load<u64>(frame - size), low = load<u64>(frame - size, 8);
    const used = HEADER + sizeOf(high, low, <u64>-1, profile);
    total += count;
    while (count <= room - total && sameRun(i, n, frame, caps, used, high, low)) {
      let at = frame + HEADER;
      for (let j: u32 = 0; j < count; j++) {
        const len = <u32>load<u8>(lens + from + j);
        store<u8>(keys + total + j, load<u8>(keys + from + j));
        store<u8>(lens + total + j, <u8>len);
        store<u64>(values + ((total + j) << 3), readValue(at, len));
        at += len;
      }
      store<i32>(status, rc);
      total += count;
      i++;
      frame += size;
      status += 4;
    }
  }
  return <i32>total;
}

/** Gets `key` of every frame into u32 (stride 4) or u64 (stride >= 8) slots; status = length or errno. */
export function batchGet(pool: usize, desc: usize, first: u32, n: u32, key: u32, values: usize, stride: u32, status: usize): i32 {
  const base = <usize>load<u32>(pool, POOL_BASE), size = <usize>load<u32>(pool, POOL_FRAME_SIZE), count = load<u32>(pool, POOL_COUNT), heads = <usize>load<u32>(pool, POOL_HEADS), metas = <usize>load<u32>(pool, POOL_METAS), profile = load<u32>(pool, POOL_PROFILE);
  let ok = 0;
  if (key < KEYS && heads == metas && inRange(desc, first, n, count)) {
    return getRange(base + <usize>first * size, size, metas + (<usize>first << 2), n, profile, <u64>1 << key, values, stride, status);
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
  if (key < KEYS && code != 0 && heads == metas && inRange(desc, first, n, count)) {
    return setRange(base + <usize>first * size, size, metas + (<usize>first << 2), n, profile, <u64>1 << key, code, len, values, stride, status);
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
  if (key < KEYS && heads == metas && inRange(desc, first, n, count)) {
    return delRange(base + <usize>first * size, size, metas + (<usize>first << 2), n, profile, <u64>1 << key, status);
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
  if (heads == metas && inRange(desc, first, n, count)) {
    return decodeRange(base + <usize>first * size, size, metas + (<usize>first << 2), n, profile, keys, lens, values, room, status);
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
