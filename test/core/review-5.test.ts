// Review of perf-js-4 (issue 21): the JS twin's getRun (the memo path for bursts of one flow) and
// getFast (the exact size worked out outside the inner loop), each called directly, whatever
// JsFrames.oneFlow's sample would choose (it is a guess: every path must give the same results on any
// burst), against the WebAssembly core's batchGet and its single-store get on the same bytes: headers
// that repeat but at a few frames, hostile headers (EBADMSG) inside a run, capacities 0, under 16, at
// the exact size, one and two under it, at the bound, stores ending at the memory's last byte, runs of
// 1 to 24 frames, both profiles.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Profile } from "packet-traits";
import { PoolControl } from "../../src/core/abi.js";
import { JsCore } from "../../src/core/js-core.js";
import { getFast, getRun, setFast, setRun } from "../../src/core/js-fast.js";
import { JsFrames } from "../../src/core/js-frames.js";
import { fits, sizeBound, storeSize, unitOf } from "../../src/core/js-offsets.js";
import { wasmCoreOf } from "../../src/core/wasm.js";

const FRAME_SIZE = 96,
  CONTROL = 0,
  HEADS = 64,
  VALUES = 1024,
  STATUS = 2048,
  SCRATCH = 4096,
  SENTINEL = 0x5a5a5a5a;

/** Header words (h0, h1, l0, l1) for a key list (key, size code 1..3). */
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
  { selector: (k) => k.key, maxLength: 10 },
);
/** A flow's header: a few keys (a store that fits a frame), the empty header, or hostile words (any size). */
const header = fc.oneof(
  { weight: 4, arbitrary: keySet.map(wordsOf) },
  { weight: 1, arbitrary: fc.constant<number[]>([0, 0, 0, 0]) },
  { weight: 1, arbitrary: fc.array(fc.integer(), { minLength: 4, maxLength: 4 }) },
);
/** A capacity: anywhere, under a header, or at an edge of the frame's header (-1 exact size, -2 one under, -3 two under, -4 bound, -5 bound - 1). */
const capacity = fc.oneof(
  fc.integer({ min: 0, max: FRAME_SIZE }),
  fc.constantFrom(0, 15, 16, FRAME_SIZE),
  fc.constantFrom(-1, -2, -3, -4, -5),
);

type Burst = {
  profile: Profile;
  flows: number[][];
  frames: { odd: number; cap: number }[];
  key: number;
  first: number;
};

/** Lays the burst's frames out at the very end of a fresh memory (the last store may end at its last byte), a pool control block before them. */
function layOut(b: Burst): { memory: WebAssembly.Memory; base: number; caps: number[]; profile: number } {
  const memory = new WebAssembly.Memory({ initial: 1 }),
    count = b.frames.length,
    base = memory.buffer.byteLength - count * FRAME_SIZE,
    i32 = new Int32Array(memory.buffer),
    u8 = new Uint8Array(memory.buffer),
    profile = b.profile === "v1" ? 0 : 1,
    unit = unitOf(profile);
  i32[(CONTROL + PoolControl.BASE) >>> 2] = base;
  i32[(CONTROL + PoolControl.FRAME_SIZE) >>> 2] = FRAME_SIZE;
  i32[(CONTROL + PoolControl.COUNT) >>> 2] = count;
  i32[(CONTROL + PoolControl.HEADS) >>> 2] = HEADS;
  i32[(CONTROL + PoolControl.METAS) >>> 2] = HEADS; // placement "frame": the capacity is the head
  i32[(CONTROL + PoolControl.PROFILE) >>> 2] = profile;
  const caps: number[] = [];
  b.frames.forEach((f, i) => {
    // Flow 0 at most frames: a run of one header, broken where `odd` picks another flow.
    const words = b.flows[f.odd % 5 === 0 ? f.odd % b.flows.length : 0]!,
      at = base + i * FRAME_SIZE,
      [h0, h1, l0, l1] = words as [number, number, number, number],
      size = storeSize(h0, l0, h1, l1, unit),
      bound = sizeBound(h0, l0, h1, l1),
      edge = [size, size - 1, size - 2, bound, bound - 1];
    const cap = f.cap >= 0 ? f.cap : Math.max(0, Math.min(FRAME_SIZE, edge[-1 - f.cap]!));
    for (let j = 16; j < FRAME_SIZE; j++) u8[at + j] = (j * 29 + i * 7) & 0xff;
    words.forEach((w, j) => (i32[(at >>> 2) + j] = w));
    i32[(HEADS >>> 2) + i] = cap;
    caps.push(cap);
  });
  return { memory, base, caps, profile };
}

/** Runs `get` on frames [first, count) of the burst (layOut): the statuses and value pairs (strides of 8 and 16 bytes), the untouched sentinels included. */
function run(b: Burst, get: "wasm" | "single" | "dispatch" | "run" | "fast"): unknown[] {
  const { memory, base, caps, profile } = layOut(b),
    i32 = new Int32Array(memory.buffer),
    count = b.frames.length;
  const n = count - b.first,
    out: unknown[] = [];
  for (const stride of [8, 16]) {
    i32.fill(SENTINEL, VALUES >>> 2, (VALUES >>> 2) + (stride >>> 2) * n + 2);
    i32.fill(SENTINEL, STATUS >>> 2, (STATUS >>> 2) + n + 1);
    let rc: number;
    if (get === "single") {
      // The single-store get of every frame, its results put where the batch would put them.
      const core = wasmCoreOf(memory, SCRATCH)!,
        pair = new Uint32Array(2);
      rc = 0;
      for (let i = 0; i < n; i++) {
        const frame = b.first + i,
          status = core.get(base + frame * FRAME_SIZE, caps[frame]!, profile, b.key, 8, pair);
        i32[(STATUS >>> 2) + i] = status;
        if (status >= 0) {
          rc++;
          i32[(VALUES >>> 2) + i * (stride >>> 2)] = pair[0]! | 0;
          i32[(VALUES >>> 2) + i * (stride >>> 2) + 1] = pair[1]! | 0;
        }
      }
    } else if (get === "run" || get === "fast") {
      const f = new JsFrames(memory);
      f.pool(CONTROL, 0, b.first);
      rc = (get === "run" ? getRun : getFast)(f, n, b.key, VALUES >>> 2, stride >>> 2, STATUS >>> 2);
    } else {
      const core = get === "wasm" ? wasmCoreOf(memory, SCRATCH)! : new JsCore(memory);
      rc = core.batchGet(CONTROL, 0, b.first, n, b.key, VALUES, stride, STATUS);
    }
    out.push(
      stride,
      rc,
      [...i32.subarray(STATUS >>> 2, (STATUS >>> 2) + n + 1)],
      [...i32.subarray(VALUES >>> 2, (VALUES >>> 2) + (stride >>> 2) * n + 2)],
    );
  }
  return out;
}

/**
 * Runs `set` of `len` bytes on frames [first, count) of the burst (layOut): each frame its own value
 * (`values`, cycled; stride 8) or, with `one`, values[0] for all (stride 0, a value that fits, as
 * JsCore checks before its loops). Returns the count, the statuses and every frame's bytes.
 */
function runSet(
  b: Burst,
  len: number,
  values: [number, number][],
  one: boolean,
  set: "wasm" | "single" | "dispatch" | "run" | "fast",
): unknown[] {
  const { memory, base, caps, profile } = layOut(b),
    i32 = new Int32Array(memory.buffer),
    n = b.frames.length - b.first;
  for (let i = 0; i < n; i++) {
    const [lo, hi] = values[i % values.length]!;
    i32[(VALUES >>> 2) + 2 * i] = lo;
    i32[(VALUES >>> 2) + 2 * i + 1] = hi;
  }
  i32.fill(SENTINEL, STATUS >>> 2, (STATUS >>> 2) + n + 1);
  const stride = one ? 0 : 8;
  let rc: number;
  if (set === "single") {
    const core = wasmCoreOf(memory, SCRATCH)!;
    rc = 0;
    for (let i = 0; i < n; i++) {
      const frame = b.first + i,
        v = (VALUES >>> 2) + (one ? 0 : 2 * i),
        lo = i32[v]!,
        hi = i32[v + 1]!,
        // The batch checks the value first (EINVAL), the single-store set the capacity first (ENOMEM).
        status = fits(len, lo, hi)
          ? core.set(base + frame * FRAME_SIZE, caps[frame]!, profile, b.key, len, lo >>> 0, hi >>> 0)
          : -22;
      i32[(STATUS >>> 2) + i] = status;
      if (status === 0) rc++;
    }
  } else if (set === "run" || set === "fast") {
    const f = new JsFrames(memory);
    f.pool(CONTROL, 0, b.first);
    rc = (set === "run" ? setRun : setFast)(f, n, b.key, len, VALUES >>> 2, stride >>> 2, STATUS >>> 2);
  } else {
    const core = set === "wasm" ? wasmCoreOf(memory, SCRATCH)! : new JsCore(memory);
    rc = core.batchSet(CONTROL, 0, b.first, n, b.key, len, VALUES, stride, STATUS);
  }
  return [
    rc,
    [...i32.subarray(STATUS >>> 2, (STATUS >>> 2) + n + 1)],
    Buffer.from(memory.buffer, base).toString("hex"),
  ];
}

const burst = fc.record({
  profile: fc.constantFrom<Profile>("v1", "flags"),
  flows: fc.array(header, { minLength: 1, maxLength: 4 }),
  frames: fc.array(fc.record({ odd: fc.nat({ max: 39 }), cap: capacity }), { minLength: 1, maxLength: 24 }),
  key: fc.oneof(fc.integer({ min: 0, max: 63 }), fc.constantFrom(0, 31, 32, 63)),
  first: fc.integer({ min: 0, max: 2 }),
});

describe("review-5: the JS twin's getRun and getFast against the WebAssembly core and single-store get", () => {
  // Holds on the branch. Catches: a memo whose exact size (`used`) is kept across a header change or
  // not worked out when a later frame of the same header has a smaller capacity; a `checked` frame that
  // lets a later frame skip its exact size; an inner-loop break that does not advance (a hang); a read
  // past a store at the memory's end (a RangeError).
  it("give the same statuses and values on any burst, whichever path the dispatch would take", () => {
    fc.assert(
      fc.property(
        burst.filter((b) => b.first < b.frames.length),
        (b) => {
          const wasm = run(b, "wasm");
          expect(run(b, "single")).toEqual(wasm);
          expect(run(b, "run")).toEqual(wasm);
          expect(run(b, "fast")).toEqual(wasm);
          expect(run(b, "dispatch")).toEqual(wasm);
        },
      ),
      { numRuns: 2000 },
    );
  });

  // Holds on the branch (setRun, perf-js-4's 064a89e). Catches: an overwrite or an insert under the
  // bound without its exact size (EBADMSG missed), an insert that keeps the memo of the header it
  // changed, EINVAL for a value that does not fit checked after the header, a value written past a
  // store at the memory's end.
  it("setRun and setFast give the same statuses and bytes as the WebAssembly core and single-store set on any burst", () => {
    const pair = fc.tuple(
      fc.oneof(fc.integer(), fc.constantFrom(0, 1, 0xffff, 0x10000, -1)),
      fc.oneof(fc.constant(0), fc.integer()),
    );
    fc.assert(
      fc.property(
        burst.filter((b) => b.first < b.frames.length),
        fc.integer({ min: 0, max: 2 }),
        fc.array(pair, { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        (b, size, values, one) => {
          const len = { v1: [2, 4, 8], flags: [0, 4, 8] }[b.profile][size]!;
          // One value for all frames: JsCore refuses a value that does not fit before any loop.
          if (one && !fits(len, values[0]![0], values[0]![1])) return;
          const wasm = runSet(b, len, values, one, "wasm");
          expect(runSet(b, len, values, one, "single")).toEqual(wasm);
          expect(runSet(b, len, values, one, "run")).toEqual(wasm);
          expect(runSet(b, len, values, one, "fast")).toEqual(wasm);
          expect(runSet(b, len, values, one, "dispatch")).toEqual(wasm);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("a hostile header in the middle of a run, then the run's header again, with capacities at its edges", () => {
    const good = wordsOf([
        { key: 3, code: 3 },
        { key: 40, code: 2 },
        { key: 63, code: 1 },
      ]),
      hostile = [-1, -1, -1, -1];
    for (const profile of ["v1", "flags"] as const) {
      const unit = unitOf(profile === "v1" ? 0 : 1),
        size = storeSize(good[0]!, good[2]!, good[1]!, good[3]!, unit);
      // Capacities: ample, exact, one under (EBADMSG), exact again (the memo's exact size reused), 0, 15.
      const caps = [FRAME_SIZE, size, size - 1, size, 0, 15, FRAME_SIZE, size, size - 1, FRAME_SIZE];
      for (const key of [3, 40, 63, 5]) {
        const b: Burst = {
          profile,
          flows: [good, hostile],
          frames: caps.map((cap, i) => ({ odd: i === 4 || i === 6 ? 5 : 1, cap })),
          key,
          first: 0,
        };
        const wasm = run(b, "wasm");
        expect(run(b, "run"), `${profile} key ${key}`).toEqual(wasm);
        expect(run(b, "fast"), `${profile} key ${key}`).toEqual(wasm);
        expect(run(b, "single"), `${profile} key ${key}`).toEqual(wasm);
      }
    }
  });
});
