// Conformance: every case of every *.jsonl in $TRAITS_VECTORS (default test/vectors) through both
// implementations and both API styles, each store between guard bytes.
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it, afterAll } from "vitest";
import { TraitsError, type Profile, type TraitStore } from "packet-traits";
import { IMPLS, guardedStore, hex, unhex } from "../helpers.js";

interface Op {
  op: "set" | "get" | "del" | "has";
  key: number;
  value?: string;
  len?: number;
  outLen?: number;
  rc: number;
  size?: number;
  header?: string;
}
interface Case {
  id: number;
  profile: Profile;
  cap: number;
  init: string;
  ops: Op[];
  final: string;
}

const dir = resolve(process.env.TRAITS_VECTORS ?? join(import.meta.dirname, "..", "vectors"));
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".jsonl"))
  .sort();
const cases = files.flatMap((file) =>
  readFileSync(join(dir, file), "utf8")
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => ({ file, c: JSON.parse(line) as Case })),
);
const opCount = cases.reduce((n, { c }) => n + c.ops.length, 0);

/** Runs one op through the throwing API; returns the C-style rc and the value read. */
function viaThrowing(store: TraitStore, op: Op): [number, string] {
  try {
    switch (op.op) {
      case "set":
        store.set(op.key, unhex(op.value!), op.len);
        return [0, ""];
      case "has":
        return [store.has(op.key) ? 1 : 0, ""];
      case "del":
        return [store.delete(op.key) ? 0 : -2, ""];
      case "get": {
        const value = store.getBytes(op.key);
        if (value === undefined) return [-2, ""];
        return value.length > op.outLen! ? [-28, ""] : [value.length, hex(value)];
      }
    }
  } catch (error) {
    if (error instanceof TraitsError) return [error.errno, ""];
    throw error;
  }
}

/** Runs one op through the non-throwing API. */
function viaErrno(store: TraitStore, op: Op): [number, string] {
  switch (op.op) {
    case "set": {
      const bytes = unhex(op.value!);
      if (bytes.length !== op.len || op.len > 8) return [viaThrowing(store, op)[0], ""];
      const view = new DataView(new Uint8Array([...bytes, 0, 0, 0, 0, 0, 0, 0, 0]).buffer);
      return [store.trySet(op.key, view.getUint32(0, true), view.getUint32(4, true), op.len), ""];
    }
    case "has":
      return [store.tryHas(op.key), ""];
    case "del":
      return [store.tryDelete(op.key), ""];
    case "get": {
      const out = new Uint8Array(op.outLen!);
      const rc = store.tryGetBytes(op.key, out);
      return [rc, rc >= 0 ? hex(out.subarray(0, rc)) : ""];
    }
  }
}

describe(`conformance vectors in ${dir}`, () => {
  it("holds at least one case", () => {
    expect(cases.length, `no *.jsonl case in ${dir}`).toBeGreaterThan(0);
  });

  let ran = 0;
  afterAll(() =>
    console.log(
      `conformance: ${cases.length} cases, ${opCount} ops from ${files.length} files, ${ran} op runs (2 impls x 2 API styles)`,
    ),
  );

  for (const impl of IMPLS) {
    for (const [style, apply] of [
      ["throwing", viaThrowing],
      ["errno", viaErrno],
    ] as const) {
      it(`${impl}, ${style} API: every op's rc, value, size and header; final bytes; guards intact`, () => {
        for (const { file, c } of cases) {
          const g = guardedStore(impl, c.profile, c.cap, unhex(c.init));
          c.ops.forEach((op, i) => {
            const where = `${file} case ${c.id} op ${i} ${JSON.stringify(op)}`;
            const [rc, value] = apply(g.store, op);
            expect(rc, where).toBe(op.rc);
            if (op.op === "get") expect(value, where).toBe((op as { value?: string }).value ?? "");
            if (op.size !== undefined) expect(g.store.trySize(), where).toBe(op.size);
            if (op.header !== undefined) expect(hex(g.store.bytes().subarray(0, 16)), where).toBe(op.header);
            g.checkGuards();
            ran++;
          });
          const size = g.store.trySize();
          expect(hex(g.store.bytes().subarray(0, size < 0 ? c.cap : size)), `${file} case ${c.id} final`).toBe(c.final);
        }
      });
    }
  }
});
