/** Core selection: the cached core of each memory or buffer, for the implementation asked for. */
import { Scratch } from "./abi.js";
import type { Core, Impl } from "./contract.js";
import { defaultMemory } from "./memory.js";
import { checkInteger, describe } from "./options.js";
import { TraitsError } from "./errors.js";
import { JsCore } from "./js-core.js";
import { hasWasmCore, wasmCoreOf, wasmFailure } from "./wasm.js";

const jsCores = new WeakMap<object, JsCore>();

/** The cached pure-JS core of a memory or buffer. */
export function jsCoreOf(source: WebAssembly.Memory | ArrayBufferLike): JsCore {
  let core = jsCores.get(source);
  if (!core) {
    core = new JsCore(isMemory(source) ? source : { buffer: source });
    jsCores.set(source, core);
  }
  return core;
}

/** True for a WebAssembly.Memory (false everywhere where WebAssembly does not exist). */
export function isMemory(value: unknown): value is WebAssembly.Memory {
  return typeof WebAssembly === "object" && value instanceof WebAssembly.Memory;
}

/**
 * The core of the chosen implementation (toImpl's result) for a memory. Throws EINVAL, saying why,
 * if the WebAssembly core cannot run on it: never a silent fall back to the slower JS core.
 */
export function coreOf(memory: WebAssembly.Memory, impl: Impl): Core {
  if (impl === "js") return jsCoreOf(memory);
  const core = wasmCoreOf(memory);
  if (core) return core;
  throw new TraitsError(
    "EINVAL",
    `the WebAssembly core cannot run on this memory (${wasmFailure(memory)}); use impl "js" to choose the pure-JS core`,
  );
}

/**
 * The core for a view of a store in `memory` (TraitStore.at): never allocates. A caller's memory runs
 * on WebAssembly only once useMemory() gave it a scratch area; throws EINVAL before, naming the fix.
 */
export function viewCoreOf(memory: WebAssembly.Memory, impl: Impl): Core {
  if (impl === "wasm" && memory !== defaultMemory() && !hasWasmCore(memory)) {
    throw new TraitsError(
      "EINVAL",
      `the WebAssembly core needs a ${Scratch.BYTES}-byte scratch area in this memory: call useMemory(memory) first (it grows the memory by one page, which detaches views of it), or useMemory(memory, { scratch }) with bytes you reserved; or use impl "js"`,
    );
  }
  return coreOf(memory, impl);
}

/**
 * Prepares a caller's WebAssembly.Memory for the WebAssembly core: places the core's scratch area
 * (Scratch.BYTES = 800 bytes) at `scratch`, 8-aligned bytes the caller reserves, or, without it, in
 * a page added at the end of the memory (growing it detaches every view of it: call this before
 * taking views). Idempotent. Returns the scratch address. Throws EINVAL for a bad memory or scratch,
 * or if WebAssembly cannot run on this memory; ENOMEM if the memory cannot grow.
 */
export function useMemory(memory: WebAssembly.Memory, options: { scratch?: number } = {}): number {
  if (!isMemory(memory))
    throw new TraitsError("EINVAL", `memory must be a WebAssembly.Memory, not ${describe(memory)}`);
  const { scratch } = options;
  if (scratch !== undefined) {
    checkInteger(scratch, "scratch", 0, memory.buffer.byteLength - Scratch.BYTES);
    if (scratch % 8 !== 0) throw new TraitsError("EINVAL", `scratch ${scratch} is not 8-byte aligned`);
  }
  const had = hasWasmCore(memory),
    core = wasmCoreOf(memory, scratch);
  if (!core) throw new TraitsError("EINVAL", `the WebAssembly core cannot run on this memory (${wasmFailure(memory)})`);
  if (had && scratch !== undefined && scratch !== core.scratch)
    throw new TraitsError("EINVAL", `this memory's scratch area is already at ${core.scratch}`);
  return core.scratch;
}
