// Lifecycles of stores: a createStore() store's region lives as long as anything can reach it (or
// until free()), a view never grows a caller's memory, one view retargets cheaply across stores,
// and buffers whose size can change are refused.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PacketPool, TraitStore, createStore, defaultMemory, useMemory } from "packet-traits";
import { IMPLS, expectError } from "../helpers.js";

const ROOT = join(import.meta.dirname, "..", "..");

/** Runs an ES module in a child `node --expose-gc` (so that the test can collect garbage) and returns its stdout lines. */
function withGc(source: string): string[] {
  const run = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", source], {
    cwd: ROOT,
    encoding: "utf8",
  });
  expect(run.stderr).toBe("");
  return run.stdout.trim().split("\n");
}

const COLLECT = `const collect = async () => { for (let i = 0; i < 4; i++) { gc(); await new Promise((r) => setTimeout(r, 5)); } };`;

describe("createStore() regions", () => {
  it("a region is not reused while a view of it is reachable, and is once nothing reaches it", () => {
    const [whileViewed, afterward] = withGc(`
      import { createStore } from "packet-traits";
      ${COLLECT}
      let store = createStore(64, { impl: "wasm" }), view = store.bytes();
      const start = store.start;
      store = undefined;
      await collect();
      let next = createStore(64, { impl: "wasm" });
      view[20] = 0xee; // the old view's bytes must not be the new store's
      console.log(next.start === start || next.bytes()[20] === 0xee ? "aliased" : "separate");
      view = undefined; next.free();
      await collect();
      console.log(createStore(64, { impl: "wasm" }).start === start ? "reused" : "leaked");
    `);
    expect(whileViewed).toBe("separate");
    expect(afterward).toBe("reused");
  });

  it("a store over a store's bytes keeps the region, and free() disables both", () => {
    const store = createStore(64, { impl: "wasm" });
    const alias = TraitStore.over(store.bytes());
    alias.set(3, 7, 2);
    expect(store.get(3)).toBe(7);
    store.free();
    store.free();
    expectError(() => store.get(3), "ENOMEM", /the store was freed/);
    expectError(() => alias.set(4, 1, 2), "ENOMEM", /the store was freed/);
    const next = createStore(64, { impl: "wasm" });
    next.set(9, 1, 4);
    expect(next.keys()).toEqual([9]);
  });

  it("1,000,000 short-lived stores with `using` keep the library's memory the same size", () => {
    for (let i = 0; i < 1000; i++) {
      using store = createStore(64, { impl: "wasm" });
      store.set(1, i, 4);
    }
    const size = defaultMemory().buffer.byteLength;
    for (let i = 0; i < 1_000_000; i++) {
      using store = createStore(64, { impl: "wasm" });
      store.set(1, i & 0xffff, 4);
    }
    expect(defaultMemory().buffer.byteLength).toBe(size);
  });
});

describe("views of a caller's memory", () => {
  it("TraitStore.at never grows a caller's memory: the WASM core asks for useMemory first", () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const mine = new Uint8Array(memory.buffer);
    expectError(() => TraitStore.at(memory, 0, 64, { impl: "wasm" }), "EINVAL", /call useMemory\(memory\) first/);
    expect(TraitStore.at(memory, 0, 64, { impl: "js" }).impl).toBe("js");
    expect(useMemory(memory, { scratch: 32768 })).toBe(32768);
    expect(useMemory(memory)).toBe(32768);
    const store = TraitStore.at(memory, 0, 64, { impl: "wasm" });
    store.clear();
    store.set(2, 5, 4);
    expect(mine.length).toBe(65536); // still attached: nothing grew
    expect(mine[0]).toBe(4); // and it sees the store's header: key 2's high bit
    expectError(() => useMemory(memory, { scratch: 1024 }), "EINVAL", /already at 32768/);
    expectError(
      () => useMemory(new WebAssembly.Memory({ initial: 1 }), { scratch: 12 }),
      "EINVAL",
      /not 8-byte aligned/,
    );
  });

  it("refuses bytes in a resizable buffer, whose views would not follow it", () => {
    const buffer = new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(64, {
      maxByteLength: 4096,
    });
    expectError(() => TraitStore.over(new Uint8Array(buffer)), "EINVAL", /resizable/);
  });
});

describe.each(IMPLS)("one reusable view, retargeted (%s)", (impl) => {
  it("walks many stores of a caller's buffer or memory, and refuses stores that own their bytes", () => {
    const memory = new WebAssembly.Memory({ initial: 2 });
    if (impl === "wasm") useMemory(memory, { scratch: 65536 });
    const view = TraitStore.at(memory, 0, 64, { impl });
    for (let i = 0; i < 100; i++) {
      view.retarget(64 * i).clear();
      view.set(1, i, 4);
    }
    for (let i = 0; i < 100; i++) expect(view.retarget(64 * i).get(1)).toBe(i);
    expectError(() => view.retarget(12), "EINVAL", /not 8-byte aligned/);
    expectError(() => view.retarget(65536 * 2 - 8, 64), "EINVAL", /store capacity must be an integer in 0..8/);
    expect([view.start, view.capacity]).toEqual([64 * 99, 64]);
    expectError(() => createStore(64, { impl }).retarget(0), "EINVAL", /only a view/);
    expectError(() => new PacketPool({ count: 2, impl }).traits(0).retarget(2048), "EINVAL", /only a view/);
  });
});
