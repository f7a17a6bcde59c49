/**
 * The WASM loader: the AssemblyScript core's bytes are embedded in the code (module.ts, generated
 * at build time), so it needs no file access; compiled synchronously (no top-level await, so
 * `require` works), once per kind of memory.
 */
import { PLAIN_WASM, SHARED_WASM } from "./module.js";

const compiled: Array<WebAssembly.Module | Error | undefined> = [];

/**
 * The smallest module with a SIMD instruction (a function returning v128.const 0): it validates only
 * where the runtime has WebAssembly SIMD (fixed-width, 128-bit), which the core's batch loops use.
 */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 11,
]);

/** Decodes base64 to bytes (atob exists in Node, browsers, Deno and Bun). */
function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text),
    bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * The compiled module for plain memories (build/traits.wasm) or shared ones (build/traits.shared.wasm,
 * threads, a shared imported memory of at most 4 GiB). Compiled on first use and cached.
 * Throws an Error saying why where it cannot be compiled (no WebAssembly, no SIMD, no threads support).
 */
export function wasmModule(shared: boolean): WebAssembly.Module {
  const i = shared ? 1 : 0;
  if (compiled[i] === undefined) {
    try {
      if (typeof WebAssembly !== "object") throw new Error("this JavaScript runtime has no WebAssembly");
      if (!WebAssembly.validate(SIMD_PROBE))
        throw new Error(
          "this JavaScript runtime's WebAssembly has no SIMD (128-bit, in Node 16.4, Chrome 91, Firefox 89, Safari 16.4 and later), which the WebAssembly core needs",
        );
      compiled[i] = new WebAssembly.Module(fromBase64(shared ? SHARED_WASM : PLAIN_WASM));
    } catch (e) {
      compiled[i] = e instanceof Error ? e : new Error(String(e));
    }
  }
  const result = compiled[i]!;
  if (result instanceof Error) throw result;
  return result;
}
