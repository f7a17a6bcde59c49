/**
 * The JS twin's single-store operations (TraitStore's get, set, delete, has and clear), each the
 * function of assembly/store.ts it names, on one store: no frame selection and no memo, which only a
 * run of frames repays (the batch loops of js-loops.ts). setMany and decode of one store run their
 * loop on one frame (js-core.ts).
 */
// Const enums (abi.ts, js-offsets.ts) are inlined as literals by tsc.
import { CoreErrno as E } from "./abi.js";
import {
  Layout,
  bytesBelow,
  codeAt,
  codeOf,
  fits,
  lengthOf,
  readValue,
  sizeBound,
  storeSize,
  writeValue,
} from "./js-offsets.js";

// Each takes the memory's views, the store (start, capacity: 0 for a store the memory no longer
// holds) and the profile's unit (js-offsets.ts), and returns what its assembly/store.ts function
// does: EINVAL for a bad argument, ENOMEM for a store under 16 bytes (its header is not read),
// EBADMSG for a header declaring more than the capacity, then the operation's own result.

/** storeInit: empties the store (zeroes its header). 0 or E.ENOMEM. */
export function storeInit(i32: Int32Array, start: number, cap: number): number {
  if (cap < Layout.HEADER) return E.ENOMEM;
  const w = start >>> 2;
  i32[w] = 0;
  i32[w + 1] = 0;
  i32[w + 2] = 0;
  i32[w + 3] = 0;
  return 0;
}

/** storeHas: 1 if `key` is present, 0 if not. */
export function storeHas(i32: Int32Array, start: number, cap: number, unit: number, key: number): number {
  if (key >= 64) return E.EINVAL;
  if (cap < Layout.HEADER) return E.ENOMEM;
  const w = start >>> 2,
    h0 = i32[w]!,
    h1 = i32[w + 1]!,
    l0 = i32[w + 2]!,
    l1 = i32[w + 3]!;
  if (sizeBound(h0, l0, h1, l1) > cap && storeSize(h0, l0, h1, l1, unit) > cap) return E.EBADMSG;
  return codeAt(h0, l0, h1, l1, key) === 0 ? 0 : 1;
}

/** storeGet: the value of `key` to out[0] (lo) and, if outLen >= 8, out[1] (hi); returns its length. E.ENOENT, E.ENOSPC (len > outLen). */
export function storeGet(
  i32: Int32Array,
  dv: DataView,
  start: number,
  cap: number,
  unit: number,
  key: number,
  outLen: number,
  out: Int32Array,
): number {
  if (key >= 64) return E.EINVAL;
  if (cap < Layout.HEADER) return E.ENOMEM;
  const w = start >>> 2,
    h0 = i32[w]!,
    h1 = i32[w + 1]!,
    l0 = i32[w + 2]!,
    l1 = i32[w + 3]!;
  if (sizeBound(h0, l0, h1, l1) > cap && storeSize(h0, l0, h1, l1, unit) > cap) return E.EBADMSG;
  const code = codeAt(h0, l0, h1, l1, key);
  if (code === 0) return E.ENOENT;
  const len = lengthOf(code, unit);
  if (len > outLen) return E.ENOSPC;
  readValue(dv, start + Layout.HEADER + bytesBelow(h0, l0, h1, l1, key, unit), len, out, 0, outLen >= 8);
  return len;
}

/** storeSet: sets `key` to the low `len` bytes of (hi:lo), inserting it if absent. 0, E.EBUSY (other length), E.ENOSPC. */
export function storeSet(
  i32: Int32Array,
  u16: Uint16Array,
  dv: DataView,
  start: number,
  cap: number,
  unit: number,
  key: number,
  len: number,
  lo: number,
  hi: number,
): number {
  const code = codeOf(len, unit);
  if (key >= 64 || code === 0 || !fits(len, lo, hi)) return E.EINVAL;
  if (cap < Layout.HEADER) return E.ENOMEM;
  const w = start >>> 2,
    h0 = i32[w]!,
    h1 = i32[w + 1]!,
    l0 = i32[w + 2]!,
    l1 = i32[w + 3]!,
    old = codeAt(h0, l0, h1, l1, key),
    at = start + Layout.HEADER + bytesBelow(h0, l0, h1, l1, key, unit);
  if (old !== 0) {
    if (sizeBound(h0, l0, h1, l1) > cap && storeSize(h0, l0, h1, l1, unit) > cap) return E.EBADMSG;
    if (old !== code) return E.EBUSY;
  } else {
    // An insert: the values after the key move up by its length.
    const used = storeSize(h0, l0, h1, l1, unit);
    if (used > cap) return E.EBADMSG;
    if (used + len > cap) return E.ENOSPC;
    const shift = len >>> 1,
      half = key >>> 5,
      bit = 1 << (key & 31);
    for (let j = (start + used) >>> 1, end = at >>> 1; j > end; ) {
      j--;
      u16[j + shift] = u16[j]!;
    }
    if (code & 2) i32[w + half] = (half === 0 ? h0 : h1) | bit;
    if (code & 1) i32[w + 2 + half] = (half === 0 ? l0 : l1) | bit;
  }
  writeValue(dv, at, len, lo, hi);
  return 0;
}

/** storeDel: removes `key`; the values after it move down. 0 or E.ENOENT. */
export function storeDel(
  i32: Int32Array,
  u16: Uint16Array,
  start: number,
  cap: number,
  unit: number,
  key: number,
): number {
  if (key >= 64) return E.EINVAL;
  if (cap < Layout.HEADER) return E.ENOMEM;
  const w = start >>> 2,
    h0 = i32[w]!,
    h1 = i32[w + 1]!,
    l0 = i32[w + 2]!,
    l1 = i32[w + 3]!,
    used = storeSize(h0, l0, h1, l1, unit);
  if (used > cap) return E.EBADMSG;
  const code = codeAt(h0, l0, h1, l1, key);
  if (code === 0) return E.ENOENT;
  const shift = lengthOf(code, unit) >>> 1,
    half = key >>> 5,
    bit = ~(1 << (key & 31));
  for (
    let j = (start + Layout.HEADER + bytesBelow(h0, l0, h1, l1, key, unit)) >>> 1, end = ((start + used) >>> 1) - shift;
    j < end;
    j++
  )
    u16[j] = u16[j + shift]!;
  i32[w + half] = (half === 0 ? h0 : h1) & bit;
  i32[w + 2 + half] = (half === 0 ? l0 : l1) & bit;
  return 0;
}
