/**
 * The codec contract both implementations fulfil: the AssemblyScript core (assembly/, through
 * wasm.ts) and its pure-JS twin (js-core.ts), with the same semantics op for op.
 *
 * Addresses are byte offsets in one buffer; `profile` is 0 (v1) or 1 (flags);
 * 64-bit values travel as u32 halves (lo, hi). Callers (the store and pool
 * wrappers) guarantee integer arguments, an 8-byte aligned `start` and a store
 * inside the buffer; everything else, the header above all, is checked by the core.
 */
/** Which implementation runs the codec. */
export type Impl = "wasm" | "js";

/** A memory a core works on: a WebAssembly.Memory or anything else with a `buffer`. */
export interface BufferSource {
  readonly buffer: ArrayBufferLike;
}

/** The raw codec: every call returns a result >= 0 or a negative errno, and throws nothing. */
export interface Core {
  readonly impl: Impl;
  /** Zeroes the header. 0, or E.ENOMEM if cap < 16. */
  init(start: number, cap: number): number;
  /** Bytes in use, header included. E.ENOMEM, E.EBADMSG. */
  size(start: number, cap: number, profile: number): number;
  /** 1 if present, 0 if not. E.EINVAL (key >= 64), E.ENOMEM, E.EBADMSG. */
  has(start: number, cap: number, profile: number, key: number): number;
  /** Value to out[0] (lo) and out[1] (hi); returns its length. E.EINVAL, E.ENOMEM, E.EBADMSG, E.ENOENT, E.ENOSPC (len > outLen). */
  get(start: number, cap: number, profile: number, key: number, outLen: number, out: Uint32Array): number;
  /** Sets the low `len` bytes of (hi:lo). 0, or E.EINVAL, E.ENOMEM, E.EBADMSG, E.EBUSY, E.ENOSPC. */
  set(start: number, cap: number, profile: number, key: number, len: number, lo: number, hi: number): number;
  /** Removes a key. 0, or E.EINVAL, E.ENOMEM, E.EBADMSG, E.ENOENT. */
  del(start: number, cap: number, profile: number, key: number): number;
  /** Sets keys[j] to lens[j] bytes of (values[2j+1]:values[2j]), all or nothing; 0 or the first error of the same sets one by one. Keys and lengths are checked by the caller. */
  setMany(
    start: number,
    cap: number,
    profile: number,
    keys: Uint8Array,
    lens: Uint8Array,
    m: number,
    values: Uint32Array,
  ): number;
  /** Every present key in order: keys[i], lens[i], value in values[2i] (lo), values[2i+1] (hi). Returns the count; E.ENOMEM, E.EBADMSG. */
  decode(start: number, cap: number, profile: number, keys: Uint8Array, lens: Uint8Array, values: Uint32Array): number;
  /** The batch loops of assembly/batch.ts over a pool control block at `pool`; every address is in this core's memory. */
  batchGet(
    pool: number,
    desc: number,
    first: number,
    n: number,
    key: number,
    values: number,
    stride: number,
    status: number,
  ): number;
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
  ): number;
  /** `fields` is a field list in memory (layout: abi.ts); replace 1 empties each store first. */
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
  ): number;
  batchDel(pool: number, desc: number, first: number, n: number, key: number, status: number): number;
  batchHas(pool: number, desc: number, first: number, n: number, key: number, status: number): number;
  batchInit(pool: number, desc: number, first: number, n: number, status: number): number;
  batchGetWide(
    pool: number,
    desc: number,
    first: number,
    n: number,
    key: number,
    values: number,
    stride: number,
    status: number,
  ): number;
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
  ): number;
}
