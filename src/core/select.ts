/** Core selection: the cached core of each memory or buffer, for the implementation asked for. */
import type { Core, Impl } from "./contract.js";
import { TraitsError } from "./errors.js";
import { JsCore } from "./js-core.js";
import { wasmCoreOf } from "./wasm.js";

const jsCores = new WeakMap<object, JsCore>();

/** The cached pure-JS core of a memory or buffer. */
export function jsCoreOf(source: WebAssembly.Memory | ArrayBufferLike): JsCore {
  let core = jsCores.get(source);
  if (!core) {
    core = new JsCore(source instanceof WebAssembly.Memory ? source : { buffer: source });
    jsCores.set(source, core);
  }
  return core;
}

/** The core of the chosen implementation for a memory; throws EINVAL if WebAssembly was asked for and cannot run there. */
export function coreOf(memory: WebAssembly.Memory, impl: Impl, requested: boolean): Core {
  if (impl === "js") return jsCoreOf(memory);
  const core = wasmCoreOf(memory);
  if (core) return core;
  if (requested) throw new TraitsError("EINVAL", "impl \"wasm\" is unavailable here (no WebAssembly, no build/traits.wasm, or a shared memory); use impl \"js\"");
  return jsCoreOf(memory);
}
