// The JS twin's shortcuts (issue 21), each against the WebAssembly core on the same bytes: the batch
// loops' memo of the last header (four 32-bit words: a header that differs in any one of them is worked
// out again), sizes by popcounts in both profiles, decode's masked 8-byte reads (only where 8 bytes
// past the last value are in the store), and setMany with replace (the prepared header and offsets,
// and the first error of the same sets one by one).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PacketPool, TraitStore, useMemory, type Impl, type Profile } from "packet-traits";
import { hex } from "../helpers.js";

const SIZES: Record<Profile, number[]> = { v1: [2, 4, 8], flags: [0, 4, 8] };
const FRAME = 256;

/** A pool's internal setter of a frame's head and store capacity (a capacity under the header's bytes included). */
type Heads = { setHead(frame: number, head: number, length: number, meta: number): void };

/** Writes a store: header words (h0, h1, l0, l1) and the given value bytes after it, the rest of the frame 0xff. */
function writeStore(bytes: Uint8Array, words: number[], values: Uint8Array): void {
  bytes.fill(0xff);
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  words.forEach((w, i) => dv.setInt32(4 * i, w, true));
  bytes.set(values, 16);
}

/** Header words for a key list (key, size code 1..3). */
function wordsOf(keys: { key: number; code: number }[]): number[] {
  const w = [0, 0, 0, 0];
  for (const { key, code } of keys) {
    const half = key >>> 5,
      bit = 1 << (key & 31);
    if (code & 2) w[half]! |= bit;
    if (code & 1) w[2 + half]! |= bit;
  }
  return w;
}

const keySet = fc.uniqueArray(
  fc.record({ key: fc.integer({ min: 0, max: 63 }), code: fc.integer({ min: 1, max: 3 }) }),
  {
    selector: (k) => k.key,
    maxLength: 24,
  },
);

/** Everything the batch calls report over one burst of all frames: statuses, values, decoded entries and the frames' bytes. */
function runAll(pool: PacketPool, key: number): unknown[] {
  const burst = pool.burst(pool.count).selectRange(0, pool.count),
    out: unknown[] = [];
  const snap = () => {
    out.push(
      [...burst.status()],
      Array.from({ length: pool.count }, (_, f) => hex(pool.frameBytes(f))),
    );
  };
  out.push(pool.batchHas(burst, key));
  snap();
  out.push(pool.batchGet(burst, key), [...burst.values()]);
  snap();
  const decoded = pool.decodeBuffer(64 * pool.count);
  out.push(pool.batchDecode(burst, decoded), [...decoded.keys()], [...decoded.lens()], [...decoded.values()]);
  snap();
  out.push(pool.batchSet(burst, key, 8, 0x1122334455667788n));
  snap();
  out.push(pool.batchDelete(burst, key));
  snap();
  out.push(pool.batchSet(burst, key, 4, 0xcafe));
  snap();
  return out;
}

describe("the JS twin's batch loops against the WebAssembly core", () => {
  it("work out again a header that differs from the frame before's in any one of its four words", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Profile>("v1", "flags"),
        keySet,
        fc.array(fc.record({ word: fc.integer({ min: 0, max: 3 }), bit: fc.integer({ min: 0, max: 31 }) }), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.integer({ min: 0, max: 63 }),
        fc.array(fc.integer({ min: 16, max: 200 }), { minLength: 1, maxLength: 8 }),
        (profile, keys, flips, key, caps) => {
          const base = wordsOf(keys);
          const results = (impl: Impl) => {
            const pool = new PacketPool({ count: flips.length + 1, frameSize: FRAME, headroom: 200, profile, impl });
            const values = Uint8Array.from({ length: 200 }, (_, i) => (i * 37 + 11) & 0xff);
            // Frame 0 holds the base header; frame i + 1 the base with one bit of one word flipped.
            for (let f = 0; f <= flips.length; f++) {
              const words = [...base];
              if (f > 0) words[flips[f - 1]!.word]! ^= 1 << flips[f - 1]!.bit;
              writeStore(pool.frameBytes(f), words, values);
              (pool as unknown as Heads).setHead(f, caps[f % caps.length]!, 0, caps[f % caps.length]!);
            }
            return runAll(pool, key);
          };
          expect(results("js")).toEqual(results("wasm"));
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe("the JS twin's decode against the WebAssembly core", () => {
  it("reads each value exactly whatever bytes follow the store's last value, up to the end of the memory", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Profile>("v1", "flags"),
        keySet,
        fc.integer({ min: 0, max: 12 }),
        (profile, keys, spare) => {
          const lens = SIZES[profile],
            used = 16 + keys.reduce((n, k) => n + lens[k.code - 1]!, 0),
            cap = used + spare;
          const decodeAtEnd = (impl: Impl) => {
            // The store ends at the end of the memory: a read of 8 bytes past a value there would throw.
            const memory = new WebAssembly.Memory({ initial: 2 });
            if (impl === "wasm") useMemory(memory, { scratch: 0 });
            const start = (memory.buffer.byteLength - cap) & ~7,
              bytes = new Uint8Array(memory.buffer, start, memory.buffer.byteLength - start);
            writeStore(
              bytes,
              wordsOf(keys),
              Uint8Array.from({ length: used - 16 }, (_, i) => (i * 53 + 7) & 0xff),
            );
            const store = TraitStore.at(memory, start, memory.buffer.byteLength - start, { impl, profile });
            const k = new Uint8Array(64),
              l = new Uint8Array(64),
              v = new Uint32Array(128);
            const n = store.tryDecode(k, l, v);
            return [
              n,
              [...k.subarray(0, Math.max(n, 0))],
              [...l.subarray(0, Math.max(n, 0))],
              [...v.subarray(0, 2 * Math.max(n, 0))],
            ];
          };
          expect(decodeAtEnd("js")).toEqual(decodeAtEnd("wasm"));
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe("the JS twin's setMany with replace", () => {
  it("gives each frame the first error of a clear and the same sets one by one, or the prepared store", () => {
    const field = fc.record({ key: fc.integer({ min: 0, max: 63 }), size: fc.integer({ min: 0, max: 2 }) });
    fc.assert(
      fc.property(
        fc.constantFrom<Profile>("v1", "flags"),
        fc.uniqueArray(field, { selector: (f) => f.key, minLength: 1, maxLength: 6 }),
        fc.array(fc.record({ cap: fc.integer({ min: 0, max: 72 }), misfit: fc.integer({ min: -1, max: 5 }) }), {
          minLength: 1,
          maxLength: 10,
        }),
        (profile, fieldList, frames) => {
          const fields = fieldList.map((f) => ({ key: f.key, len: SIZES[profile][f.size]! }));
          const run = (impl: Impl) => {
            const pool = new PacketPool({ count: frames.length, frameSize: 128, headroom: 80, profile, impl });
            const burst = pool.burst(frames.length, { slots: fields.length }).selectRange(0, frames.length),
              v = burst.values();
            frames.forEach(({ cap, misfit }, f) => {
              pool.traits(f).trySet(40, 0x1234, 0, profile === "v1" ? 2 : 4);
              (pool as unknown as Heads).setHead(f, cap & ~3, 0, cap & ~3);
              fields.forEach((fd, j) => {
                const at = 2 * (f * fields.length + j);
                // Field `misfit` gets a value too big for its length (not for 8-byte fields, where every pair fits).
                v[at] = j === misfit ? 0x12345 : (f * 31 + j) & 0xffff;
                v[at + 1] = j === misfit ? 1 : fd.len === 8 ? f : 0;
                if (fd.len === 0 && j !== misfit) v[at] = 0;
              });
            });
            const ok = pool.batchSetMany(burst, fields, { replace: true });
            return [ok, [...burst.status()], Array.from({ length: frames.length }, (_, f) => hex(pool.frameBytes(f)))];
          };
          expect(run("js")).toEqual(run("wasm"));
        },
      ),
      { numRuns: 600 },
    );
  });
});
