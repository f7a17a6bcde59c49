// Short runs of every fuzz target (npm run fuzz runs them long): they keep the fuzzers working in CI.
import { describe, expect, it } from "vitest";
import { captureSamples, fuzzCodec, fuzzDecoders } from "../../fuzz/targets.js";

describe("fuzz targets, short", () => {
  it("codec: WASM and JS agree after every random op, nothing written outside a store (3 seeds x 3000 ops)", () => {
    for (const seed of [1, 2, 3]) expect(fuzzCodec(seed, 3000)).toBe(3000);
  });

  it("decoders: registry configs, captures and hex give a result or a TraitsError (3000 inputs)", () => {
    expect(fuzzDecoders(7, 3000, captureSamples())).toBe(3000);
  });
});
