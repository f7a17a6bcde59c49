/**
 * Synchronous loader of the AssemblyScript core (build/traits.wasm) and its
 * Core adapter. One compiled module, one instance per memory, cached.
 * No @assemblyscript/loader (deprecated) and no top-level await, so the
 * package works with both `import` and `require`.
 */
import { readFileSync } from "node:fs";
import { FieldList, type Core } from "./contract.js";
import { arenaOf } from "./memory.js";

interface Exports {
  init(start: number, cap: number): number;
  size(start: number, cap: number, profile: number): number;
  has(start: number, cap: number, profile: number, key: number): number;
  get(start: number, cap: number, profile: number, key: number, value: number, outLen: number): number;
  set(start: number, cap: number, profile: number, key: number, len: number, lo: number, hi: number): number;
  del(start: number, cap: number, profile: number, key: number): number;
  setMany(start: number, cap: number, profile: number, fields: number, values: number, replace: number): number;
  decode(start: number, cap: number, profile: number, keys: number, lens: number, values: number): number;
  batchGet: Core["batchGet"];
  batchSet: Core["batchSet"];
  batchSetMany: Core["batchSetMany"];
  batchDel: Core["batchDel"];
  batchHas: Core["batchHas"];
  batchInit: Core["batchInit"];
  batchGetWide: Core["batchGetWide"];
  batchDecode: Core["batchDecode"];
}

/** Bytes of scratch per instance: 64 u64 values, then a field list (or decode's 64 keys and 64 lengths). */
const SCRATCH = 64 * 8 + FieldList.BYTES;

const compiled: Array<WebAssembly.Module | null | undefined> = [];

/**
 * The compiled module for plain (build/traits.wasm) or shared memories (build/traits.shared.wasm,
 * built with threads and a shared imported memory of at most 4 GiB), or null where WebAssembly or
 * the file is unavailable.
 */
export function wasmModule(shared: boolean): WebAssembly.Module | null {
  const i = shared ? 1 : 0;
  if (compiled[i] === undefined) {
    try {
      compiled[i] = new WebAssembly.Module(readFileSync(new URL(shared ? "../../build/traits.shared.wasm" : "../../build/traits.wasm", import.meta.url)));
    } catch {
      compiled[i] = null;
    }
  }
  return compiled[i]!;
}

/** The WASM core over one memory: the exports plus a scratch area for single-store results. */
export class WasmCore implements Core {
  readonly impl = "wasm" as const;
  private readonly ex: Exports;
  private readonly scratch: number;
  private u8: Uint8Array;
  private u32: Uint32Array;
  readonly batchGet: Core["batchGet"];
  readonly batchSet: Core["batchSet"];
  readonly batchSetMany: Core["batchSetMany"];
  readonly batchDel: Core["batchDel"];
  readonly batchHas: Core["batchHas"];
  readonly batchInit: Core["batchInit"];
  readonly batchGetWide: Core["batchGetWide"];
  readonly batchDecode: Core["batchDecode"];

  /** An instance on `memory`; its scratch area at `scratch`, or allocated from the memory's arena. */
  constructor(module: WebAssembly.Module, private readonly memory: WebAssembly.Memory, scratch?: number) {
    const ex = (this.ex = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Exports);
    this.scratch = scratch ?? arenaOf(memory).alloc(SCRATCH, 8);
    this.u8 = new Uint8Array(memory.buffer);
    this.u32 = new Uint32Array(memory.buffer, 0, memory.buffer.byteLength >>> 2);
    ({ batchGet: this.batchGet, batchSet: this.batchSet, batchSetMany: this.batchSetMany, batchDel: this.batchDel } = ex);
    ({ batchHas: this.batchHas, batchInit: this.batchInit, batchGetWide: this.batchGetWide, batchDecode: this.batchDecode } = ex);
  }

  /** The views, recreated if memory.grow detached them. */
  private views(): Uint32Array {
    if (this.u32.length === 0) {
      this.u8 = new Uint8Array(this.memory.buffer);
      this.u32 = new Uint32Array(this.memory.buffer, 0, this.memory.buffer.byteLength >>> 2);
    }
    return this.u32;
  }

  init(start: number, cap: number): number {
    return this.ex.init(start, cap);
  }
  size(start: number, cap: number, profile: number): number {
    return this.ex.size(start, cap, profile);
  }
  has(start: number, cap: number, profile: number, key: number): number {
    return this.ex.has(start, cap, profile, key);
  }
  get(start: number, cap: number, profile: number, key: number, outLen: number, out: Uint32Array): number {
    const s = this.scratch, len = this.ex.get(start, cap, profile, key, s, outLen);
    if (len >= 0) {
      const u32 = this.u32.length === 0 ? this.views() : this.u32;
      out[0] = u32[s >>> 2]!;
      out[1] = outLen >= 8 ? u32[(s >>> 2) + 1]! : 0;
    }
    return len;
  }
  set(start: number, cap: number, profile: number, key: number, len: number, lo: number, hi: number): number {
    return this.ex.set(start, cap, profile, key, len, lo, hi);
  }
  del(start: number, cap: number, profile: number, key: number): number {
    return this.ex.del(start, cap, profile, key);
  }
  setMany(start: number, cap: number, profile: number, keys: Uint8Array, lens: Uint8Array, m: number, values: Uint32Array): number {
    const s = this.scratch, fields = s + 512, u32 = this.views();
    u32.set(values.subarray(0, 2 * m), s >>> 2);
    u32[(fields + FieldList.M) >>> 2] = m;
    this.u8.set(keys.subarray(0, m), fields + FieldList.KEYS);
    this.u8.set(lens.subarray(0, m), fields + FieldList.LENS);
    return this.ex.setMany(start, cap, profile, fields, s, 0);
  }
  decode(start: number, cap: number, profile: number, keys: Uint8Array, lens: Uint8Array, values: Uint32Array): number {
    const s = this.scratch;
    const n = this.ex.decode(start, cap, profile, s + 512, s + 576, s);
    const u32 = this.views(), u8 = this.u8, w = s >>> 2;
    for (let i = 0; i < n; i++) {
      keys[i] = u8[s + 512 + i]!;
      lens[i] = u8[s + 576 + i]!;
      values[2 * i] = u32[w + 2 * i]!;
      values[2 * i + 1] = u32[w + 2 * i + 1]!;
    }
    return n;
  }
}

const cores = new WeakMap<WebAssembly.Memory, WasmCore | null>();

/** Bytes of scratch a WASM core needs (see WasmCore). */
export const WASM_SCRATCH = SCRATCH;

/** The cached WASM core of a memory (plain or shared), or null if WebAssembly cannot run on it. */
export function wasmCoreOf(memory: WebAssembly.Memory, scratch?: number): WasmCore | null {
  let core = cores.get(memory);
  if (core === undefined) {
    const module = wasmModule(typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer);
    try {
      core = module ? new WasmCore(module, memory, scratch) : null;
    } catch {
      core = null; // e.g. a shared memory whose maximum exceeds 4 GiB
    }
    cores.set(memory, core);
  }
  return core;
}
