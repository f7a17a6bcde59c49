/**
 * The Core adapter of the AssemblyScript core: one instance per memory, cached, over the module
 * loader.ts compiles. No @assemblyscript/loader (deprecated) and no top-level await, so the package
 * works with both `import` and `require`.
 */
import { wasmModule } from "./loader.js";
import { FieldList, Scratch } from "./abi.js";
import type { Core } from "./contract.js";
import { arenaOf } from "./memory.js";

/**
 * The module's functions and their parameters, in order: the one TS declaration of the exports
 * (assembly/index.ts and assembly/batch.ts), pinned against the built module by test/core/abi.test.ts.
 */
export const EXPORTS = {
  init: ["start", "cap"],
  size: ["start", "cap", "profile"],
  has: ["start", "cap", "profile", "key"],
  get: ["start", "cap", "profile", "key", "value", "outLen"],
  set: ["start", "cap", "profile", "key", "len", "lo", "hi"],
  del: ["start", "cap", "profile", "key"],
  setMany: ["start", "cap", "profile", "fields", "values", "replace"],
  decode: ["start", "cap", "profile", "keys", "lens", "values"],
  batchGet: ["pool", "desc", "first", "n", "key", "values", "stride", "status"],
  batchSet: ["pool", "desc", "first", "n", "key", "len", "values", "stride", "status"],
  batchSetMany: ["pool", "desc", "first", "n", "fields", "values", "stride", "replace", "status"],
  batchDel: ["pool", "desc", "first", "n", "key", "status"],
  batchHas: ["pool", "desc", "first", "n", "key", "status"],
  batchInit: ["pool", "desc", "first", "n", "status"],
  batchGetWide: ["pool", "desc", "first", "n", "key", "values", "stride", "status"],
  batchDecode: ["pool", "desc", "first", "n", "keys", "lens", "values", "room", "status"],
  pcapAnnotate: [
    "input",
    "inputEnd",
    "output",
    "outputLimit",
    "max",
    "linkType",
    "nanoseconds",
    "profile",
    "fields",
    "values",
    "storeSize",
    "table",
    "comment",
    "result",
  ],
} as const;

/** A number for each name of a parameter list. */
type Numbers<Names extends readonly string[]> = { -readonly [P in keyof Names]: number };
/** The exports as functions of i32 arguments, each returning an i32. */
type Exports = { [F in keyof typeof EXPORTS]: (...args: Numbers<(typeof EXPORTS)[F]>) => number };

/** The WASM core over one memory: the exports plus a scratch area for single-store results. */
export class WasmCore implements Core {
  readonly impl = "wasm" as const;
  private readonly ex: Exports;
  /** Address of the scratch area in the memory. */
  readonly scratch: number;
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
  constructor(
    module: WebAssembly.Module,
    private readonly memory: WebAssembly.Memory,
    scratch?: number,
  ) {
    const ex = (this.ex = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Exports);
    this.scratch = scratch ?? arenaOf(memory).alloc(Scratch.BYTES, 8);
    this.u8 = new Uint8Array(memory.buffer);
    this.u32 = new Uint32Array(memory.buffer, 0, memory.buffer.byteLength >>> 2);
    ({
      batchGet: this.batchGet,
      batchSet: this.batchSet,
      batchSetMany: this.batchSetMany,
      batchDel: this.batchDel,
    } = ex);
    ({
      batchHas: this.batchHas,
      batchInit: this.batchInit,
      batchGetWide: this.batchGetWide,
      batchDecode: this.batchDecode,
    } = ex);
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
    const s = this.scratch,
      len = this.ex.get(start, cap, profile, key, s, outLen);
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
  setMany(
    start: number,
    cap: number,
    profile: number,
    keys: Uint8Array,
    lens: Uint8Array,
    m: number,
    values: Uint32Array,
  ): number {
    return this.ex.setMany(start, cap, profile, this.fieldList(keys, lens, m, values), this.scratch, 0);
  }

  /** Writes a field list (m keys and lengths) and its values (u32 lo, hi pairs) to the scratch area; returns the list's address (the values are at scratch). */
  private fieldList(keys: Uint8Array, lens: Uint8Array, m: number, values: Uint32Array): number {
    const s = this.scratch,
      fields = s + Scratch.FIELDS,
      u32 = this.views();
    u32.set(values.subarray(0, 2 * m), s >>> 2);
    u32[(fields + FieldList.M) >>> 2] = m;
    this.u8.set(keys.subarray(0, m), fields + FieldList.KEYS);
    this.u8.set(lens.subarray(0, m), fields + FieldList.LENS);
    return fields;
  }

  /**
   * The fast path of `pcap annotate` (pcapAnnotate in assembly/pipeline.ts: its parameters; `comment`
   * the address of its comment plan, 0 for none), with
   * its field list, m keys and lengths, and their first values (u32 lo, hi pairs) written to the
   * scratch area. Returns the number of records annotated; the input and output positions reached
   * are the u32 at result and result + 4.
   */
  pcapAnnotate(
    input: number,
    inputEnd: number,
    output: number,
    outputLimit: number,
    max: number,
    linkType: number,
    nanoseconds: boolean,
    profile: number,
    fields: { keys: Uint8Array; lens: Uint8Array; m: number; values: Uint32Array },
    storeSize: number,
    table: number,
    comment: number,
    result: number,
  ): number {
    const { keys, lens, m, values } = fields;
    return this.ex.pcapAnnotate(
      input,
      inputEnd,
      output,
      outputLimit,
      max,
      linkType,
      nanoseconds ? 1 : 0,
      profile,
      this.fieldList(keys, lens, m, values),
      this.scratch,
      storeSize,
      table,
      comment,
      result,
    );
  }
  decode(start: number, cap: number, profile: number, keys: Uint8Array, lens: Uint8Array, values: Uint32Array): number {
    const s = this.scratch;
    const n = this.ex.decode(start, cap, profile, s + Scratch.DECODE_KEYS, s + Scratch.DECODE_LENS, s + Scratch.VALUES);
    const u32 = this.views(),
      u8 = this.u8,
      w = s >>> 2;
    for (let i = 0; i < n; i++) {
      keys[i] = u8[s + Scratch.DECODE_KEYS + i]!;
      lens[i] = u8[s + Scratch.DECODE_LENS + i]!;
      values[2 * i] = u32[w + 2 * i]!;
      values[2 * i + 1] = u32[w + 2 * i + 1]!;
    }
    return n;
  }
}

const cores = new WeakMap<WebAssembly.Memory, WasmCore | string>();

/** True once a memory has its WASM core (and so its scratch area). */
export function hasWasmCore(memory: WebAssembly.Memory): boolean {
  return cores.get(memory) instanceof WasmCore;
}

/** The cached WASM core of a memory (plain or shared), or null if WebAssembly cannot run on it (wasmFailure says why); the first call places its scratch. */
export function wasmCoreOf(memory: WebAssembly.Memory, scratch?: number): WasmCore | null {
  let core = cores.get(memory);
  if (core === undefined) {
    try {
      core = new WasmCore(
        wasmModule(typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer),
        memory,
        scratch,
      );
    } catch (e) {
      core = e instanceof Error ? e.message : String(e); // e.g. a shared memory whose maximum exceeds 4 GiB
    }
    cores.set(memory, core);
  }
  return core instanceof WasmCore ? core : null;
}

/** Why the WASM core cannot run on a memory (after wasmCoreOf returned null), else undefined. */
export function wasmFailure(memory: WebAssembly.Memory): string | undefined {
  const core = cores.get(memory);
  return typeof core === "string" ? core : undefined;
}
