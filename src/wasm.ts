/**
 * Synchronous loader of the AssemblyScript core (build/traits.wasm) and its
 * Core adapter. One compiled module, one instance per memory, cached.
 * No @assemblyscript/loader (deprecated) and no top-level await, so the
 * package works with both `import` and `require`.
 */
import { readFileSync } from "node:fs";
import type { Core } from "./core.js";
import { arenaOf } from "./memory.js";

interface Exports {
  init(start: number, cap: number): number;
  size(start: number, cap: number, profile: number): number;
  has(start: number, cap: number, profile: number, key: number): number;
  get(start: number, cap: number, profile: number, key: number, out: number, outLen: number): number;
  set(start: number, cap: number, profile: number, key: number, len: number, lo: number, hi: number): number;
  del(start: number, cap: number, profile: number, key: number): number;
  decode(start: number, cap: number, profile: number, keys: number, lens: number, values: number): number;
}

/** Bytes of scratch per instance: 64 keys, 64 lengths, 64 u64 values. */
const SCRATCH = 64 + 64 + 64 * 8;

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null where WebAssembly or the .wasm file is unavailable. */
export function wasmModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(readFileSync(new URL("../build/traits.wasm", import.meta.url)));
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** The WASM core over one memory: the exports plus a scratch area for results. */
export class WasmCore implements Core {
  readonly impl = "wasm" as const;
  private readonly ex: Exports;
  private readonly scratch: number;
  private u8: Uint8Array;
  private u32: Uint32Array;

  constructor(module: WebAssembly.Module, private readonly memory: WebAssembly.Memory) {
    this.ex = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Exports;
    this.scratch = arenaOf(memory).alloc(SCRATCH, 8);
    this.u8 = new Uint8Array(memory.buffer);
    this.u32 = new Uint32Array(memory.buffer, 0, memory.buffer.byteLength >>> 2);
  }

  /** The scratch views, recreated if memory.grow detached them. */
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
    const len = this.ex.get(start, cap, profile, key, this.scratch, outLen);
    if (len >= 0) {
      const u32 = this.views(), w = this.scratch >>> 2;
      out[0] = len === 0 ? 0 : len === 2 ? u32[w]! & 0xffff : u32[w]!;
      out[1] = len === 8 ? u32[w + 1]! : 0;
    }
    return len;
  }
  set(start: number, cap: number, profile: number, key: number, len: number, lo: number, hi: number): number {
    return this.ex.set(start, cap, profile, key, len, lo, hi);
  }
  del(start: number, cap: number, profile: number, key: number): number {
    return this.ex.del(start, cap, profile, key);
  }
  decode(start: number, cap: number, profile: number, keys: Uint8Array, lens: Uint8Array, values: Uint32Array): number {
    const s = this.scratch;
    const n = this.ex.decode(start, cap, profile, s, s + 64, s + 128);
    if (n > 0) {
      this.views();
      keys.set(this.u8.subarray(s, s + n));
      lens.set(this.u8.subarray(s + 64, s + 64 + n));
      values.set(this.u32.subarray((s + 128) >>> 2, ((s + 128) >>> 2) + 2 * n));
    }
    return n;
  }
}

const cores = new WeakMap<WebAssembly.Memory, WasmCore | null>();

/** The cached WASM core of a memory, or null if WebAssembly cannot run on it. */
export function wasmCoreOf(memory: WebAssembly.Memory): WasmCore | null {
  let core = cores.get(memory);
  if (core === undefined) {
    const module = wasmModule();
    try {
      core = module ? new WasmCore(module, memory) : null;
    } catch {
      core = null; // e.g. a shared memory, which this non-shared build cannot import
    }
    cores.set(memory, core);
  }
  return core;
}
