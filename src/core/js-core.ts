/**
 * The pure-JS twin of the AssemblyScript core (assembly/index.ts, assembly/batch.ts): the same
 * semantics op for op, written for speed (no BigInt; see BENCHMARKS.md for what shaped it).
 */
// Const enums (abi.ts, js-offsets.ts) are inlined as literals by tsc: module-level consts would cost a
// TDZ check on every use in V8's optimized code.
import { CoreErrno as E, FieldList } from "./abi.js";
import type { BufferSource, Core } from "./contract.js";
import { JsFrames } from "./js-frames.js";
import { decodeFast, delFast, getFast, getRun, setFast, setRun } from "./js-fast.js";
import { decodeLoop, delLoop, getLoop, hasLoop, initLoop, setLoop, setManyLoop } from "./js-loops.js";
import { storeDel, storeGet, storeHas, storeInit, storeSet } from "./js-store.js";
import { Layout, codeOf, fits, storeSizeAt, unitOf } from "./js-offsets.js";

/**
 * The pure-JS core over any ArrayBuffer, SharedArrayBuffer or WebAssembly.Memory: values read and
 * written through a DataView (they are only 2-byte aligned), header words as i32, moves as u16.
 *
 * A single-store call runs its function of js-store.ts on the store (setMany and decode: their loop
 * on one frame); a batch call selects the pool's frames (js-frames.ts) and runs its loop (js-loops.ts).
 * Get, set, delete and decode on a range of frames in a row whose headers vary (JsFrames.contiguous and not
 * JsFrames.oneFlow) run the per-frame loops of js-fast.ts instead: the same results, without the memo;
 * get and set on such a range whose headers repeat (oneFlow) run js-fast.ts's getRun and setRun.
 * Its public methods follow assembly/index.ts and assembly/batch.ts export by export, in their order.
 */
export class JsCore implements Core {
  readonly impl = "js" as const;
  private readonly frames: JsFrames;
  /** Single-store results (lo, hi, status) and setMany/decode operands, so that loops see one array type. */
  private readonly scratch = new Int32Array(3);
  private readonly manyValues = new Int32Array(128);

  constructor(source: BufferSource) {
    this.frames = new JsFrames(source);
  }

  init(start: number, cap: number): number {
    const f = this.frames,
      reach = f.reach(start, cap); // first: it may recreate the views
    return storeInit(f.i32, start, reach);
  }

  size(start: number, cap: number, profile: number): number {
    const f = this.frames;
    if (f.reach(start, cap) < Layout.HEADER) return E.ENOMEM;
    const used = storeSizeAt(f.i32, start >>> 2, unitOf(profile));
    return used > cap ? E.EBADMSG : used;
  }

  /** The size a header at `start` declares, whatever the capacity (for error messages). */
  declared(start: number, profile: number): number {
    this.frames.refresh();
    return storeSizeAt(this.frames.i32, start >>> 2, unitOf(profile));
  }

  has(start: number, cap: number, profile: number, key: number): number {
    const f = this.frames,
      reach = f.reach(start, cap);
    return storeHas(f.i32, start, reach, unitOf(profile), key);
  }

  get(start: number, cap: number, profile: number, key: number, outLen: number, out: Uint32Array): number {
    const f = this.frames,
      scratch = this.scratch,
      reach = f.reach(start, cap),
      rc = storeGet(f.i32, f.dv, start, reach, unitOf(profile), key, outLen, scratch);
    if (rc >= 0) {
      out[0] = scratch[0]!;
      out[1] = outLen >= 8 ? scratch[1]! : 0;
    }
    return rc;
  }

  set(start: number, cap: number, profile: number, key: number, len: number, lo: number, hi: number): number {
    const f = this.frames,
      reach = f.reach(start, cap);
    return storeSet(f.i32, f.u16, f.dv, start, reach, unitOf(profile), key, len, lo, hi);
  }

  del(start: number, cap: number, profile: number, key: number): number {
    const f = this.frames,
      reach = f.reach(start, cap);
    return storeDel(f.i32, f.u16, start, reach, unitOf(profile), key);
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
    const { frames, manyValues } = this,
      fields = frames.fields;
    this.frames.store(start, cap, profile);
    fields.m = m;
    fields.keys.set(keys.subarray(0, m));
    fields.lens.set(lens.subarray(0, m));
    fields.prepare(this.frames.unit);
    for (let j = 0; j < 2 * m; j++) manyValues[j] = values[j]!;
    setManyLoop(this.frames, 1, manyValues, 0, 0, false, this.scratch, 2);
    return this.scratch[2]!;
  }

  decode(start: number, cap: number, profile: number, keys: Uint8Array, lens: Uint8Array, values: Uint32Array): number {
    const manyValues = this.manyValues;
    this.frames.store(start, cap, profile);
    decodeLoop(this.frames, 1, keys, 0, lens, 0, manyValues, 0, 64, this.scratch, 2);
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
    const f = this.frames;
    f.pool(pool, desc, first);
    if (key >>> 0 < 64 && stride >= 8 && f.contiguous(n))
      return (f.oneFlow(n) ? getRun : getFast)(f, n, key, values >>> 2, stride >>> 2, status >>> 2);
    return getLoop(
      this.frames,
      n,
      key,
      stride,
      this.frames.i32,
      values >>> 2,
      stride >>> 2,
      this.frames.i32,
      status >>> 2,
    );
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
    const f = this.frames,
      v = values >>> 2,
      step = stride >>> 2;
    f.pool(pool, desc, first);
    if (
      key >>> 0 < 64 &&
      codeOf(len, f.unit) !== 0 &&
      (step !== 0 || fits(len, f.i32[v]!, f.i32[v + 1]!)) &&
      f.contiguous(n)
    )
      return (f.oneFlow(n) ? setRun : setFast)(f, n, key, len, v, step, status >>> 2);
    return setLoop(
      this.frames,
      n,
      key,
      len,
      this.frames.i32,
      values >>> 2,
      stride >>> 2,
      this.frames.i32,
      status >>> 2,
    );
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
    this.frames.pool(pool, desc, first);
    const f = this.frames.fields,
      m = (f.m = this.frames.i32[(fields + FieldList.M) >>> 2]!);
    f.keys.set(this.frames.u8.subarray(fields + FieldList.KEYS, fields + FieldList.KEYS + m));
    f.lens.set(this.frames.u8.subarray(fields + FieldList.LENS, fields + FieldList.LENS + m));
    f.prepare(this.frames.unit);
    return setManyLoop(
      this.frames,
      n,
      this.frames.i32,
      values >>> 2,
      stride >>> 2,
      replace !== 0,
      this.frames.i32,
      status >>> 2,
    );
  }

  batchDel(pool: number, desc: number, first: number, n: number, key: number, status: number): number {
    const f = this.frames;
    f.pool(pool, desc, first);
    if (key >>> 0 < 64 && f.contiguous(n) && !f.oneFlow(n)) return delFast(f, n, key, status >>> 2);
    return delLoop(f, n, key, f.i32, status >>> 2);
  }

  batchHas(pool: number, desc: number, first: number, n: number, key: number, status: number): number {
    this.frames.pool(pool, desc, first);
    return hasLoop(this.frames, n, key, this.frames.i32, status >>> 2);
  }

  batchInit(pool: number, desc: number, first: number, n: number, status: number): number {
    this.frames.pool(pool, desc, first);
    return initLoop(this.frames, n, this.frames.i32, status >>> 2);
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
    this.frames.pool(pool, desc, first);
    const i32 = this.frames.i32,
      s = status >>> 2,
      v = values >>> 2,
      step = stride >>> 2,
      both = new Int32Array(2 * n);
    // The two halves as two gets (their statuses side by side), then combined frame by frame.
    getLoop(this.frames, n, key, 8, i32, v, step, both, 0);
    getLoop(this.frames, n, key + 1, 8, i32, v + 2, step, both, n);
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
    const f = this.frames;
    f.pool(pool, desc, first);
    if (f.contiguous(n) && !f.oneFlow(n)) return decodeFast(f, n, keys, lens, values >>> 2, room, status >>> 2);
    return decodeLoop(
      this.frames,
      n,
      this.frames.u8,
      keys,
      this.frames.u8,
      lens,
      this.frames.i32,
      values >>> 2,
      room,
      this.frames.i32,
      status >>> 2,
    );
  }
}
