/**
 * The pure-JS twin of the AssemblyScript core (assembly/store.ts, assembly/batch.ts): the same
 * semantics op for op, written for speed (no BigInt; see BENCHMARKS.md for what shaped it).
 */
// Const enums (abi.ts, js-offsets.ts) are inlined as literals by tsc: module-level consts would cost a
// TDZ check on every use in V8's optimized code.
import { CoreErrno as E, FieldList, PoolControl } from "./abi.js";
import type { BufferSource, Core } from "./contract.js";
import {
  Fields,
  Layout,
  codeAt,
  codeOf,
  fits,
  halfSize,
  lengthOf,
  readValue,
  sameHeader,
  sizeBelow,
  sizeBound,
  sizeTable,
  storeSize,
  writeValue,
} from "./js-offsets.js";

/**
 * The pure-JS core over any ArrayBuffer, SharedArrayBuffer or WebAssembly.Memory. Values are read
 * and written through a DataView (they are only 2-byte aligned), header words as i32 (and, to compare
 * headers, as float64), moved as u16; no BigInt anywhere.
 *
 * Every operation is a loop over the frames of a selection (see select); a single store is a
 * selection of one frame. Each loop holds its operation's whole per-frame body, calling only the
 * small helpers above: V8 then compiles it on its own (it is too large to be inlined into callers)
 * with every helper inlined, which a per-frame function call defeated (inlining budget).
 * Its public methods follow assembly/index.ts and assembly/batch.ts export by export, in their order;
 * its loops follow the single-store functions of assembly/store.ts, each naming the one it mirrors.
 */
export class JsCore implements Core {
  readonly impl = "js" as const;
  private u8!: Uint8Array;
  private u16!: Uint16Array;
  private dv!: DataView;
  private i32!: Int32Array;
  /** Single-store results (lo, hi, status) and setMany/decode operands, so that loops see one array type. */
  private readonly scratch = new Int32Array(3);
  private readonly manyValues = new Int32Array(128);
  private readonly fields = new Fields();
  /**
   * The selection: frame i is i32[desc + i] (desc >= 0) or first + i, frames 0..count-1; its store has
   * capacity caps[metas + frame] and ends at the head caps[heads + frame], at base + frame * frameSize + head.
   * For a pool (see assembly/batch.ts) caps is i32; for one store, `single` holding its capacity, with
   * heads = metas = 0 and frameSize 0 (so that it starts at base). t is the profile's size table.
   */
  private base = 0;
  private frameSize = 0;
  private count = 0;
  private desc = -1;
  private first = 0;
  private caps: Int32Array = new Int32Array(1);
  private heads = 0;
  private metas = 0;
  private readonly single = new Int32Array(1);
  private t = sizeTable(0);
  /** What decodeLoop found in the last distinct header: each entry as its offset in the store << 16 | key << 8 | length. */
  private readonly memoEntries = new Int32Array(64);

  constructor(private readonly source: BufferSource) {
    this.refresh();
  }

  /** Recreates the views if the memory grew (a detached view has length 0). */
  private refresh(): void {
    const buffer = this.source.buffer;
    if (this.u8?.length === buffer.byteLength) return;
    this.u8 = new Uint8Array(buffer);
    this.u16 = new Uint16Array(buffer, 0, buffer.byteLength >>> 1);
    this.dv = new DataView(buffer);
    this.i32 = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
  }

  /** Selects one store. */
  private one(start: number, cap: number, profile: number): void {
    if (start + cap > this.u8.length) {
      this.refresh();
      if (start + cap > this.u8.length) cap = 0; // the buffer was detached (transferred) or shrank: ENOMEM, touching nothing
    }
    this.base = start;
    this.frameSize = 0;
    this.count = 1;
    this.desc = -1;
    this.first = 0;
    this.single[0] = cap;
    this.caps = this.single;
    this.heads = 0;
    this.metas = 0;
    this.t = sizeTable(profile);
  }

  /** Selects the frames of a batch call from a pool control block (see assembly/batch.ts). */
  private frames(pool: number, desc: number, first: number): void {
    this.refresh();
    const i32 = this.i32,
      p = pool >>> 2;
    this.base = i32[p + (PoolControl.BASE >>> 2)]!;
    this.frameSize = i32[p + (PoolControl.FRAME_SIZE >>> 2)]!;
    this.count = i32[p + (PoolControl.COUNT >>> 2)]!;
    this.caps = i32;
    this.heads = i32[p + (PoolControl.HEADS >>> 2)]! >>> 2;
    this.metas = i32[p + (PoolControl.METAS >>> 2)]! >>> 2;
    this.t = sizeTable(i32[p + (PoolControl.PROFILE >>> 2)]!);
    this.desc = desc === 0 ? -1 : desc >>> 2;
    this.first = first;
  }

  init(start: number, cap: number): number {
    this.one(start, cap, 0);
    this.initLoop(1, this.scratch, 2);
    return this.scratch[2]!;
  }

  size(start: number, cap: number, profile: number): number {
    this.one(start, cap, profile);
    if (this.single[0]! < Layout.HEADER) return E.ENOMEM;
    const used = storeSize(this.t, this.i32, start >>> 2);
    return used > cap ? E.EBADMSG : used;
  }

  /** The size a header at `start` declares, whatever the capacity (for error messages). */
  declared(start: number, profile: number): number {
    this.refresh();
    return storeSize(sizeTable(profile), this.i32, start >>> 2);
  }

  has(start: number, cap: number, profile: number, key: number): number {
    this.one(start, cap, profile);
    this.hasLoop(1, key, this.scratch, 2);
    return this.scratch[2]!;
  }

  get(start: number, cap: number, profile: number, key: number, outLen: number, out: Uint32Array): number {
    const scratch = this.scratch;
    this.one(start, cap, profile);
    this.getLoop(1, key, outLen, scratch, 0, 0, scratch, 2);
    if (scratch[2]! >= 0) {
      out[0] = scratch[0]!;
      out[1] = outLen >= 8 ? scratch[1]! : 0;
    }
    return scratch[2]!;
  }

  set(start: number, cap: number, profile: number, key: number, len: number, lo: number, hi: number): number {
    const scratch = this.scratch;
    scratch[0] = lo;
    scratch[1] = hi;
    this.one(start, cap, profile);
    this.setLoop(1, key, len, scratch, 0, 0, scratch, 2);
    return scratch[2]!;
  }

  del(start: number, cap: number, profile: number, key: number): number {
    this.one(start, cap, profile);
    this.delLoop(1, key, this.scratch, 2);
    return this.scratch[2]!;
  }

  setMany(
    start: number,
    cap: number,
    profile: number,
    keys: Uint8Array,
    lens: Uint8Array,
    m: number,
    values: Uint32Array,
  ): number {
    const { fields, manyValues } = this;
    this.one(start, cap, profile);
    fields.m = m;
    fields.keys.set(keys.subarray(0, m));
    fields.lens.set(lens.subarray(0, m));
    fields.prepare(this.t);
    for (let j = 0; j < 2 * m; j++) manyValues[j] = values[j]!;
    this.setManyLoop(1, manyValues, 0, 0, false, this.scratch, 2);
    return this.scratch[2]!;
  }

  decode(start: number, cap: number, profile: number, keys: Uint8Array, lens: Uint8Array, values: Uint32Array): number {
    const manyValues = this.manyValues;
    this.one(start, cap, profile);
    this.decodeLoop(1, keys, 0, lens, 0, manyValues, 0, 64, this.scratch, 2);
    const n = this.scratch[2]!;
    for (let i = 0; i < 2 * n; i++) values[i] = manyValues[i]!;
    return n;
  }

  batchGet(
    pool: number,
    desc: number,
    first: number,
    n: number,
    key: number,
    values: number,
    stride: number,
    status: number,
  ): number {
    this.frames(pool, desc, first);
    return this.getLoop(n, key, stride, this.i32, values >>> 2, stride >>> 2, this.i32, status >>> 2);
  }

  batchSet(
    pool: number,
    desc: number,
    first: number,
    n: number,
    key: number,
    len: number,
    values: number,
    stride: number,
    status: number,
  ): number {
    this.frames(pool, desc, first);
    return this.setLoop(n, key, len, this.i32, values >>> 2, stride >>> 2, this.i32, status >>> 2);
  }

  batchSetMany(
    pool: number,
    desc: number,
    first: number,
    n: number,
    fields: number,
    values: number,
    stride: number,
    replace: number,
    status: number,
  ): number {
    this.frames(pool, desc, first);
    const f = this.fields,
      m = (f.m = this.i32[(fields + FieldList.M) >>> 2]!);
    f.keys.set(this.u8.subarray(fields + FieldList.KEYS, fields + FieldList.KEYS + m));
    f.lens.set(this.u8.subarray(fields + FieldList.LENS, fields + FieldList.LENS + m));
    f.prepare(this.t);
    return this.setManyLoop(n, this.i32, values >>> 2, stride >>> 2, replace !== 0, this.i32, status >>> 2);
  }

  batchDel(pool: number, desc: number, first: number, n: number, key: number, status: number): number {
    this.frames(pool, desc, first);
    return this.delLoop(n, key, this.i32, status >>> 2);
  }

  batchHas(pool: number, desc: number, first: number, n: number, key: number, status: number): number {
    this.frames(pool, desc, first);
    return this.hasLoop(n, key, this.i32, status >>> 2);
  }

  batchInit(pool: number, desc: number, first: number, n: number, status: number): number {
    this.frames(pool, desc, first);
    return this.initLoop(n, this.i32, status >>> 2);
  }

  batchGetWide(
    pool: number,
    desc: number,
    first: number,
    n: number,
    key: number,
    values: number,
    stride: number,
    status: number,
  ): number {
    this.frames(pool, desc, first);
    const i32 = this.i32,
      s = status >>> 2,
      v = values >>> 2,
      step = stride >>> 2,
      both = new Int32Array(2 * n);
    // The two halves as two gets (their statuses side by side), then combined frame by frame.
    this.getLoop(n, key, 8, i32, v, step, both, 0);
    this.getLoop(n, key + 1, 8, i32, v + 2, step, both, n);
    let ok = 0;
    for (let i = 0; i < n; i++) {
      const a = both[i]!,
        b = both[n + i]!;
      const rc =
        a === 8 && b === 8 ? 16 : a === E.ENOENT && b === E.ENOENT ? E.ENOENT : a < 0 && a !== E.ENOENT ? a : E.EBADMSG;
      i32[s + i] = rc;
      if (rc === 16) ok++;
    }
    return ok;
  }

  batchDecode(
    pool: number,
    desc: number,
    first: number,
    n: number,
    keys: number,
    lens: number,
    values: number,
    room: number,
    status: number,
  ): number {
    this.frames(pool, desc, first);
    return this.decodeLoop(n, this.u8, keys, this.u8, lens, this.i32, values >>> 2, room, this.i32, status >>> 2);
  }

  // The loops, in the order of assembly/store.ts. Each frame's result goes to status[s + i]; each
  // returns its count of successes. A frame outside the pool (or a key over 63) gets EINVAL; a store
  // under 16 bytes ENOMEM, before its header is read; a header declaring more than the capacity EBADMSG.
  // What a header implies for the operation (its size, the key's size code and value offset) is worked
  // out once per distinct header and kept while the frames' headers repeat, as they do in a burst of
  // one flow. The memo is the header's two u64 words read as float64 (high, low: two loads; sameHeader),
  // and starts as the empty header's; the 32-bit halves (h0, l0, h1, l1) are read only when it changes.

  // Mirrors storeInit, frame by frame as batchInit.
  /** Empties each store (zeroes its header). */
  private initLoop(n: number, status: Int32Array, s: number): number {
    const { i32, caps, base, frameSize, count, desc, first, heads, metas } = this;
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
      status[s + i] = rc;
      if (rc === 0) ok++;
    }
    return ok;
  }

  // Mirrors storeHas, frame by frame as batchHas.
  /** Tests `key`: 1 or 0; returns how many frames hold it. */
  private hasLoop(n: number, key: number, status: Int32Array, s: number): number {
    const { i32, dv, caps, t, base, frameSize, desc, first, heads, metas } = this,
      count = key < 64 ? this.count : 0,
      half = key >>> 5,
      bit = key & 31;
    let ok = 0,
      high = 0,
      low = 0,
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
          const h64 = dv.getFloat64(start, true),
            l64 = dv.getFloat64(start + 8, true);
          if (!sameHeader(h64, l64, high, low)) {
            high = h64;
            low = l64;
            const w = start >>> 2,
              h0 = i32[w]!,
              h1 = i32[w + 1]!,
              l0 = i32[w + 2]!,
              l1 = i32[w + 3]!;
            bound = sizeBound(h0, l0, h1, l1);
            used = -1; // worked out below if a capacity is under the bound
            res = ((half === 0 ? h0 | l0 : h1 | l1) >>> bit) & 1;
          }
          if (bound > cap && used < 0) used = storeSize(t, i32, start >>> 2);
          rc = bound > cap && used > cap ? E.EBADMSG : res;
        }
      }
      status[s + i] = rc;
      if (rc === 1) ok++;
    }
    return ok;
  }

  // Mirrors storeGet (assembly/store.ts), frame by frame as batchGet (assembly/batch.ts).
  /** Gets `key`: value i to out[o + i * step] (lo) and, if outLen >= 8, the next element (hi). */
  private getLoop(
    n: number,
    key: number,
    outLen: number,
    out: Int32Array,
    o: number,
    step: number,
    status: Int32Array,
    s: number,
  ): number {
    const { i32, dv, caps, t, base, frameSize, desc, first, heads, metas } = this,
      count = key < 64 ? this.count : 0,
      wide = outLen >= 8;
    let ok = 0,
      high = 0,
      low = 0,
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
          const h64 = dv.getFloat64(start, true),
            l64 = dv.getFloat64(start + 8, true);
          if (!sameHeader(h64, l64, high, low)) {
            high = h64;
            low = l64;
            const w = start >>> 2,
              h0 = i32[w]!,
              h1 = i32[w + 1]!,
              l0 = i32[w + 2]!,
              l1 = i32[w + 3]!;
            const code = codeAt(h0, l0, h1, l1, key),
              len = lengthOf(code, t);
            bound = sizeBound(h0, l0, h1, l1);
            used = -1; // worked out below if a capacity is under the bound
            res = code === 0 ? E.ENOENT : len > outLen ? E.ENOSPC : len;
            at = Layout.HEADER + sizeBelow(t, h0, l0, h1, l1, key < 32 ? 0 : halfSize(t, h0, l0), key);
          }
          if (bound > cap && used < 0) used = storeSize(t, i32, start >>> 2);
          rc = bound > cap && used > cap ? E.EBADMSG : res;
          if (rc >= 0) readValue(dv, start + at, rc, out, o + i * step, wide);
        }
      }
      status[s + i] = rc;
      if (rc >= 0) ok++;
    }
    return ok;
  }

  // Mirrors storeSet, frame by frame as batchSet.
  /** Sets `key` to `len` bytes of the pair at vals[v + i * step] (step 0: one value for all). */
  private setLoop(
    n: number,
    key: number,
    len: number,
    vals: Int32Array,
    v: number,
    step: number,
    status: Int32Array,
    s: number,
  ): number {
    const { i32, u16, dv, caps, t, base, frameSize, desc, first, heads, metas } = this,
      code = codeOf(len, t),
      half = key >>> 5,
      bit = 1 << (key & 31),
      shift = len >>> 1;
    // One value for all (step 0) is read and checked once, as assembly/batch.ts does.
    let lo = vals[v]!,
      hi = vals[v + 1]!;
    const count = key < 64 && code !== 0 && (step !== 0 || fits(len, lo, hi)) ? this.count : 0;
    let ok = 0,
      high = 0,
      low = 0,
      bound: number = Layout.HEADER,
      used: number = Layout.HEADER,
      old = 0,
      at: number = Layout.HEADER,
      // The key's two header words with its size code added (an insert writes them).
      withHigh = code & 2 ? bit : 0,
      withLow = code & 1 ? bit : 0;
    for (let i = 0; i < n; i++) {
      const frame = desc >= 0 ? i32[desc + i]! : first + i;
      if (step !== 0) {
        lo = vals[v + i * step]!;
        hi = vals[v + i * step + 1]!;
      }
      let rc: number = E.EINVAL;
      if (frame >>> 0 < count && (step === 0 || fits(len, lo, hi))) {
        const cap = caps[metas + frame]!,
          start = base + frame * frameSize + (heads === metas ? 0 : caps[heads + frame]! - cap);
        if (cap < Layout.HEADER)
          rc = E.ENOMEM; // before reading: a store under 16 bytes has no header
        else {
          const w = start >>> 2,
            h64 = dv.getFloat64(start, true),
            l64 = dv.getFloat64(start + 8, true);
          if (!sameHeader(h64, l64, high, low)) {
            high = h64;
            low = l64;
            const h0 = i32[w]!,
              h1 = i32[w + 1]!,
              l0 = i32[w + 2]!,
              l1 = i32[w + 3]!;
            old = codeAt(h0, l0, h1, l1, key);
            bound = sizeBound(h0, l0, h1, l1);
            // An insert moves the values after it: exact size now; an overwrite needs it only under the bound.
            used = old === 0 ? Layout.HEADER + halfSize(t, h0, l0) + halfSize(t, h1, l1) : -1;
            at = Layout.HEADER + sizeBelow(t, h0, l0, h1, l1, key < 32 ? 0 : halfSize(t, h0, l0), key);
            withHigh = (half === 0 ? h0 : h1) | (code & 2 ? bit : 0);
            withLow = (half === 0 ? l0 : l1) | (code & 1 ? bit : 0);
          }
          if (bound > cap && used < 0) used = storeSize(t, i32, w);
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
      status[s + i] = rc;
      if (rc === 0) ok++;
    }
    return ok;
  }

  // Mirrors storeDel, frame by frame as batchDel.
  /** Removes `key`. */
  private delLoop(n: number, key: number, status: Int32Array, s: number): number {
    const { i32, u16, dv, caps, t, base, frameSize, desc, first, heads, metas } = this,
      count = key < 64 ? this.count : 0,
      half = key >>> 5,
      bit = 1 << (key & 31);
    let ok = 0,
      high = 0,
      low = 0,
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
            h64 = dv.getFloat64(start, true),
            l64 = dv.getFloat64(start + 8, true);
          if (!sameHeader(h64, l64, high, low)) {
            high = h64;
            low = l64;
            const h0 = i32[w]!,
              h1 = i32[w + 1]!,
              l0 = i32[w + 2]!,
              l1 = i32[w + 3]!,
              below = halfSize(t, h0, l0),
              code = codeAt(h0, l0, h1, l1, key);
            used = Layout.HEADER + below + halfSize(t, h1, l1);
            // Half the value's length: the u16 moves below; -1 for an absent key (ENOENT).
            shift = code === 0 ? -1 : lengthOf(code, t) >>> 1;
            at = Layout.HEADER + sizeBelow(t, h0, l0, h1, l1, below, key);
            withoutHigh = (half === 0 ? h0 : h1) & ~bit;
            withoutLow = (half === 0 ? l0 : l1) & ~bit;
          }
          if (used > cap) rc = E.EBADMSG;
          else if (shift < 0) rc = E.ENOENT;
          else {
            for (let j = (start + at) >>> 1, end = ((start + used) >>> 1) - shift; j < end; j++)
              u16[j] = u16[j + shift]!;
            i32[w + half] = withoutHigh;
            i32[w + 2 + half] = withoutLow;
            rc = 0;
          }
        }
      }
      status[s + i] = rc;
      if (rc === 0) ok++;
    }
    return ok;
  }

  // Mirrors storeSetMany (after prepareFields: Fields.prepare in js-offsets.ts), frame by frame as batchSetMany.
  /**
   * Sets the prepared field list (this.fields) per frame, all or nothing (see assembly/store.ts
   * storeSetMany), frame i's value pairs at vals[v0 + i * step ..]; with `replace`, on an emptied store.
   */
  private setManyLoop(
    n: number,
    vals: Int32Array,
    v0: number,
    step: number,
    replace: boolean,
    status: Int32Array,
    s: number,
  ): number {
    const { i32, u16, dv, caps, t, base, frameSize, count, desc, first, heads, metas, fields } = this;
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
        const low = halfSize(t, h0, l0),
          used = Layout.HEADER + low + halfSize(t, h1, l1);
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
              code = codeOf(len, t),
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
            const newLow = halfSize(t, n0, m0);
            // Values above the lowest inserted key move up, highest first, each once.
            for (let half = 1; half >= 0 && lowest < 64; half--) {
              let rest = half === 1 ? h1 | l1 : h0 | l0;
              if (lowest >= 32 * half) rest &= ~(((2 << (lowest - 32 * half)) - 1) | 0);
              while (rest !== 0) {
                const bit = 31 - Math.clz32(rest),
                  key = 32 * half + bit;
                rest ^= 1 << bit;
                const code = ((((half === 1 ? h1 : h0) >>> bit) & 1) << 1) | (((half === 1 ? l1 : l0) >>> bit) & 1);
                const from = (start + Layout.HEADER + sizeBelow(t, h0, l0, h1, l1, low, key)) >>> 1;
                const to = (start + Layout.HEADER + sizeBelow(t, n0, m0, n1, m1, newLow, key)) >>> 1;
                for (let x = (lengthOf(code, t) >>> 1) - 1; x >= 0; x--) u16[to + x] = u16[from + x]!;
              }
            }
            for (let j = 0; j < m; j++) {
              writeValue(
                dv,
                start + Layout.HEADER + sizeBelow(t, n0, m0, n1, m1, newLow, keys[j]!),
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

  // Mirrors storeDecode, frame by frame as batchDecode.
  /**
   * Appends each store's entries: keys to keys[k + e], lengths to lens[l + e], value pairs to
   * vals[v + 2e], for entries e < room; a store that does not fit gets ENOSPC and writes nothing.
   * Status = the store's entry count. Returns the number of entries written.
   */
  private decodeLoop(
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
    const { i32, dv, caps, t, base, frameSize, count, desc, first, heads, metas, memoEntries } = this;
    let total = 0,
      high = 0,
      low = 0,
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
          const h64 = dv.getFloat64(start, true),
            l64 = dv.getFloat64(start + 8, true);
          if (!sameHeader(h64, l64, high, low)) {
            high = h64;
            low = l64;
            const w = start >>> 2;
            let at: number = Layout.HEADER;
            entries = 0;
            for (let half = 0; half < 2; half++) {
              const hw = i32[w + half]!,
                lw = i32[w + 2 + half]!;
              for (let rest = hw | lw; rest !== 0; rest &= rest - 1) {
                const bit = 31 - Math.clz32(rest & -rest),
                  len = lengthOf((((hw >>> bit) & 1) << 1) | ((lw >>> bit) & 1), t);
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
            for (let j = 0; j < entries; j++) {
              const e = total + j,
                entry = memoEntries[j]!,
                len = entry & 0xff;
              keys[k + e] = entry >>> 8;
              lens[l + e] = len;
              readValue(dv, start + (entry >>> 16), len, vals, v + 2 * e, true);
            }
            rc = entries;
            total += entries;
          }
        }
      }
      status[s + i] = rc;
    }
    return total;
  }
}
