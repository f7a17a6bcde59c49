// The JS twin's shortcuts (issue 21), each against the WebAssembly core on the same bytes: the batch
// loops' memo of the last header (four 32-bit words: a header that differs in any one of them is worked
// out again), sizes by popcounts in both profiles, decode's masked 8-byte reads (only where 8 bytes
// past the last value are in the store), and setMany with replace (the prepared header and offsets,
// and the first error of the same sets one by one).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PacketPool, TraitStore, useMemory, type Impl, type Profile } from "packet-traits";
import { PoolControl } from "../../src/core/abi.js";
import { JsCore } from "../../src/core/js-core.js";
import { sizeBound, storeSize, unitOf } from "../../src/core/js-offsets.js";
import { wasmCoreOf } from "../../src/core/wasm.js";
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
        // Frames in a row, or every other one flipped (15 frames: oneFlow's sample sees only the base, the loops for one flow run).
        fc.boolean(),
        fc.constantFrom<Profile>("v1", "flags"),
        keySet,
        fc.array(fc.record({ word: fc.integer({ min: 0, max: 3 }), bit: fc.integer({ min: 0, max: 31 }) }), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.integer({ min: 0, max: 63 }),
        fc.array(fc.integer({ min: 16, max: 200 }), { minLength: 1, maxLength: 8 }),
        (between, profile, keys, flips, key, caps) => {
          const base = wordsOf(keys),
            count = between ? 15 : flips.length + 1;
          const results = (impl: Impl) => {
            const pool = new PacketPool({ count, frameSize: FRAME, headroom: 200, profile, impl });
            const values = Uint8Array.from({ length: 200 }, (_, i) => (i * 37 + 11) & 0xff);
            // Frame 0 holds the base header; frame i + 1 (between: each odd frame) the base with one bit of one word flipped.
            for (let f = 0; f < count; f++) {
              const words = [...base],
                flip = between ? (f & 1 ? flips[(f >>> 1) % flips.length] : undefined) : flips[f - 1];
              if (flip) words[flip.word]! ^= 1 << flip.bit;
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

describe("the JS twin's per-frame loops (js-fast.ts) against the WebAssembly core", () => {
  // Frames laid out by hand at the very end of a memory (the last store may end at its last byte, where
  // a read past a store throws), a pool control block before them; each frame's header from one of a few
  // flows (the same at every frame, every other frame, each frame its own, or the same but at a few
  // frames, which oneFlow's sample may miss) or hostile words, each capacity anywhere from 0 to the frame
  // size or at the edges of its header's size and bound. Bursts of 8 frames or more, contiguous or not,
  // so that the dispatch (JsFrames.contiguous, oneFlow) takes every path.
  const FRAME_SIZE = 96,
    CONTROL = 0,
    HEADS = 64,
    VALUES = 1024,
    STATUS = 2048,
    SCRATCH = 4096,
    DESC = 3072,
    // Decode's entries: keys, lengths, value pairs (room for 64 entries a frame).
    KEYS = 16384,
    LENS = 18432,
    DECODED = 20480;
  const frame = fc.record({
    flow: fc.nat(),
    // Negative: at an edge of the header's size (-1: the exact size, -2: 2 bytes under it, -3: its bound).
    cap: fc.oneof(
      fc.integer({ min: 0, max: FRAME_SIZE }),
      fc.integer({ min: 12, max: 40 }),
      fc.constantFrom(-1, -2, -3),
    ),
    // A 2-byte value's fit at its edges too.
    lo: fc.oneof(fc.integer(), fc.constantFrom(0xffff, 0x10000, -1)),
    hi: fc.oneof(fc.constant(0), fc.integer()),
  });
  const hostile = fc.array(fc.integer(), { minLength: 4, maxLength: 4 });
  // A full store: eight 8-byte and four 4-byte values fill a frame, so that the last frame's last value
  // (4 bytes at times) may end at the memory's last byte.
  const full = fc
    .uniqueArray(fc.integer({ min: 0, max: 63 }), { minLength: 12, maxLength: 12 })
    .map((keys) => wordsOf(keys.map((key, i) => ({ key, code: i < 8 ? 3 : 2 }))));
  const flow = fc.oneof(
    { weight: 4, arbitrary: keySet.map((keys) => wordsOf(keys.slice(0, 8))) },
    { weight: 1, arbitrary: hostile },
    { weight: 1, arbitrary: full },
  );

  type Case = {
    profile: Profile;
    flows: number[][];
    pattern: "each" | "alternate" | "same" | "mostly";
    frames: { flow: number; cap: number; lo: number; hi: number }[];
    key: number;
    len: number;
    first: number;
    extra: number;
    listed: boolean;
    room: number;
  };

  /** Runs get (three strides), decode, set (per-frame values and one for all), delete and get again on `impl`; returns every result and the memory's bytes. */
  function run(c: Case, impl: Impl): unknown[] {
    const memory = new WebAssembly.Memory({ initial: 1 }),
      count = c.frames.length,
      base = memory.buffer.byteLength - count * FRAME_SIZE;
    const core = impl === "js" ? new JsCore(memory) : wasmCoreOf(memory, SCRATCH)!;
    const i32 = new Int32Array(memory.buffer),
      u8 = new Uint8Array(memory.buffer);
    i32[(CONTROL + PoolControl.BASE) >>> 2] = base;
    i32[(CONTROL + PoolControl.FRAME_SIZE) >>> 2] = FRAME_SIZE;
    i32[(CONTROL + PoolControl.COUNT) >>> 2] = count;
    i32[(CONTROL + PoolControl.HEADS) >>> 2] = HEADS;
    i32[(CONTROL + PoolControl.METAS) >>> 2] = HEADS; // placement "frame": the capacity is the head
    i32[(CONTROL + PoolControl.PROFILE) >>> 2] = c.profile === "v1" ? 0 : 1;
    const unit = unitOf(c.profile === "v1" ? 0 : 1);
    c.frames.forEach((f, i) => {
      const flow =
        c.pattern === "same" || (c.pattern === "mostly" && f.flow % 4 !== 0)
          ? 0
          : c.pattern === "alternate"
            ? i & 1
            : f.flow;
      const words = c.flows[flow % c.flows.length]!,
        at = base + i * FRAME_SIZE,
        [h0, h1, l0, l1] = words as [number, number, number, number],
        edge = [storeSize(h0, l0, h1, l1, unit), storeSize(h0, l0, h1, l1, unit) - 2, sizeBound(h0, l0, h1, l1)];
      const cap = f.cap >= 0 ? f.cap : Math.max(0, Math.min(FRAME_SIZE, edge[-1 - f.cap]!));
      u8.fill(0xa5, at, at + FRAME_SIZE);
      words.forEach((w, j) => (i32[(at >>> 2) + j] = w));
      for (let b = 16; b < FRAME_SIZE; b++) u8[at + b] = (b * 29 + i * 7) & 0xff;
      i32[(HEADS >>> 2) + i] = cap;
      // Frame i's value pair for a set with per-frame values (stride 8).
      i32[(VALUES >>> 2) + 2 * i] = f.lo;
      i32[(VALUES >>> 2) + 2 * i + 1] = f.hi;
    });
    const n = Math.max(0, count - c.first + c.extra);
    // A frame list (desc) instead of a range, frames out of order and one past the last: the memo loops of js-loops.ts only.
    const desc = c.listed ? DESC : 0;
    if (c.listed) for (let i = 0; i < n; i++) i32[(DESC >>> 2) + i] = (c.first + 3 * i) % (count + 1);
    const out: unknown[] = [];
    const results = (rc: number, values: boolean) => {
      out.push(rc, [...i32.subarray(STATUS >>> 2, (STATUS >>> 2) + n)]);
      if (values) out.push([...i32.subarray(VALUES >>> 2, (VALUES >>> 2) + 4 * n)]);
      i32.fill(0x5a5a5a5a, STATUS >>> 2, (STATUS >>> 2) + n);
    };
    const frames = () => hex(u8.subarray(base));
    const saved = i32.slice(VALUES >>> 2, (VALUES >>> 2) + 2 * count);
    const restore = () => i32.set(saved, VALUES >>> 2);
    const get = (stride: number) => {
      results(core.batchGet(CONTROL, desc, c.first, n, c.key, VALUES + 8 * count, stride, STATUS), false);
      out.push([...i32.subarray((VALUES >>> 2) + 2 * count, (VALUES >>> 2) + 2 * count + (stride >>> 2) * n + 2)]);
      i32.fill(0, (VALUES >>> 2) + 2 * count, (VALUES >>> 2) + 2 * count + (stride >>> 2) * n + 2);
    };
    get(8);
    get(16);
    get(4);
    // Only the entries returned: past them the WebAssembly core may use the room (assembly/batch.ts, decodeRange).
    const entries = core.batchDecode(CONTROL, desc, c.first, n, KEYS, LENS, DECODED, c.room, STATUS);
    results(entries, false);
    out.push(hex(u8.subarray(KEYS, KEYS + entries)), hex(u8.subarray(LENS, LENS + entries)));
    out.push([...i32.subarray(DECODED >>> 2, (DECODED >>> 2) + 2 * entries)]);
    results(core.batchSet(CONTROL, desc, c.first, n, c.key, c.len, VALUES, 8, STATUS), false);
    out.push(frames());
    restore();
    get(8);
    results(core.batchDel(CONTROL, desc, c.first, n, c.key, STATUS), false);
    out.push(frames());
    results(core.batchSet(CONTROL, desc, c.first, n, c.key, c.len, VALUES + 8, 0, STATUS), false);
    out.push(frames());
    results(core.batchDel(CONTROL, desc, c.first, n, (c.key + 1) & 63, STATUS), false);
    out.push(frames());
    get(8);
    return out;
  }

  it("give the same statuses, values and bytes on bursts whose headers vary, with short capacities, up to the end of the memory", () => {
    fc.assert(
      fc.property(
        fc.record({
          profile: fc.constantFrom<Profile>("v1", "flags"),
          flows: fc.array(flow, { minLength: 1, maxLength: 4 }),
          pattern: fc.constantFrom<Case["pattern"]>("each", "alternate", "same", "mostly"),
          frames: fc.array(frame, { minLength: 8, maxLength: 24 }),
          key: fc.oneof(fc.integer({ min: 0, max: 63 }), fc.constantFrom(0, 31, 32, 63)),
          size: fc.integer({ min: 0, max: 2 }),
          first: fc.integer({ min: 0, max: 3 }),
          extra: fc.integer({ min: -2, max: 1 }),
          listed: fc.boolean(),
          // Decode's room in entries: short (ENOSPC at some frame, or at the first) or ample.
          room: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constant(64 * 32)),
        }),
        (r) => {
          const c: Case = { ...r, len: SIZES[r.profile][r.size]!, listed: r.listed };
          expect(run(c, "js")).toEqual(run(c, "wasm"));
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("read no byte past a store whose last value ends at the memory's last byte", () => {
    // Headers alternate (the per-frame loops), the last frame's store fills it: a read of 8 bytes at its
    // last value (4 bytes) would be past the end of the memory.
    const fullStore = wordsOf(
        [3, 9, 17, 20, 31, 32, 40, 47, 50, 55, 60, 63].map((key, i) => ({ key, code: i < 8 ? 3 : 2 })),
      ),
      small = wordsOf([{ key: 1, code: 1 }]);
    for (const profile of ["v1", "flags"] as const) {
      const c: Case = {
        profile,
        flows: [fullStore, small],
        pattern: "alternate",
        frames: Array.from({ length: 9 }, () => ({ flow: 0, cap: FRAME_SIZE, lo: 5, hi: 0 })),
        key: 63,
        len: 8,
        first: 0,
        extra: 0,
        listed: false,
        room: 64 * 32,
      };
      expect(run(c, "js")).toEqual(run(c, "wasm"));
    }
  });
});
