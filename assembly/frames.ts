// The addressing of a burst's frames and the cheap checks the batch loops (batch.ts, runs.ts) share:
// where a frame's store starts and what it may hold, the bound of 8 bytes a key against the burst's
// smallest capacity (SIMD), failure counts, masked value loads. All inlined into their callers.
import { HEADER, fits } from "./store";

/** The frame of selection entry i: first + i for a range (desc 0), else the u32 descriptor at desc + 4i. */
// @ts-ignore: decorator
@inline export function frameAt(desc: usize, first: u32, i: u32): u32 {
  return desc != 0 ? load<u32>(desc + (<usize>i << 2)) : first + i;
}

/** Where the store of `frame` starts: its head minus its store's capacity (metas), from the frame's start. */
// @ts-ignore: decorator
@inline export function storeStart(base: usize, size: usize, heads: usize, metas: usize, frame: u32): usize {
  const at = <usize>frame << 2;
  return base + <usize>frame * size + <usize>load<u32>(heads + at) - <usize>load<u32>(metas + at);
}

/** The capacity in bytes of the store of `frame` (its metas entry). */
// @ts-ignore: decorator
@inline export function storeCap(metas: usize, frame: u32): u32 {
  return load<u32>(metas + (<usize>frame << 2));
}

/**
 * The cheap bound of a header (high, low) on a store of `cap` >= 16 bytes: 8 bytes a key. When it holds,
 * the header fits, and an 8-byte load at any present key's offset stays inside the store.
 */
// @ts-ignore: decorator
@inline export function fitsBound(high: u64, low: u64, cap: u32): bool {
  return HEADER + (<u32>popcnt<u64>(high | low) << 3) <= cap;
}

/**
 * The most keys a header may hold for the cheap bound (fitsBound) to hold on each of the n stores whose
 * capacities are the u32 at `caps`: (smallest capacity - 16) / 8, negative if one is smaller than a
 * header; the minimum taken 4 capacities at a time (SIMD). A burst's fast loop compares each header's
 * key count with it, and reads a frame's own capacity only when the count is above (overBound, roomAt).
 * Not inlined: V8 would compute its last steps inside the loop that uses the result.
 */
export function boundKeys(caps: usize, n: u32): i32 {
  const end = caps + (<usize>n << 2);
  let at = caps, least = i32x4.splat(-1);
  while (at + 16 <= end) {
    least = i32x4.min_u(least, v128.load(at));
    at += 16;
  }
  let cap = min(min(<u32>i32x4.extract_lane(least, 0), <u32>i32x4.extract_lane(least, 1)), min(<u32>i32x4.extract_lane(least, 2), <u32>i32x4.extract_lane(least, 3)));
  while (at < end) {
    cap = min(cap, load<u32>(at));
    at += 4;
  }
  return (<i32>cap - <i32>HEADER) >> 3;
}

/**
 * True if the header (high, low) holds more keys than `keys` (boundKeys): the cheap bound then has to
 * be checked on the frame's own capacity. Fast loops nest that check in an `if` of its own, so that
 * the common case is one compare and branch.
 */
// @ts-ignore: decorator
@inline export function overBound(high: u64, low: u64, keys: i32): bool {
  return <i32>popcnt<u64>(high | low) > keys;
}

/** True if `need` bytes fit the store of a frame of the burst (capacity at `cap`): 16 + 8 keys bytes fit every store of the burst. */
// @ts-ignore: decorator
@inline export function roomAt(need: u32, keys: i32, cap: usize): bool {
  if (<i32>need <= <i32>HEADER + (keys << 3)) return true;
  return need <= load<u32>(cap);
}

/** How many of the n i32 statuses at `status` are negative (errnos): 4 at a time (SIMD). */
// @ts-ignore: decorator
@inline export function failures(status: usize, n: u32): u32 {
  const end = status + (<usize>n << 2);
  let at = status, sum = i32x4.splat(0);
  while (at + 16 <= end) {
    sum = i32x4.add(sum, i32x4.shr_u(v128.load(at), 31));
    at += 16;
  }
  let count = <u32>(i32x4.extract_lane(sum, 0) + i32x4.extract_lane(sum, 1) + i32x4.extract_lane(sum, 2) + i32x4.extract_lane(sum, 3));
  while (at < end) {
    count += load<u32>(at) >> 31;
    at += 4;
  }
  return count;
}

/** The `len`-byte (0, 2, 4 or 8) value at `at` from one 8-byte load, masked (the caller knows at + 8 is in the store). */
// @ts-ignore: decorator
@inline export function loadValue(at: usize, len: u32): u64 {
  return load<u64>(at) & select<u64>(<u64>-1, (<u64>1 << (<u64>len << 3)) - 1, len >= 8);
}

/** True if the burst is the range first .. first + n - 1 and all of it is in the pool: the fast path's case. */
// @ts-ignore: decorator
@inline export function inRange(desc: usize, first: u32, n: u32, count: u32): bool {
  return desc == 0 && first <= count && n <= count - first;
}
