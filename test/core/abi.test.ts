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
  POOL_BASE: PoolControl.BASE,
  POOL_FRAME_SIZE: PoolControl.FRAME_SIZE,
  POOL_COUNT: PoolControl.COUNT,
  POOL_HEADS: PoolControl.HEADS,
  POOL_PROFILE: PoolControl.PROFILE,
  POOL_METAS: PoolControl.METAS,
  POOL_CONTROL_BYTES: PoolControl.BYTES,
  FIELDS_HIGH: FieldList.HIGH,
  FIELDS_LOW: FieldList.LOW,
  FIELDS_M: FieldList.M,
  FIELDS_DISTINCT: FieldList.DISTINCT,
  FIELDS_VALUE_BYTES: FieldList.VALUE_BYTES,
  FIELDS_KEYS: FieldList.KEYS,
  FIELDS_LENS: FieldList.LENS,
  FIELDS_OFFSETS: FieldList.OFFSETS,
  FIELDS_BYTES: FieldList.BYTES,
  SCRATCH_VALUES: Scratch.VALUES,
  SCRATCH_FIELDS: Scratch.FIELDS,
  SCRATCH_DECODE_KEYS: Scratch.DECODE_KEYS,
  SCRATCH_DECODE_LENS: Scratch.DECODE_LENS,
  SCRATCH_BYTES: Scratch.BYTES,
  ENOENT: CoreErrno.ENOENT,
  ENOMEM: CoreErrno.ENOMEM,
  EBUSY: CoreErrno.EBUSY,
  EINVAL: CoreErrno.EINVAL,
  ENOSPC: CoreErrno.ENOSPC,
  EBADMSG: CoreErrno.EBADMSG,
};

describe.each(["traits.wasm", "traits.shared.wasm"])("%s", (file) => {
  const module = new WebAssembly.Module(readFileSync(join(build, file)));
  const shared = file.includes("shared");
  const memory = new WebAssembly.Memory(shared ? { initial: 1, maximum: 65536, shared: true } : { initial: 1 });
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const globals = Object.fromEntries(
    Object.entries(exports).flatMap(([name, value]) =>
      value instanceof WebAssembly.Global ? [[name, value.value as number]] : [],
    ),
  );

  it("exports every layout constant the TS side mirrors, with the same value, and no other", () => {
    expect(globals).toEqual(MIRROR);
  });

  it("exports exactly the functions the adapter binds, with their parameter counts", () => {
    const functions = Object.fromEntries(
      Object.entries(exports).flatMap(([name, value]) => (typeof value === "function" ? [[name, value.length]] : [])),
    );
    expect(functions).toEqual(
      Object.fromEntries(Object.entries(EXPORTS).map(([name, params]) => [name, params.length])),
    );
  });
});

it("the public Errno table agrees with the core's errnos", () => {
  for (const name of ["ENOENT", "ENOMEM", "EBUSY", "EINVAL", "ENOSPC", "EBADMSG"] as const)
    expect(Errno[name]).toBe(MIRROR[name]);
});
