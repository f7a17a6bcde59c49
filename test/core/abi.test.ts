// The one ABI: every layout constant and errno the AssemblyScript core exports (assembly/abi.ts)
// equals its TypeScript mirror (src/core/abi.ts), and the module's functions are exactly those the
// adapter binds, with the same number of parameters.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CoreErrno, FieldList, PoolControl, Scratch } from "../../src/core/abi.js";
import { EXPORTS } from "../../src/core/wasm.js";
import { Errno } from "packet-traits";

const build = join(import.meta.dirname, "..", "..", "build");

/** The TS side, under the names assembly/abi.ts gives each constant. */
const MIRROR: Record<string, number> = {
  ...prefixed("POOL_", PoolControl, { BYTES: "CONTROL_BYTES" }),
  ...prefixed("FIELDS_", FieldList, {}),
  ...prefixed("SCRATCH_", Scratch, {}),
  ...prefixed("", CoreErrno, {}),
};

function prefixed(prefix: string, members: object, renames: Record<string, string>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(members)
      .filter(([, v]) => typeof v === "number")
      .map(([name, v]) => [prefix + (renames[name] ?? name), v as number]),
  );
}

describe.each(["traits.wasm", "traits.shared.wasm"])("%s", (file) => {
  const module = new WebAssembly.Module(readFileSync(join(build, file)));
  const shared = file.includes("shared");
  const memory = new WebAssembly.Memory(shared ? { initial: 1, maximum: 65536, shared: true } : { initial: 1 });
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const globals = Object.fromEntries(
    Object.entries(exports).flatMap(([name, value]) => (value instanceof WebAssembly.Global ? [[name, value.value as number]] : [])),
  );

  it("exports every layout constant the TS side mirrors, with the same value, and no other", () => {
    expect(globals).toEqual(MIRROR);
  });

  it("exports exactly the functions the adapter binds, with their parameter counts", () => {
    const functions = Object.fromEntries(
      Object.entries(exports).flatMap(([name, value]) => (typeof value === "function" ? [[name, value.length]] : [])),
    );
    expect(functions).toEqual(Object.fromEntries(Object.entries(EXPORTS).map(([name, params]) => [name, params.length])));
  });
});

it("the public Errno table agrees with the core's errnos", () => {
  for (const [name, errno] of Object.entries(CoreErrno)) if (typeof errno === "number") expect(Errno[name as keyof typeof Errno]).toBe(errno);
});
