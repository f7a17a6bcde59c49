/**
 * The JS twin's per-frame batch loops (issue 21): for a contiguous range of a pool's frames with each
 * store at its frame start (JsFrames.contiguous) whose headers vary from frame to frame (not
 * JsFrames.oneFlow, which js-loops.ts's memo serves better; for get, getRun below). Each frame is worked
 * out on its own, with every check of js-loops.ts kept (ENOMEM, EBADMSG, then the operation's own), in
 * the same order.
 *
 * Why the arithmetic is written out in each loop instead of calling js-offsets.ts: V8 inlines at most
 * 920 bytes of bytecode into one optimized function, and js-offsets.ts's helpers add up to more than
 * that in a loop (valueBytes alone is 260 bytes, bytesBelow inlines it twice): the rest stay calls,
 * with their arguments tagged as small integers, a module-cell check each and registers spilled around
 * them (callgrind, mixed get 4B: 420 instructions a frame with the calls, 305 without). Written out,
 * nothing in these loops is a call, whatever the engine's inlining budget. Small helpers of this file's
 * own for the offset (two, both inlined by V8) and js-offsets.ts's sizeBound for the bound cost 300
 * instructions a frame against 273 written out; the helpers alone 292 (mixed get 4B, bench/traffic.js).
 *
 * The arithmetic, on the 32-bit halves of the header (h0/l0 keys 0..31 of `high`/`low`, h1/l1 keys
 * 32..63), as js-offsets.ts explains it:
 * - the bound: 16 + 8 (popcount(h0 | l0) + popcount(h1 | l1)) bytes, in one SWAR reduction; the exact
 *   size (storeSize) only for a store whose capacity is under it;
 * - the offset of a key: the bytes of the keys below it, popcount(h & l) + popcount(x) + 2 popcount(h)
 *   2-byte units over the masked words, x = l & (h | u) (u = -unit: x = l in v1, h & l in flags), per
 *   byte lane (at most 4 keys of 4 units a nibble pair: 32), both halves added up before the one
 *   multiply (at most 63 keys of 4 units: 252, one byte).
 */
// Const enums (abi.ts, js-offsets.ts) are inlined as literals by tsc.
import { CoreErrno as E } from "./abi.js";
import type { JsFrames } from "./js-frames.js";
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
  storeSizeAt,
  writeValue,
} from "./js-offsets.js";

// Mirrors storeGet (assembly/store.ts) per frame, as batchGet's fast path (assembly/batch.ts).
/**
 * Gets `key` (0..63) from the n frames of a contiguous selection (JsFrames.contiguous): value i to
 * i32[o + i * step] (lo) and the next element (hi), as getLoop with an outLen of 8 or more (no ENOSPC);
 * status i to i32[s + i]. Returns the count of successes.
 *
 * A frame whose capacity is under the bound leaves the inner loop for the outer one, which works out
 * its exact size (a call) and sends it back if it fits: a call inside the loop, even on a path never
 * taken, costs at every frame (callgrind, mixed get 4B: 272 instructions a frame with it, 253 without).
 */
export function getFast(f: JsFrames, n: number, key: number, o: number, step: number, s: number): number {
  const { i32, dv } = f,
    frameSize = f.frameSize | 0,
    unit = f.unit | 0,
    u = -unit | 0,
    lenMask = ~(((unit ^ 1) << 1) | 1),
    half = key >>> 5,
    bit = key & 31,
    below = ((1 << bit) - 1) | 0,
    m0 = half === 0 ? below : -1,
    m1 = half === 0 ? 0 : below,
    step0 = step | 0,
    end = (s + n) | 0;
  let ok = 0,
    st = s | 0,
    // The frame whose exact size was found to fit its capacity (under the bound).
    checked = -1,
    start = (f.base + Math.imul(f.first, frameSize)) | 0,
    c = (f.metas + f.first) | 0,
    x = o | 0;
  for (;;) {
    for (; st < end; st = (st + 1) | 0) {
      const cap = i32[c]!;
      let rc: number = E.ENOMEM; // before reading: a store under 16 bytes has no header
      if (cap >= Layout.HEADER) {
        const w = start >>> 2,
          h0 = i32[w]!,
          h1 = i32[(w + 1) | 0]!,
          l0 = i32[(w + 2) | 0]!,
          l1 = i32[(w + 3) | 0]!;
        let a = h0 | l0,
          b = h1 | l1;
        a -= (a >>> 1) & 0x55555555;
        b -= (b >>> 1) & 0x55555555;
        a = (a & 0x33333333) + ((a >>> 2) & 0x33333333) + (b & 0x33333333) + ((b >>> 2) & 0x33333333);
        a = (a & 0x0f0f0f0f) + ((a >>> 4) & 0x0f0f0f0f);
        if (Layout.HEADER + ((Math.imul(a, 0x01010101) >>> 24) << 3) > cap && st !== checked) break;
        const code =
          half === 0 ? (((h0 >>> bit) & 1) << 1) | ((l0 >>> bit) & 1) : (((h1 >>> bit) & 1) << 1) | ((l1 >>> bit) & 1);
        const len = (1 << code) & lenMask;
        rc = code === 0 ? E.ENOENT : len;
        if (code !== 0) {
          let hm = h0 & m0,
            lm = l0 & m0,
            hl = hm & lm,
            xm = lm & (hm | u);
          a = hl - ((hl >>> 1) & 0x55555555);
          b = xm - ((xm >>> 1) & 0x55555555);
          let d = hm - ((hm >>> 1) & 0x55555555);
          a = (a & 0x33333333) + ((a >>> 2) & 0x33333333) + (b & 0x33333333) + ((b >>> 2) & 0x33333333);
          d = (d & 0x33333333) + ((d >>> 2) & 0x33333333);
          a = (a & 0x0f0f0f0f) + ((a >>> 4) & 0x0f0f0f0f) + (((d + (d >>> 4)) & 0x0f0f0f0f) << 1);
          if (half !== 0) {
            hm = h1 & m1;
            lm = l1 & m1;
            hl = hm & lm;
            xm = lm & (hm | u);
            b = hl - ((hl >>> 1) & 0x55555555);
            const e = xm - ((xm >>> 1) & 0x55555555);
            d = hm - ((hm >>> 1) & 0x55555555);
            b = (b & 0x33333333) + ((b >>> 2) & 0x33333333) + (e & 0x33333333) + ((e >>> 2) & 0x33333333);
            d = (d & 0x33333333) + ((d >>> 2) & 0x33333333);
            a += (b & 0x0f0f0f0f) + ((b >>> 4) & 0x0f0f0f0f) + (((d + (d >>> 4)) & 0x0f0f0f0f) << 1);
          }
          const at = (start + Layout.HEADER + ((Math.imul(a, 0x01010101) >>> 24) << 1)) | 0;
          i32[x] = len === 2 ? dv.getUint16(at, true) : len === 0 ? 0 : dv.getInt32(at, true);
          i32[(x + 1) | 0] = len === 8 ? dv.getInt32((at + 4) | 0, true) : 0;
          ok++;
        }
      }
      i32[st] = rc;
      start = (start + frameSize) | 0;
      c = (c + 1) | 0;
      x = (x + step0) | 0;
    }
    if (st >= end) return ok;
    // Frame st's capacity is under its bound: its exact size, out of the loop above (a call there costs at every frame).
    if (storeSizeAt(i32, start >>> 2, unit) > i32[c]!) {
      i32[st] = E.EBADMSG;
      st = (st + 1) | 0;
      start = (start + frameSize) | 0;
      c = (c + 1) | 0;
      x = (x + step0) | 0;
    } else checked = st;
  }
}

// Mirrors storeGet per frame, as batchGet's path for bursts of one flow.
/**
 * Gets `key` (0..63) from the n frames of a contiguous selection whose headers repeat (JsFrames.oneFlow),
 * as getFast: value i to i32[o + i * step] (lo) and the next element (hi), status i to i32[s + i].
 * Returns the count of successes.
 *
 * What a header implies (the key's length and offset, the bound; the exact size only for a capacity
 * under the bound) is worked out once per distinct header, as getLoop's memo (which starts as the empty
 * header's). Two loops: the inner one serves the frames the memo covers and makes no call; it stops at
 * a frame that needs the memo worked out, which the outer one does with js-offsets.ts's helpers. A call
 * inside the loop (getLoop's, on a miss) makes V8 check every view's map and keep the memo's values
 * tagged at every frame (callgrind, uniform get 4B: getLoop 249 instructions a frame, one loop 194, two 164).
 */
export function getRun(f: JsFrames, n: number, key: number, o: number, step: number, s: number): number {
  const { i32, dv } = f,
    frameSize = f.frameSize | 0,
    unit = f.unit | 0,
    step0 = step | 0,
    end = (s + n) | 0;
  let ok = 0,
    st = s | 0,
    start = (f.base + Math.imul(f.first, frameSize)) | 0,
    c = (f.metas + f.first) | 0,
    x = o | 0,
    m0 = 0,
    m1 = 0,
    m2 = 0,
    m3 = 0,
    res: number = E.ENOENT,
    at: number = Layout.HEADER,
    bound: number = Layout.HEADER,
    used: number = Layout.HEADER;
  for (;;) {
    // The frames the memo serves: no call in this loop.
    for (; st < end; st = (st + 1) | 0) {
      const cap = i32[c]!;
      let rc: number = E.ENOMEM; // before reading: a store under 16 bytes has no header
      if (cap >= Layout.HEADER) {
        const w = start >>> 2;
        if (
          ((i32[w]! ^ m0) | (i32[(w + 1) | 0]! ^ m1) | (i32[(w + 2) | 0]! ^ m2) | (i32[(w + 3) | 0]! ^ m3)) !== 0 ||
          (bound > cap && used < 0)
        )
          break;
        rc = bound > cap && used > cap ? E.EBADMSG : res;
        if (rc >= 0) {
          const p = (start + at) | 0;
          i32[x] = rc === 2 ? dv.getUint16(p, true) : rc === 0 ? 0 : dv.getInt32(p, true);
          i32[(x + 1) | 0] = rc === 8 ? dv.getInt32((p + 4) | 0, true) : 0;
          ok++;
        }
      }
      i32[st] = rc;
      start = (start + frameSize) | 0;
      c = (c + 1) | 0;
      x = (x + step0) | 0;
    }
    if (st >= end) return ok;
    // Frame st has a new header (or a capacity under the bound): the memo is worked out for it.
    const w = start >>> 2,
      h0 = i32[w]!,
      h1 = i32[(w + 1) | 0]!,
      l0 = i32[(w + 2) | 0]!,
      l1 = i32[(w + 3) | 0]!;
    if (((h0 ^ m0) | (h1 ^ m1) | (l0 ^ m2) | (l1 ^ m3)) !== 0) {
      m0 = h0;
      m1 = h1;
      m2 = l0;
      m3 = l1;
      const code = codeAt(h0, l0, h1, l1, key) | 0;
      res = code === 0 ? E.ENOENT : lengthOf(code, unit) | 0;
      at = (Layout.HEADER + bytesBelow(h0, l0, h1, l1, key, unit)) | 0;
      bound = sizeBound(h0, l0, h1, l1) | 0;
      used = -1; // worked out below if a capacity is under the bound
    }
    if (bound > i32[c]! && used < 0) used = storeSize(h0, l0, h1, l1, unit) | 0;
  }
}

// Mirrors storeSet per frame, as batchSet's fast path.
/**
 * Sets `key` (0..63) to `len` bytes (a length of the profile) of the pair at i32[v + i * step] (step 0:
 * one value for all, which the caller checked with fits) in the n frames of a contiguous selection;
 * status i to i32[s + i]. Returns the count of successes.
 */
export function setFast(f: JsFrames, n: number, key: number, len: number, v: number, step: number, s: number): number {
  const { i32, dv } = f,
    frameSize = f.frameSize | 0,
    unit = f.unit | 0,
    u = -unit | 0,
    code = codeOf(len, unit),
    half = key >>> 5,
    bit = key & 31,
    one = 1 << bit,
    below = (one - 1) | 0,
    m0 = half === 0 ? below : -1,
    m1 = half === 0 ? 0 : below,
    // The key's bits as an insert adds them to its half's words.
    addHigh = code & 2 ? one : 0,
    addLow = code & 1 ? one : 0,
    step0 = step | 0;
  let ok = 0,
    start = (f.base + Math.imul(f.first, frameSize)) | 0,
    c = (f.metas + f.first) | 0,
    x = v | 0,
    lo = i32[x]!,
    hi = i32[(x + 1) | 0]!;
  for (let st = s | 0, end = (st + n) | 0; st < end; st = (st + 1) | 0) {
    if (step0 !== 0) {
      lo = i32[x]!;
      hi = i32[(x + 1) | 0]!;
    }
    const cap = i32[c]!;
    let rc: number = E.EINVAL;
    if (step0 === 0 || fits(len, lo, hi)) {
      rc = E.ENOMEM; // before reading: a store under 16 bytes has no header
      if (cap >= Layout.HEADER) {
        const w = start >>> 2,
          h0 = i32[w]!,
          h1 = i32[(w + 1) | 0]!,
          l0 = i32[(w + 2) | 0]!,
          l1 = i32[(w + 3) | 0]!,
          hw = half === 0 ? h0 : h1,
          lw = half === 0 ? l0 : l1,
          old = (((hw >>> bit) & 1) << 1) | ((lw >>> bit) & 1);
        // The offset's lanes (see the top of this file).
        let hm = h0 & m0,
          lm = l0 & m0,
          hl = hm & lm,
          xm = lm & (hm | u);
        let a = hl - ((hl >>> 1) & 0x55555555),
          b = xm - ((xm >>> 1) & 0x55555555),
          d = hm - ((hm >>> 1) & 0x55555555);
        a = (a & 0x33333333) + ((a >>> 2) & 0x33333333) + (b & 0x33333333) + ((b >>> 2) & 0x33333333);
        d = (d & 0x33333333) + ((d >>> 2) & 0x33333333);
        a = (a & 0x0f0f0f0f) + ((a >>> 4) & 0x0f0f0f0f) + (((d + (d >>> 4)) & 0x0f0f0f0f) << 1);
        if (half !== 0) {
          hm = h1 & m1;
          lm = l1 & m1;
          hl = hm & lm;
          xm = lm & (hm | u);
          b = hl - ((hl >>> 1) & 0x55555555);
          const e = xm - ((xm >>> 1) & 0x55555555);
          d = hm - ((hm >>> 1) & 0x55555555);
          b = (b & 0x33333333) + ((b >>> 2) & 0x33333333) + (e & 0x33333333) + ((e >>> 2) & 0x33333333);
          d = (d & 0x33333333) + ((d >>> 2) & 0x33333333);
          a += (b & 0x0f0f0f0f) + ((b >>> 4) & 0x0f0f0f0f) + (((d + (d >>> 4)) & 0x0f0f0f0f) << 1);
        }
        const at = (start + Layout.HEADER + ((Math.imul(a, 0x01010101) >>> 24) << 1)) | 0;
        if (old !== 0) {
          // An overwrite: the bound, the exact size only under it.
          a = h0 | l0;
          b = h1 | l1;
          a -= (a >>> 1) & 0x55555555;
          b -= (b >>> 1) & 0x55555555;
          a = (a & 0x33333333) + ((a >>> 2) & 0x33333333) + (b & 0x33333333) + ((b >>> 2) & 0x33333333);
          a = (a & 0x0f0f0f0f) + ((a >>> 4) & 0x0f0f0f0f);
          if (Layout.HEADER + ((Math.imul(a, 0x01010101) >>> 24) << 3) > cap && storeSize(h0, l0, h1, l1, unit) > cap)
            rc = E.EBADMSG;
          else rc = old === code ? 0 : E.EBUSY;
        } else {
          // An insert: the values from the key's offset on move up by its length.
          const used = storeSize(h0, l0, h1, l1, unit);
          rc = used > cap ? E.EBADMSG : used + len > cap ? E.ENOSPC : 0;
          if (rc === 0) {
            moveUp(dv, at, (start + used - at) | 0, len);
            i32[(w + half) | 0] = hw | addHigh;
            i32[(w + 2 + half) | 0] = lw | addLow;
          }
        }
        if (rc === 0) {
          if (len === 8) {
            dv.setInt32(at, lo, true);
            dv.setInt32((at + 4) | 0, hi, true);
          } else if (len === 4) dv.setInt32(at, lo, true);
          else if (len === 2) dv.setUint16(at, lo, true);
          ok++;
        }
      }
    }
    i32[st] = rc;
    start = (start + frameSize) | 0;
    c = (c + 1) | 0;
    x = (x + step0) | 0;
  }
  return ok;
}

// Mirrors storeSet per frame, as batchSet's path for bursts of one flow.
/**
 * Sets `key` (0..63) as setFast does, in the n frames of a contiguous selection whose headers repeat
 * (JsFrames.oneFlow), with getRun's memo and its two loops: the inner one serves the overwrites (and
 * EINVAL, ENOMEM, EBUSY) of frames whose header is the memo's and makes no call; the outer one works
 * the memo out for a new header, the exact size for a capacity under the bound, and the inserts.
 * Returns the count of successes.
 */
export function setRun(f: JsFrames, n: number, key: number, len: number, v: number, step: number, s: number): number {
  const { i32, dv } = f,
    frameSize = f.frameSize | 0,
    unit = f.unit | 0,
    code = codeOf(len, unit) | 0,
    half = key >>> 5,
    one = 1 << (key & 31),
    step0 = step | 0,
    end = (s + n) | 0;
  let ok = 0,
    st = s | 0,
    checked = -1,
    start = (f.base + Math.imul(f.first, frameSize)) | 0,
    c = (f.metas + f.first) | 0,
    x = v | 0,
    lo = i32[x]!,
    hi = i32[(x + 1) | 0]!,
    m0 = 0,
    m1 = 0,
    m2 = 0,
    m3 = 0,
    old = 0,
    at: number = Layout.HEADER,
    bound: number = Layout.HEADER,
    used: number = Layout.HEADER;
  for (;;) {
    for (; st < end; st = (st + 1) | 0) {
      if (step0 !== 0) {
        lo = i32[x]!;
        hi = i32[(x + 1) | 0]!;
      }
      const cap = i32[c]!;
      let rc: number = E.EINVAL;
      // fits (js-offsets.ts) written out: no call in this loop.
      if (step0 === 0 || len === 8 || (hi === 0 && (len === 4 || (len === 2 ? lo >>> 0 <= 0xffff : lo === 0)))) {
        rc = E.ENOMEM; // before reading: a store under 16 bytes has no header
        if (cap >= Layout.HEADER) {
          const w = start >>> 2;
          if (
            ((i32[w]! ^ m0) | (i32[(w + 1) | 0]! ^ m1) | (i32[(w + 2) | 0]! ^ m2) | (i32[(w + 3) | 0]! ^ m3)) !== 0 ||
            old === 0 ||
            (bound > cap && st !== checked)
          )
            break;
          rc = old === code ? 0 : E.EBUSY;
          if (rc === 0) {
            const p = (start + at) | 0;
            if (len === 8) {
              dv.setInt32(p, lo, true);
              dv.setInt32((p + 4) | 0, hi, true);
            } else if (len === 4) dv.setInt32(p, lo, true);
            else if (len === 2) dv.setUint16(p, lo, true);
            ok++;
          }
        }
      }
      i32[st] = rc;
      start = (start + frameSize) | 0;
      c = (c + 1) | 0;
      x = (x + step0) | 0;
    }
    if (st >= end) return ok;
    // Frame st: a new header, a capacity under the bound, or an insert.
    const w = start >>> 2,
      h0 = i32[w]!,
      h1 = i32[(w + 1) | 0]!,
      l0 = i32[(w + 2) | 0]!,
      l1 = i32[(w + 3) | 0]!,
      cap = i32[c]!;
    if (((h0 ^ m0) | (h1 ^ m1) | (l0 ^ m2) | (l1 ^ m3)) !== 0) {
      m0 = h0;
      m1 = h1;
      m2 = l0;
      m3 = l1;
      old = codeAt(h0, l0, h1, l1, key) | 0;
      at = (Layout.HEADER + bytesBelow(h0, l0, h1, l1, key, unit)) | 0;
      bound = sizeBound(h0, l0, h1, l1) | 0;
      used = -1; // worked out below where needed
      continue;
    }
    if (used < 0 && (old === 0 || bound > cap)) used = storeSize(h0, l0, h1, l1, unit) | 0;
    if (old !== 0) {
      // An overwrite under the bound: its exact size decides.
      if (used <= cap) {
        checked = st;
        continue;
      }
      i32[st] = E.EBADMSG;
    } else {
      // An insert: the values from the key's offset on move up by its length.
      const rc = used > cap ? E.EBADMSG : used + len > cap ? E.ENOSPC : 0;
      if (rc === 0) {
        moveUp(dv, (start + at) | 0, (used - at) | 0, len);
        i32[(w + half) | 0] = (half === 0 ? h0 : h1) | (code & 2 ? one : 0);
        i32[(w + 2 + half) | 0] = (half === 0 ? l0 : l1) | (code & 1 ? one : 0);
        writeValue(dv, (start + at) | 0, len, lo, hi);
        ok++;
      }
      i32[st] = rc;
    }
    st = (st + 1) | 0;
    start = (start + frameSize) | 0;
    c = (c + 1) | 0;
    x = (x + step0) | 0;
  }
}

// Mirrors storeDel per frame, as batchDel's fast path.
/** Removes `key` (0..63) from the n frames of a contiguous selection; status i to i32[s + i]. Returns the count of successes. */
export function delFast(f: JsFrames, n: number, key: number, s: number): number {
  const { i32, dv } = f,
    frameSize = f.frameSize | 0,
    unit = f.unit | 0,
    u = -unit | 0,
    lenMask = ~(((unit ^ 1) << 1) | 1),
    half = key >>> 5,
    bit = key & 31,
    keep = ~(1 << bit),
    below = ((1 << bit) - 1) | 0,
    m0 = half === 0 ? below : -1,
    m1 = half === 0 ? 0 : below;
  let ok = 0,
    start = (f.base + Math.imul(f.first, frameSize)) | 0,
    c = (f.metas + f.first) | 0;
  for (let st = s | 0, end = (st + n) | 0; st < end; st = (st + 1) | 0) {
    const cap = i32[c]!;
    let rc: number = E.ENOMEM; // before reading: a store under 16 bytes has no header
    if (cap >= Layout.HEADER) {
      const w = start >>> 2,
        h0 = i32[w]!,
        h1 = i32[(w + 1) | 0]!,
        l0 = i32[(w + 2) | 0]!,
        l1 = i32[(w + 3) | 0]!,
        hw = half === 0 ? h0 : h1,
        lw = half === 0 ? l0 : l1,
        code = (((hw >>> bit) & 1) << 1) | ((lw >>> bit) & 1),
        used = storeSize(h0, l0, h1, l1, unit);
      rc = used > cap ? E.EBADMSG : code === 0 ? E.ENOENT : 0;
      if (rc === 0) {
        let hm = h0 & m0,
          lm = l0 & m0,
          hl = hm & lm,
          xm = lm & (hm | u);
        let a = hl - ((hl >>> 1) & 0x55555555),
          b = xm - ((xm >>> 1) & 0x55555555),
          d = hm - ((hm >>> 1) & 0x55555555);
        a = (a & 0x33333333) + ((a >>> 2) & 0x33333333) + (b & 0x33333333) + ((b >>> 2) & 0x33333333);
        d = (d & 0x33333333) + ((d >>> 2) & 0x33333333);
        a = (a & 0x0f0f0f0f) + ((a >>> 4) & 0x0f0f0f0f) + (((d + (d >>> 4)) & 0x0f0f0f0f) << 1);
        if (half !== 0) {
          hm = h1 & m1;
          lm = l1 & m1;
          hl = hm & lm;
          xm = lm & (hm | u);
          b = hl - ((hl >>> 1) & 0x55555555);
          const e = xm - ((xm >>> 1) & 0x55555555);
          d = hm - ((hm >>> 1) & 0x55555555);
          b = (b & 0x33333333) + ((b >>> 2) & 0x33333333) + (e & 0x33333333) + ((e >>> 2) & 0x33333333);
          d = (d & 0x33333333) + ((d >>> 2) & 0x33333333);
          a += (b & 0x0f0f0f0f) + ((b >>> 4) & 0x0f0f0f0f) + (((d + (d >>> 4)) & 0x0f0f0f0f) << 1);
        }
        const len = (1 << code) & lenMask,
          from = (start + Layout.HEADER + ((Math.imul(a, 0x01010101) >>> 24) << 1) + len) | 0;
        moveDown(dv, from, (start + used - from) | 0, len);
        i32[(w + half) | 0] = hw & keep;
        i32[(w + 2 + half) | 0] = lw & keep;
        ok++;
      }
    }
    i32[st] = rc;
    start = (start + frameSize) | 0;
    c = (c + 1) | 0;
  }
  return ok;
}

/**
 * Moves the `size` bytes (even) at `from` up by `by` bytes, by 4-byte words from the highest, every
 * word read before it is overwritten (the first one kept aside: it may overlap the last store).
 */
function moveUp(dv: DataView, from: number, size: number, by: number): void {
  if (size >= 4) {
    const head = dv.getInt32(from, true);
    for (let i = size; i > 4; ) {
      i = (i - 4) | 0;
      dv.setInt32((from + i + by) | 0, dv.getInt32((from + i) | 0, true), true);
    }
    dv.setInt32((from + by) | 0, head, true);
  } else if (size !== 0) dv.setUint16((from + by) | 0, dv.getUint16(from, true), true);
}

/** Moves the `size` bytes (even) at `from` down by `by` bytes, by 4-byte words from the lowest (the last one kept aside). */
function moveDown(dv: DataView, from: number, size: number, by: number): void {
  if (size >= 4) {
    const tail = dv.getInt32((from + size - 4) | 0, true);
    for (let i = 0; ((i + 4) | 0) < size; i = (i + 4) | 0)
      dv.setInt32((from + i - by) | 0, dv.getInt32((from + i) | 0, true), true);
    dv.setInt32((from + size - 4 - by) | 0, tail, true);
  } else if (size !== 0) dv.setUint16((from - by) | 0, dv.getUint16(from, true), true);
}

// Mirrors storeDecode per frame, as decodeLoop without its memo.
/**
 * Decodes the n frames of a contiguous selection, entry e to u8[k + e] (key), u8[l + e] (length) and
 * i32[v + 2e], i32[v + 2e + 1] (lo, hi), at most `room` entries in all; status i (the frame's entries or
 * an errno) to i32[s + i]. Each frame is decoded in one pass over its header (decodeLoop lists a header's
 * entries first, for the frames after it with the same header). Returns the count of entries.
 */
export function decodeFast(f: JsFrames, n: number, k: number, l: number, v: number, room: number, s: number): number {
  const { u8, i32, dv } = f,
    frameSize = f.frameSize | 0,
    unit = f.unit | 0,
    lenMask = ~(((unit ^ 1) << 1) | 1),
    keyAt = k | 0,
    lenAt = l | 0,
    valAt = v | 0;
  let total = 0,
    start = (f.base + Math.imul(f.first, frameSize)) | 0,
    c = (f.metas + f.first) | 0;
  for (let st = s | 0, end = (st + n) | 0; st < end; st = (st + 1) | 0) {
    const cap = i32[c]!;
    let rc: number = E.ENOMEM; // before reading: a store under 16 bytes has no header
    if (cap >= Layout.HEADER) {
      const w = start >>> 2,
        h0 = i32[w]!,
        h1 = i32[(w + 1) | 0]!,
        l0 = i32[(w + 2) | 0]!,
        l1 = i32[(w + 3) | 0]!,
        bound = sizeBound(h0, l0, h1, l1);
      // The exact size only if the bound (8 bytes a key) says the store may not fit, or the pairs read past it.
      const used = bound + 8 > cap ? storeSize(h0, l0, h1, l1, unit) : bound;
      if (used > cap) rc = E.EBADMSG;
      else if ((bound - Layout.HEADER) >>> 3 > room - total) rc = E.ENOSPC;
      else {
        // Values as masked 8-byte pairs where 8 bytes past the last are in the store (see decodeLoop).
        const pairs = used + 8 <= cap;
        let e = total,
          at = start + Layout.HEADER;
        for (let half = 0; half < 2; half++) {
          const hw = half === 0 ? h0 : h1,
            lw = half === 0 ? l0 : l1;
          for (let rest = hw | lw; rest !== 0; rest &= rest - 1) {
            const bit = 31 - Math.clz32(rest & -rest),
              len = (1 << ((((hw >>> bit) & 1) << 1) | ((lw >>> bit) & 1))) & lenMask,
              o = (valAt + 2 * e) | 0;
            u8[(keyAt + e) | 0] = (half << 5) | bit;
            u8[(lenAt + e) | 0] = len;
            if (pairs) {
              // readValue8 written out: an imported function costs a check of its identity at each call.
              i32[o] = dv.getInt32(at, true) & (-1 >>> (32 - (len << 3))) & -((len + 6) >>> 3);
              i32[(o + 1) | 0] = dv.getInt32((at + 4) | 0, true) & -(len >>> 3);
            } else readValue(dv, at, len, i32, o, true);
            at = (at + len) | 0;
            e = (e + 1) | 0;
          }
        }
        rc = e - total;
        total = e;
      }
    }
    i32[st] = rc;
    start = (start + frameSize) | 0;
    c = (c + 1) | 0;
  }
  return total;
}
