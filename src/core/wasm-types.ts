/**
 * The WebAssembly types of the published declarations. The build (scripts/build-package.mjs) writes
 * these in place of `WebAssembly.Memory` and `WebAssembly.Module` in dist/*.d.ts, so a consumer without
 * the DOM lib (a Node-only project: `lib: ["es2022"]`, `types: ["node"]`) type-checks them; with the
 * DOM lib they are exactly the DOM's types.
 */

/** A WebAssembly.Memory as this library uses it, for consumers without the DOM lib. */
export interface MemoryShape {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(delta: number): number;
}

/** WebAssembly.Memory where the consumer's libs declare it, else MemoryShape. */
export type WasmMemory = typeof globalThis extends { WebAssembly: { Memory: abstract new (...args: never) => infer M } }
  ? M
  : MemoryShape;

/** WebAssembly.Module where the consumer's libs declare it, else an opaque object. */
export type WasmModule = typeof globalThis extends { WebAssembly: { Module: abstract new (...args: never) => infer M } }
  ? M
  : object;
