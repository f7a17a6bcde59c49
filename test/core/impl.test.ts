// No silent fallback (issue 14): WebAssembly unless the JS core is asked for, or the runtime has no
// WebAssembly (node --jitless), and then one warning; PACKET_TRAITS_IMPL=wasm makes that an error;
// reading the environment never throws.
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
