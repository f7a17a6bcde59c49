// The export's store decoder reuses the layout of the last header it decoded: every store it decodes,
// in any order of repeated and new headers, lengths and profiles, gives what the core's tryDecode
// gives on that store alone (its layout number the same only for the same keys and sizes); a corrupt store is
// refused even right after a good one of the same header. A table resolves a repeated layout again after new names.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createStore } from "../../src/index.js";
import { StoreDecoder } from "../../src/export/stores.js";
import { PacketTable } from "../../src/export/table.js";
import { TraitStore } from "../../src/store/store.js";

type Profile = "v1" | "flags";
const SIZES: Record<Profile, number[]> = { v1: [2, 4, 8], flags: [0, 4, 8] };

/** A store of `profile` holding `entries` ([key, size, value]), `capacity` bytes, at `at` in a larger buffer. */
function place(profile: Profile, entries: Array<[number, number, bigint]>, capacity: number, at: number): Uint8Array {
  const store = createStore(capacity, { profile, impl: "js" });
  for (const [key, size, value] of entries)
    if (size === 0) store.setFlag(key);
    else store.set(key, value & ((1n << BigInt(8 * size)) - 1n), size);
  const buffer = new Uint8Array(at + capacity + 8).fill(0xa5);
  buffer.set(store.bytes().subarray(0, capacity), at);
  return buffer;
}

/** What the core says of the store alone: its entries as [key, length, lo, hi], or the errno. */
function alone(bytes: Uint8Array, at: number, length: number, profile: Profile): Array<number[]> | number {
  const keys = new Uint8Array(64),
    lens = new Uint8Array(64),
    values = new Uint32Array(128);
  const n = TraitStore.over(bytes.slice(at, at + length), { profile, impl: "js" }).tryDecode(keys, lens, values);
  if (n < 0) return n;
  return Array.from({ length: n }, (_, i) => [
    keys[i]!,
    lens[i]!,
    values[2 * i]!,
    lens[i] === 8 ? values[2 * i + 1]! : 0,
  ]);
}

function decoded(decoder: StoreDecoder, bytes: Uint8Array, at: number, length: number, profile: Profile) {
  try {
    const d = decoder.decode(bytes, at, length, profile);
    return Array.from({ length: d.count }, (_, i) => [
      d.keys[i]!,
      d.lens[i]!,
      d.values[2 * i]!,
      d.lens[i] === 8 ? d.values[2 * i + 1]! : 0,
    ]);
  } catch (error) {
    return (error as Error).message;
  }
}

describe("StoreDecoder", () => {
  it("decodes as the core does, whether the header repeats or not", () => {
    const layout = fc.record({
      profile: fc.constantFrom<Profile>("v1", "flags"),
      keys: fc.uniqueArray(fc.integer({ min: 0, max: 63 }), { minLength: 0, maxLength: 10 }),
      sizes: fc.array(fc.nat(2), { minLength: 10, maxLength: 10 }),
      room: fc.constantFrom(0, 4, 64),
    });
    const store = fc.record({
      layout: fc.nat(3),
      values: fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { minLength: 10, maxLength: 10 }),
      at: fc.nat(40),
    });
    fc.assert(
      fc.property(
        fc.array(layout, { minLength: 1, maxLength: 4 }),
        fc.array(store, { minLength: 1, maxLength: 30 }),
        (layouts, stores) => {
          const decoder = new StoreDecoder();
          let last: { layout: number; shape: string } | undefined;
          for (const s of stores) {
            const l = layouts[s.layout % layouts.length]!;
            const entries = l.keys.map((key, i): [number, number, bigint] => [
              key,
              SIZES[l.profile][l.sizes[i]!]!,
              s.values[i]!,
            ]);
            const used = 16 + entries.reduce((sum, [, size]) => sum + size, 0),
              bytes = place(l.profile, entries, used + l.room, s.at);
            expect(decoded(decoder, bytes, s.at, used + l.room, l.profile)).toEqual(
              alone(bytes, s.at, used + l.room, l.profile),
            );
            // The same layout number only for the same keys and sizes.
            const d = decoder.decode(bytes, s.at, used + l.room, l.profile),
              now = { layout: d.layout, shape: `${d.keys.subarray(0, d.count)}/${d.lens.subarray(0, d.count)}` };
            if (last?.layout === now.layout) expect(now.shape).toBe(last.shape);
            last = now;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses a corrupt store right after a good one of the same header (another length), and decodes the next good one", () => {
    const decoder = new StoreDecoder(),
      good = place(
        "v1",
        [
          [3, 8, 7n],
          [9, 4, 5n],
        ],
        32,
        0,
      );
    expect(decoded(decoder, good, 0, 32, "v1")).toEqual([
      [3, 8, 7, 0],
      [9, 4, 5, 0],
    ]);
    // The same header words, but 8 bytes too short for the 12 bytes of values it declares.
    expect(decoded(decoder, good, 0, 20, "v1")).toMatch(/^EBADMSG: corrupt trait store/);
    expect(alone(good, 0, 20, "v1")).toBeLessThan(0);
    good[16] = 8;
    expect(decoded(decoder, good, 0, 32, "v1")).toEqual([
      [3, 8, 8, 0],
      [9, 4, 5, 0],
    ]);
    // The same bytes read in the other profile: key 9's size code 10 means 4 bytes in both, key 3's 11 means 8.
    expect(decoded(decoder, good, 0, 32, "flags")).toEqual(alone(good, 0, 32, "flags"));
    expect(decoded(decoder, good, 0, 15, "v1")).toMatch(/^EBADMSG: its traits option holds 15 bytes/);
  });
});

describe("PacketTable", () => {
  it("puts a repeated store layout's values in the columns of the names given since (a new section's)", () => {
    const table = new PacketTable(),
      fields = { interfaceId: 0, queue: -1, verdict: -1, captured: 0, original: 0, linkType: 1 },
      traits = { count: 1, layout: 7, keys: Uint8Array.of(3), lens: Uint8Array.of(4), values: Uint32Array.of(11, 0) };
    table.useNames([
      { key: 3, name: "a", size: 4 },
      { key: 4, name: "b", size: 4 },
    ]);
    table.add(new Uint8Array(0), 0, fields, 0, -1, traits);
    table.useNames([{ key: 3, name: "b", size: 4 }]);
    traits.values[0] = 12;
    table.add(new Uint8Array(0), 0, fields, 0, -1, traits);
    const names = table.columns.map((c) => c.name),
      { columns } = table.take(),
      [a, b] = [columns[names.indexOf("a")]!, columns[names.indexOf("b")]!];
    expect([a.values[0], a.valid![0]! & 3, b.values[1], b.valid![0]! & 3]).toEqual([11, 1, 12, 2]);
  });
});
