// Short runs of every fuzz target (npm run fuzz runs them long): they keep the fuzzers working in CI.
// The new targets run as `npm run fuzz` runs them: in a worker thread under the watchdog.
import { afterAll, describe, expect, it } from "vitest";
import { captureSamples, fuzzCodec, fuzzDecoders } from "../../fuzz/targets.js";
import { Watched } from "../../fuzz/watchdog.js";

describe("fuzz targets, short", () => {
  it("codec: WASM and JS agree after every random op, nothing written outside a store (3 seeds x 3000 ops)", () => {
    for (const seed of [1, 2, 3]) expect(fuzzCodec(seed, 3000)).toBe(3000);
  });

  it("decoders: registry configs, captures and hex give a result or a TraitsError (3000 inputs)", () => {
    expect(fuzzDecoders(7, 3000, captureSamples())).toBe(3000);
  });

  const watched: Watched[] = [];
  afterAll(() => Promise.all(watched.map((w) => w.close())));
  /** Runs `ops` ops of a target for each seed, in its watchdog's thread. */
  async function short(name: string, seeds: number[], ops: number): Promise<void> {
    const w = new Watched(name);
    watched.push(w);
    for (const seed of seeds) expect(await w.run(seed, ops)).toBe(ops);
  }

  it("pools: WASM, JS and the model agree on both profiles, placements struct, keys and off, strict registries, transfers, growth, released bursts (2 seeds x 800 ops)", async () => {
    await short("pools", [1, 2], 800);
  });

  it("shared: the shared-memory WASM build, JS and the model agree (800 ops)", async () => {
    await short("shared", [3], 800);
  });

  it("lifecycle: freed stores, aliases, retargeted views, memory growth, resizable buffers (2 seeds x 800 ops)", async () => {
    await short("lifecycle", [1, 2], 800);
  });

  it("roundtrip: registries, stores and hex come back equal (1000 inputs)", async () => {
    await short("roundtrip", [5], 1000);
  });

  it("workers: a WorkerGroup's runs equal one thread's (6 tasks)", async () => {
    await short("workers", [1], 6);
  });

  it("the watchdog turns a hang into a failure naming the target and the seed, and passes a target's error on", async () => {
    const fixtures = new URL("../fixtures/hang.mjs", import.meta.url).href;
    const hang = new Watched("hang", 500, { module: fixtures, fn: "hang" }),
      fail = new Watched("fail", 10_000, { module: fixtures, fn: "fail" });
    watched.push(hang, fail);
    await expect(hang.run(42, 10)).rejects.toThrow(/^hang: seed 42: no result after 0.5 s .*watchdog/);
    await expect(fail.run(7, 10)).rejects.toThrow(/^seed 7 op 0: a finding/);
  });
});
