// The batch loops' paths for a burst of one flow (batch.ts picks them when oneFlow says so).
import { EBADMSG, EBUSY, EINVAL, ENOENT, ENOMEM, ENOSPC } from "./abi";
import { HEADER, codeOfBit, fits, lengthOf, moveDown, moveUp, readValue, sizeOf, storeDecode, storeDelBit, storeGetBit, storeSetBit, storeValue, writeValue } from "./store";

// Bursts of one flow (every frame the same header, as oneFlow samples it) take the *Run paths: a
// frame goes through the store function, and if its header fits its store, that header's outcome
// (the pattern) is applied to the frames that follow with the same header and a capacity of at
// least the bytes it needs, in a tight inner loop without the offset math. Each is a function of its
// own (few live values, so the compiler keeps them in registers).

/**
 * True if 8 frames spread over a range (the first, the last and 6 between; at `frame`, `size` bytes
 * apart, capacities at `caps`) have stores of 16 bytes or more and the same header: a burst of one
 * flow, which the *Run paths serve better than the per-frame fast paths. A guess made once per burst:
 * the results are the same on either path.
 */
// @ts-ignore: decorator
@inline export function oneFlow(frame: usize, size: usize, caps: usize, n: u32): bool {
  if (n < 8) return false;
  let high: u64 = 0, low: u64 = 0, differ: u64 = 0;
  for (let j: u32 = 0; j < 8; j++) {
    const i = <usize>(j * (n - 1) / 7), at = frame + i * size;
    if (load<u32>(caps + (i << 2)) < HEADER) return false;
    if (j == 0) {
      high = load<u64>(at);
      low = load<u64>(at, 8);
    } else differ |= (load<u64>(at) ^ high) | (load<u64>(at, 8) ^ low);
  }
  return differ == 0;
}

/**
 * True if frame i (of n, at `frame`, its capacity at caps + 4i) has a capacity of at least `need`
 * and the header (high, low): a run of the fast path goes on. The header is read only if it fits.
 */
// @ts-ignore: decorator
@inline export function sameRun(i: u32, n: u32, frame: usize, caps: usize, need: u32, high: u64, low: u64): bool {
  return i < n && load<u32>(caps + (<usize>i << 2)) >= need && ((load<u64>(frame) ^ high) | (load<u64>(frame, 8) ^ low)) == 0;
}

/**
 * batchGet's path for a burst of one flow (see oneFlow): the n frames from address `frame` on, `size`
 * bytes apart, each store at its frame start with the capacity at caps + 4i; the valid key whose bit
 * is `bit`.
 */
export function getRun(frame: usize, size: usize, caps: usize, n: u32, profile: u32, bit: u64, values: usize, stride: u32, status: usize): i32 {
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
 * batchSet's path for a burst of one flow (frames as getRun's): sets the valid key whose bit is `bit` to `len` bytes of
 * size code `code`, from the u64 slot at values + i * stride (stride 0: one value for all).
 */
export function setRun(frame: usize, size: usize, caps: usize, n: u32, profile: u32, bit: u64, code: u32, len: u32, values: usize, stride: u32, status: usize): i32 {
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

/** batchDel's path for a burst of one flow (frames as getRun's): removes the valid key whose bit is `bit`. */
export function delRun(frame: usize, size: usize, caps: usize, n: u32, profile: u32, bit: u64, status: usize): i32 {
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

/** batchDecode's path for a burst of one flow (frames as getRun's): the entries of each frame copied after those before. */
export function decodeRun(frame: usize, size: usize, caps: usize, n: u32, profile: u32, keys: usize, lens: usize, values: usize, room: u32, status: usize): i32 {
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
