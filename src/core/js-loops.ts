/**
 * The JS twin's batch loops: each runs one operation of assembly/store.ts over the frames a JsFrames
 * selects (a pool's frames for the batch calls; one store for setMany and decode of one store), as
 * assembly/batch.ts does; no BigInt. Each loop holds its operation's whole per-frame body, calling
 * only the small helpers of js-offsets.ts: V8 then compiles it on its own (it is too large to be
 * inlined into callers) with every helper inlined, which a per-frame function call defeated (inlining budget).
 */
// Const enums (abi.ts, js-offsets.ts) are inlined as literals by tsc: module-level consts would cost a
// TDZ check on every use in V8's optimized code.
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
  readValue8,
  sizeBound,
  storeSize,
  writeValue,
} from "./js-offsets.js";

// The loops, in the order of assembly/store.ts. Each frame's result goes to status[s + i]; each
// returns its count of successes. A frame outside the pool (or a key over 63) gets EINVAL; a store
// under 16 bytes ENOMEM, before its header is read; a header declaring more than the capacity EBADMSG.
// What a header implies for the operation (its size, the key's size code and value offset) is worked
// out once per distinct header and kept while the frames' headers repeat, as they do in a burst of
// one flow: the memo is the header's four 32-bit words (m0..m3: h0, h1, l0, l1, which the loop reads
// anyway) and starts as the empty header's. Working a header out is popcount arithmetic on small
// integers (js-offsets.ts); the exact size only where an operation needs it (an insert, a delete, a
// decode) or where a capacity is under the cheap bound (8 bytes a key).
// Every number the loops keep is a small integer: the selection and the arguments are made int32
// (`| 0`) once, before the loop, so that V8 neither re-checks nor re-tags them at every frame.

// Mirrors storeInit, frame by frame as batchInit.
/** Empties each store (zeroes its header). */
export function initLoop(f: JsFrames, n: number, status: Int32Array, s: number): number {
  const { i32, caps } = f,
    base = f.base | 0,
    frameSize = f.frameSize | 0,
    count = f.count | 0,
    desc = f.desc | 0,
    first = f.first | 0,
    heads = f.heads | 0,
    metas = f.metas | 0,
    s0 = s | 0;
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const frame = desc >= 0 ? i32[desc + i]! : first + i;
    let rc: number = E.EINVAL;
    if (frame >>> 0 < count) {
      const cap = caps[metas + frame]!,
        w = (base + frame * frameSize + (heads === metas ? 0 : caps[heads + frame]! - cap)) >>> 2;
      if (cap < Layout.HEADER) rc = E.ENOMEM;
      else {
        i32[w] = 0;
        i32[w + 1] = 0;
        i32[w + 2] = 0;
        i32[w + 3] = 0;
        rc = 0;
      }
    }
    status[s0 + i] = rc;
    if (rc === 0) ok++;
  }
  return ok;
}

// Mirrors storeHas, frame by frame as batchHas.
/** Tests `key`: 1 or 0; returns how many frames hold it. */
export function hasLoop(f: JsFrames, n: number, key: number, status: Int32Array, s: number): number {
  const { i32, caps } = f,
    base = f.base | 0,
    frameSize = f.frameSize | 0,
    count = key < 64 ? f.count | 0 : 0,
    desc = f.desc | 0,
    first = f.first | 0,
    heads = f.heads | 0,
    metas = f.metas | 0,
    unit = f.unit | 0,
    s0 = s | 0,
    half = key >>> 5,
    bit = key & 31;
  let ok = 0,
    m0 = 0,
    m1 = 0,
    m2 = 0,
    m3 = 0,
    bound: number = Layout.HEADER,
    used: number = Layout.HEADER,
    res = 0;
  for (let i = 0; i < n; i++) {
    const frame = desc >= 0 ? i32[desc + i]! : first + i;
    let rc: number = E.EINVAL;
    if (frame >>> 0 < count) {
      const cap = caps[metas + frame]!,
        start = base + frame * frameSize + (heads === metas ? 0 : caps[heads + frame]! - cap);
      if (cap < Layout.HEADER)
        rc = E.ENOMEM; // before reading: a store under 16 bytes has no header
      else {
        const w = start >>> 2,
          h0 = i32[w]!,
          h1 = i32[w + 1]!,
          l0 = i32[w + 2]!,
          l1 = i32[w + 3]!;
        if (((h0 ^ m0) | (h1 ^ m1) | (l0 ^ m2) | (l1 ^ m3)) !== 0) {
          m0 = h0;
          m1 = h1;
          m2 = l0;
          m3 = l1;
          bound = sizeBound(h0, l0, h1, l1);
          used = -1; // worked out below if a capacity is under the bound
          res = ((half === 0 ? h0 | l0 : h1 | l1) >>> bit) & 1;
        }
        if (bound > cap && used < 0) used = storeSize(h0, l0, h1, l1, unit);
        rc = bound > cap && used > cap ? E.EBADMSG : res;
      }
    }
    status[s0 + i] = rc;
    if (rc === 1) ok++;
  }
  return ok;
}

// Mirrors storeGet (assembly/store.ts), frame by frame as batchGet (assembly/batch.ts).
/** Gets `key`: value i to out[o + i * step] (lo) and, if outLen >= 8, the next element (hi). */
export function getLoop(
  f: JsFrames,
  n: number,
  key: number,
  outLen: number,
  out: Int32Array,
  o: number,
  step: number,
  status: Int32Array,
  s: number,
): number {
  const { i32, dv, caps } = f,
    base = f.base | 0,
    frameSize = f.frameSize | 0,
    count = key < 64 ? f.count | 0 : 0,
    desc = f.desc | 0,
    first = f.first | 0,
    heads = f.heads | 0,
    metas = f.metas | 0,
    unit = f.unit | 0,
    o0 = o | 0,
    step0 = step | 0,
    s0 = s | 0,
    wide = outLen >= 8;
  let ok = 0,
    m0 = 0,
    m1 = 0,
    m2 = 0,
    m3 = 0,
    bound: number = Layout.HEADER,
    used: number = Layout.HEADER,
    res: number = E.ENOENT,
    at = 0;
  for (let i = 0; i < n; i++) {
    const frame = desc >= 0 ? i32[desc + i]! : first + i;
    let rc: number = E.EINVAL;
    if (frame >>> 0 < count) {
      const cap = caps[metas + frame]!,
        start = base + frame * frameSize + (heads === metas ? 0 : caps[heads + frame]! - cap);
      if (cap < Layout.HEADER)
        rc = E.ENOMEM; // before reading: a store under 16 bytes has no header
      else {
        const w = start >>> 2,
          h0 = i32[w]!,
          h1 = i32[w + 1]!,
          l0 = i32[w + 2]!,
          l1 = i32[w + 3]!;
        if (((h0 ^ m0) | (h1 ^ m1) | (l0 ^ m2) | (l1 ^ m3)) !== 0) {
          m0 = h0;
          m1 = h1;
          m2 = l0;
          m3 = l1;
          const code = codeAt(h0, l0, h1, l1, key),
            len = lengthOf(code, unit);
          bound = sizeBound(h0, l0, h1, l1);
          used = -1; // worked out below if a capacity is under the bound
          res = code === 0 ? E.ENOENT : len > outLen ? E.ENOSPC : len;
          at = Layout.HEADER + bytesBelow(h0, l0, h1, l1, key, unit);
        }
        if (bound > cap && used < 0) used = storeSize(h0, l0, h1, l1, unit);
        rc = bound > cap && used > cap ? E.EBADMSG : res;
        if (rc >= 0) readValue(dv, start + at, rc, out, o0 + i * step0, wide);
      }
    }
    status[s0 + i] = rc;
    if (rc >= 0) ok++;
  }
  return ok;
}

// Mirrors storeSet, frame by frame as batchSet.
/** Sets `key` to `len` bytes of the pair at vals[v + i * step] (step 0: one value for all). */
export function setLoop(
  f: JsFrames,
  n: number,
  key: number,
  len: number,
  vals: Int32Array,
  v: number,
  step: number,
  status: Int32Array,
  s: number,
): number {
  const { i32, u16, dv, caps } = f,
    base = f.base | 0,
    frameSize = f.frameSize | 0,
    desc = f.desc | 0,
    first = f.first | 0,
    heads = f.heads | 0,
    metas = f.metas | 0,
    unit = f.unit | 0,
    v0 = v | 0,
    step0 = step | 0,
    s0 = s | 0,
    code = codeOf(len, unit),
    half = key >>> 5,
    bit = 1 << (key & 31),
    shift = len >>> 1;
  // One value for all (step 0) is read and checked once, as assembly/batch.ts does.
  let lo = vals[v0]!,
    hi = vals[v0 + 1]!;
  const count = key < 64 && code !== 0 && (step0 !== 0 || fits(len, lo, hi)) ? f.count | 0 : 0;
  let ok = 0,
    m0 = 0,
    m1 = 0,
    m2 = 0,
    m3 = 0,
    bound: number = Layout.HEADER,
    used: number = Layout.HEADER,
    old = 0,
    at: number = Layout.HEADER,
    // The key's two header words with its size code added (an insert writes them).
    withHigh = code & 2 ? bit : 0,
    withLow = code & 1 ? bit : 0;
  for (let i = 0; i < n; i++) {
    const frame = desc >= 0 ? i32[desc + i]! : first + i;
    if (step0 !== 0) {
      lo = vals[v0 + i * step0]!;
      hi = vals[v0 + i * step0 + 1]!;
    }
    let rc: number = E.EINVAL;
    if (frame >>> 0 < count && (step0 === 0 || fits(len, lo, hi))) {
      const cap = caps[metas + frame]!,
        start = base + frame * frameSize + (heads === metas ? 0 : caps[heads + frame]! - cap);
      if (cap < Layout.HEADER)
        rc = E.ENOMEM; // before reading: a store under 16 bytes has no header
      else {
        const w = start >>> 2,
          h0 = i32[w]!,
          h1 = i32[w + 1]!,
          l0 = i32[w + 2]!,
          l1 = i32[w + 3]!;
        if (((h0 ^ m0) | (h1 ^ m1) | (l0 ^ m2) | (l1 ^ m3)) !== 0) {
          m0 = h0;
          m1 = h1;
          m2 = l0;
          m3 = l1;
          old = codeAt(h0, l0, h1, l1, key);
          bound = sizeBound(h0, l0, h1, l1);
          // An insert moves the values after it: exact size now; an overwrite needs it only under the bound.
          used = old === 0 ? storeSize(h0, l0, h1, l1, unit) : -1;
          at = Layout.HEADER + bytesBelow(h0, l0, h1, l1, key, unit);
          withHigh = (half === 0 ? h0 : h1) | (code & 2 ? bit : 0);
          withLow = (half === 0 ? l0 : l1) | (code & 1 ? bit : 0);
        }
        if (bound > cap && used < 0) used = storeSize(h0, l0, h1, l1, unit);
        if (bound > cap && used > cap) rc = E.EBADMSG;
        else if (old !== 0 && old !== code) rc = E.EBUSY;
        else if (old === 0 && used + len > cap) rc = E.ENOSPC;
        else {
          if (old === 0) {
            for (let j = (start + used) >>> 1, end = (start + at) >>> 1; j > end; ) {
              j--;
              u16[j + shift] = u16[j]!;
            }
            i32[w + half] = withHigh;
            i32[w + 2 + half] = withLow;
          }
          writeValue(dv, start + at, len, lo, hi);
          rc = 0;
        }
      }
    }
    status[s0 + i] = rc;
    if (rc === 0) ok++;
  }
  return ok;
}

// Mirrors storeDel, frame by frame as batchDel.
/** Removes `key`. */
export function delLoop(f: JsFrames, n: number, key: number, status: Int32Array, s: number): number {
  const { i32, u16, caps } = f,
    base = f.base | 0,
    frameSize = f.frameSize | 0,
    count = key < 64 ? f.count | 0 : 0,
    desc = f.desc | 0,
    first = f.first | 0,
    heads = f.heads | 0,
    metas = f.metas | 0,
    unit = f.unit | 0,
    s0 = s | 0,
    half = key >>> 5,
    bit = 1 << (key & 31);
  let ok = 0,
    m0 = 0,
    m1 = 0,
    m2 = 0,
    m3 = 0,
    used: number = Layout.HEADER,
    shift = -1,
    at = 0,
    // The key's two header words without it (a delete writes them).
    withoutHigh = 0,
    withoutLow = 0;
  for (let i = 0; i < n; i++) {
    const frame = desc >= 0 ? i32[desc + i]! : first + i;
    let rc: number = E.EINVAL;
    if (frame >>> 0 < count) {
      const cap = caps[metas + frame]!,
        start = base + frame * frameSize + (heads === metas ? 0 : caps[heads + frame]! - cap);
      if (cap < Layout.HEADER)
        rc = E.ENOMEM; // before reading: a store under 16 bytes has no header
      else {
        const w = start >>> 2,
          h0 = i32[w]!,
          h1 = i32[w + 1]!,
          l0 = i32[w + 2]!,
          l1 = i32[w + 3]!;
        if (((h0 ^ m0) | (h1 ^ m1) | (l0 ^ m2) | (l1 ^ m3)) !== 0) {
          m0 = h0;
          m1 = h1;
          m2 = l0;
          m3 = l1;
          const code = codeAt(h0, l0, h1, l1, key);
          used = storeSize(h0, l0, h1, l1, unit);
          // Half the value's length: the u16 moves below; -1 for an absent key (ENOENT).
          shift = code === 0 ? -1 : lengthOf(code, unit) >>> 1;
          at = Layout.HEADER + bytesBelow(h0, l0, h1, l1, key, unit);
          withoutHigh = (half === 0 ? h0 : h1) & ~bit;
          withoutLow = (half === 0 ? l0 : l1) & ~bit;
        }
        if (used > cap) rc = E.EBADMSG;
        else if (shift < 0) rc = E.ENOENT;
        else {
          for (let j = (start + at) >>> 1, end = ((start + used) >>> 1) - shift; j < end; j++) u16[j] = u16[j + shift]!;
          i32[w + half] = withoutHigh;
          i32[w + 2 + half] = withoutLow;
          rc = 0;
        }
      }
    }
    status[s0 + i] = rc;
    if (rc === 0) ok++;
  }
  return ok;
}

// Mirrors storeSetMany (after prepareFields: Fields.prepare in js-offsets.ts), frame by frame as batchSetMany.
/**
 * Sets the prepared field list (f.fields) per frame, all or nothing (see assembly/store.ts
 * storeSetMany), frame i's value pairs at vals[v0 + i * step ..]; with `replace`, on an emptied store.
 */
export function setManyLoop(
  f: JsFrames,
  n: number,
  vals: Int32Array,
  v0: number,
  step: number,
  replace: boolean,
  status: Int32Array,
  s: number,
): number {
  const fields = f.fields;
  if (replace && fields.distinct && fields.m > 0) return replaceLoop(f, n, vals, v0, step, status, s);
  const { i32, u16, dv, caps } = f,
    base = f.base | 0,
    frameSize = f.frameSize | 0,
    count = f.count | 0,
    desc = f.desc | 0,
    first = f.first | 0,
    heads = f.heads | 0,
    metas = f.metas | 0,
    unit = f.unit | 0;
  const { m, keys, lens, offsets } = fields,
    f0 = fields.h0 | fields.l0,
    f1 = fields.h1 | fields.l1;
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const frame = desc >= 0 ? i32[desc + i]! : first + i,
      v = v0 + i * step;
    let rc: number = E.EINVAL;
    if (frame >>> 0 < count) {
      const cap = caps[metas + frame]!,
        start = base + frame * frameSize + (heads === metas ? 0 : caps[heads + frame]! - cap),
        w = start >>> 2;
      let allFit = true;
      for (let j = 0; j < m; j++) allFit &&= fits(lens[j]!, vals[v + 2 * j]!, vals[v + 2 * j + 1]!);
      // An emptied store, or one under 16 bytes (ENOMEM below, its header never read), starts from a zero header.
      const fresh = replace || cap < Layout.HEADER;
      const h0 = fresh ? 0 : i32[w]!,
        h1 = fresh ? 0 : i32[w + 1]!,
        l0 = fresh ? 0 : i32[w + 2]!,
        l1 = fresh ? 0 : i32[w + 3]!;
      const used = storeSize(h0, l0, h1, l1, unit);
      let n0 = h0 | fields.h0,
        n1 = h1 | fields.h1,
        m0 = l0 | fields.l0,
        m1 = l1 | fields.l1;
      let lowest = f0 !== 0 ? 31 - Math.clz32(f0 & -f0) : 63 - Math.clz32(f1 & -f1);
      if (replace && cap < Layout.HEADER) rc = E.ENOMEM;
      else if (m === 0) rc = 0;
      // The first field's value before the store, as the first of the same sets one by one would check them.
      else if (!fits(lens[0]!, vals[v]!, vals[v + 1]!)) rc = E.EINVAL;
      else if (cap < Layout.HEADER) rc = E.ENOMEM;
      else if (used > cap) rc = E.EBADMSG;
      else if (
        allFit &&
        fields.distinct &&
        ((h0 | l0) & f0) === 0 &&
        ((h1 | l1) & f1) === 0 &&
        used + fields.bytes <= cap
      )
        rc = 0;
      else {
        // Not all distinct new keys that fit: replay the sets one by one to find the first error, or the new header.
        n0 = h0;
        n1 = h1;
        m0 = l0;
        m1 = l1;
        lowest = 64;
        let added = 0;
        rc = 0;
        for (let j = 0; j < m && rc === 0; j++) {
          const key = keys[j]!,
            len = lens[j]!,
            code = codeOf(len, unit),
            bit = 1 << (key & 31);
          const old = ((key < 32 ? n0 : n1) & bit ? 2 : 0) | ((key < 32 ? m0 : m1) & bit ? 1 : 0);
          if (!fits(len, vals[v + 2 * j]!, vals[v + 2 * j + 1]!)) rc = E.EINVAL;
          else if (old !== 0) rc = old === code ? 0 : E.EBUSY;
          else if (used + (added += len) > cap) rc = E.ENOSPC;
          else {
            if (key < 32) {
              if (code & 2) n0 |= bit;
              if (code & 1) m0 |= bit;
            } else {
              if (code & 2) n1 |= bit;
              if (code & 1) m1 |= bit;
            }
            if (key < lowest) lowest = key;
          }
        }
      }
      if (rc === 0 && m > 0) {
        if ((h0 | l0 | h1 | l1) === 0 && fields.distinct) {
          // An empty store (or a replaced one) and distinct keys: the prepared offsets hold.
          for (let j = 0; j < m; j++)
            writeValue(dv, start + offsets[j]!, lens[j]!, vals[v + 2 * j]!, vals[v + 2 * j + 1]!);
        } else {
          // Values above the lowest inserted key move up, highest first, each once.
          for (let half = 1; half >= 0 && lowest < 64; half--) {
            let rest = half === 1 ? h1 | l1 : h0 | l0;
            if (lowest >= 32 * half) rest &= ~(((2 << (lowest - 32 * half)) - 1) | 0);
            while (rest !== 0) {
              const bit = 31 - Math.clz32(rest),
                key = 32 * half + bit;
              rest ^= 1 << bit;
              const code = ((((half === 1 ? h1 : h0) >>> bit) & 1) << 1) | (((half === 1 ? l1 : l0) >>> bit) & 1);
              const from = (start + Layout.HEADER + bytesBelow(h0, l0, h1, l1, key, unit)) >>> 1;
              const to = (start + Layout.HEADER + bytesBelow(n0, m0, n1, m1, key, unit)) >>> 1;
              for (let x = (lengthOf(code, unit) >>> 1) - 1; x >= 0; x--) u16[to + x] = u16[from + x]!;
            }
          }
          for (let j = 0; j < m; j++) {
            writeValue(
              dv,
              start + Layout.HEADER + bytesBelow(n0, m0, n1, m1, keys[j]!, unit),
              lens[j]!,
              vals[v + 2 * j]!,
              vals[v + 2 * j + 1]!,
            );
          }
        }
        i32[w] = n0;
        i32[w + 1] = n1;
        i32[w + 2] = m0;
        i32[w + 3] = m1;
      } else if (rc === 0 && replace) {
        i32[w] = 0;
        i32[w + 1] = 0;
        i32[w + 2] = 0;
        i32[w + 3] = 0;
      }
    }
    status[s + i] = rc;
    if (rc === 0) ok++;
  }
  return ok;
}

/**
 * setManyLoop with `replace` and distinct keys (annotating fresh packets): every store is emptied,
 * so the new header and every value's offset are the prepared ones, and a frame's first error is
 * that of the first field whose value does not fit (EINVAL) or whose bytes (with those before it)
 * pass the capacity (ENOSPC), as the same sets one by one after a clear would meet them.
 */
function replaceLoop(
  f: JsFrames,
  n: number,
  vals: Int32Array,
  v0: number,
  step: number,
  status: Int32Array,
  s: number,
): number {
  const { i32, dv, caps, fields } = f,
    base = f.base | 0,
    frameSize = f.frameSize | 0,
    count = f.count | 0,
    desc = f.desc | 0,
    first = f.first | 0,
    heads = f.heads | 0,
    metas = f.metas | 0,
    s0 = s | 0,
    step0 = step | 0,
    m = fields.m | 0,
    h0 = fields.h0 | 0,
    h1 = fields.h1 | 0,
    l0 = fields.l0 | 0,
    l1 = fields.l1 | 0,
    { lens, offsets } = fields;
  let ok = 0;
  for (let i = 0, v = v0 | 0; i < n; i++, v += step0) {
    const frame = desc >= 0 ? i32[desc + i]! : first + i;
    let rc: number = E.EINVAL;
    if (frame >>> 0 < count) {
      const cap = caps[metas + frame]!,
        start = base + frame * frameSize + (heads === metas ? 0 : caps[heads + frame]! - cap);
      if (cap < Layout.HEADER) rc = E.ENOMEM;
      else {
        rc = 0;
        for (let j = 0, end = Layout.HEADER; j < m; j++) {
          const len = lens[j]!;
          end += len;
          if (!fits(len, vals[v + 2 * j]!, vals[v + 2 * j + 1]!)) rc = E.EINVAL;
          else if (end > cap) rc = E.ENOSPC;
          if (rc !== 0) break;
        }
        // A failed frame changes nothing; otherwise the header, then each value at its prepared offset.
        if (rc === 0) {
          const w = start >>> 2;
          i32[w] = h0;
          i32[w + 1] = h1;
          i32[w + 2] = l0;
          i32[w + 3] = l1;
          for (let j = 0; j < m; j++)
            writeValue(dv, start + offsets[j]!, lens[j]!, vals[v + 2 * j]!, vals[v + 2 * j + 1]!);
        }
      }
    }
    status[s0 + i] = rc;
    if (rc === 0) ok++;
  }
  return ok;
}

// Mirrors storeDecode, frame by frame as batchDecode.
/**
 * Appends each store's entries: keys to keys[k + e], lengths to lens[l + e], value pairs to
 * vals[v + 2e], for entries e < room; a store that does not fit gets ENOSPC and writes nothing.
 * Status = the store's entry count. Returns the number of entries written.
 */
export function decodeLoop(
  f: JsFrames,
  n: number,
  keys: Uint8Array,
  k: number,
  lens: Uint8Array,
  l: number,
  vals: Int32Array,
  v: number,
  room: number,
  status: Int32Array,
  s: number,
): number {
  const { i32, dv, caps, memoEntries } = f,
    base = f.base | 0,
    frameSize = f.frameSize | 0,
    count = f.count | 0,
    desc = f.desc | 0,
    first = f.first | 0,
    heads = f.heads | 0,
    metas = f.metas | 0,
    unit = f.unit | 0,
    keyAt = k | 0,
    lenAt = l | 0,
    valAt = v | 0,
    s0 = s | 0;
  let total = 0,
    m0 = 0,
    m1 = 0,
    m2 = 0,
    m3 = 0,
    used: number = Layout.HEADER,
    entries = 0;
  for (let i = 0; i < n; i++) {
    const frame = desc >= 0 ? i32[desc + i]! : first + i;
    let rc: number = E.EINVAL;
    if (frame >>> 0 < count) {
      const cap = caps[metas + frame]!,
        start = base + frame * frameSize + (heads === metas ? 0 : caps[heads + frame]! - cap);
      if (cap < Layout.HEADER)
        rc = E.ENOMEM; // before reading: a store under 16 bytes has no header
      else {
        const w = start >>> 2,
          h0 = i32[w]!,
          h1 = i32[w + 1]!,
          l0 = i32[w + 2]!,
          l1 = i32[w + 3]!;
        if (((h0 ^ m0) | (h1 ^ m1) | (l0 ^ m2) | (l1 ^ m3)) !== 0) {
          m0 = h0;
          m1 = h1;
          m2 = l0;
          m3 = l1;
          let at: number = Layout.HEADER;
          entries = 0;
          for (let half = 0; half < 2; half++) {
            const hw = half === 0 ? h0 : h1,
              lw = half === 0 ? l0 : l1;
            for (let rest = hw | lw; rest !== 0; rest &= rest - 1) {
              const bit = 31 - Math.clz32(rest & -rest),
                len = lengthOf((((hw >>> bit) & 1) << 1) | ((lw >>> bit) & 1), unit);
              memoEntries[entries] = (at << 16) | ((32 * half + bit) << 8) | len;
              at += len;
              entries++;
            }
          }
          used = at;
        }
        if (used > cap) rc = E.EBADMSG;
        else if (entries > room - total) rc = E.ENOSPC;
        else {
          // Values read as masked 8-byte pairs (no branch on lengths that vary) where 8 bytes past the last fit.
          const pairs = used + 8 <= cap;
          for (let j = 0; j < entries; j++) {
            const e = total + j,
              entry = memoEntries[j]!,
              len = entry & 0xff;
            keys[keyAt + e] = entry >>> 8;
            lens[lenAt + e] = len;
            if (pairs) readValue8(dv, start + (entry >>> 16), len, vals, valAt + 2 * e);
            else readValue(dv, start + (entry >>> 16), len, vals, valAt + 2 * e, true);
          }
          rc = entries;
          total += entries;
        }
      }
    }
    status[s0 + i] = rc;
  }
  return total;
}
