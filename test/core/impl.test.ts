// No silent fallback (issue 14): WebAssembly unless the JS core is asked for, or the runtime has no
// WebAssembly (node --jitless), and then one warning; PACKET_TRAITS_IMPL=wasm makes that an error;
// reading the environment never throws; a WebAssembly without SIMD is an error that says so.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { createStore } from "packet-traits";

/** Runs a module script in a fresh node with `flags` and `env`; returns its stdout. */
function node(flags: string[], script: string, env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, [...flags, "--input-type=module", "-e", script], {
    encoding: "utf8",
    env: { ...process.env, PACKET_TRAITS_IMPL: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
}

describe("core selection", () => {
  it("without WebAssembly (node --jitless) stores run on JS, with one process warning", () => {
    const script = `import { createStore } from "packet-traits"; const a = createStore(32), b = createStore(32); a.set(1, 5, 2); console.log(a.impl, b.impl, a.get(1));`;
    const out = execFileSync("bash", ["-c", `${process.execPath} --jitless --input-type=module -e '${script}' 2>&1`], {
      encoding: "utf8",
      env: { ...process.env, PACKET_TRAITS_IMPL: "" },
    });
    expect(out.match(/PACKET_TRAITS_NO_WASM/g)).toHaveLength(1);
    expect(out).toMatch(/^js js 5$/m);
  });

  it("PACKET_TRAITS_IMPL=wasm where there is no WebAssembly is an error, not a fallback", () => {
    const script = `import { createStore } from "packet-traits"; try { createStore(32); } catch (e) { console.log(e.code, e.message); }`;
    const out = node(["--jitless"], script, { PACKET_TRAITS_IMPL: "wasm" });
    expect(out).toMatch(/^EINVAL EINVAL: PACKET_TRAITS_IMPL is "wasm" but this JavaScript runtime has no WebAssembly/);
  });

  it("a WebAssembly without SIMD is an error naming SIMD, not a fallback; impl js still runs", () => {
    // An engine without SIMD rejects every module with a v128 (value type 0x7b) or SIMD instruction (prefix 0xfd).
    const noSimd = `const ok = WebAssembly.validate, Module = WebAssembly.Module, simd = (b) => new Uint8Array(b.buffer ?? b).some((x) => x === 0x7b || x === 0xfd);
      WebAssembly.validate = (b) => !simd(b) && ok(b);
      WebAssembly.Module = function (b) { if (simd(b)) throw new WebAssembly.CompileError("Wasm SIMD unsupported"); return new Module(b); };`;
    const out = node(
      [],
      `${noSimd} const { createStore } = await import("packet-traits"); try { createStore(32); } catch (e) { console.log(e.code, e.message); } const s = createStore(32, { impl: "js" }); s.set(1, 5, 2); console.log(s.impl, s.get(1));`,
    );
    expect(out).toMatch(/^EINVAL .*WebAssembly has no SIMD \(128-bit.*which the WebAssembly core needs/m);
    expect(out).toMatch(/^js 5$/m);
  });

  it("an environment that cannot be read (Deno without --allow-env) is as if unset", () => {
    const out = node(
      [],
      `process.env = new Proxy(process.env, { get(t, k) { if (k === "PACKET_TRAITS_IMPL") throw new Error("NotCapable: Requires env access"); return Reflect.get(t, k); } }); const { createStore } = await import("packet-traits"); console.log(createStore(32).impl);`,
    );
    expect(out).toBe("wasm");
  });

  it("the default is WebAssembly unless PACKET_TRAITS_IMPL says js", () => {
    expect(createStore(32).impl).toBe(process.env.PACKET_TRAITS_IMPL === "js" ? "js" : "wasm");
  });
});
