// Batch calls on the benchmark's kinds of traffic (bench/traffic.js): bursts whose headers change at
// every frame, every other frame, never, or come from a few interleaved flows, with store capacities
// that vary frame to frame (under 16 bytes, under the header's bytes or its cheap bound of 8 bytes a
// key, exact, more) and corrupt headers, in both profiles and both placements, through range and
// descriptor selections. Every batch call agrees with the same single-store calls made frame by frame
// (results, statuses, values, decoded entries, every byte of every frame), on both cores.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Errno, PacketPool, type Impl, type Profile } from "packet-traits";
import { IMPLS, hex } from "../helpers.js";

const SIZES: Record<Profile, number[]> = { v1: [2, 4, 8], flags: [0, 4, 8] };
const OPS = [
  "get",
  "set",
  "setEach",
  "del",
  "has",
  "init",
  "decode",
  "setMany",
  "setManyEach",
  "setManyReplace",
] as const;
type Op = (typeof OPS)[number];

const header = fc.uniqueArray(
  fc.record({ key: fc.integer({ min: 0, max: 63 }), size: fc.integer({ min: 0, max: 2 }) }),
  {
    selector: (e) => e.key,
    maxLength: 24,
  },
);
const traffic = fc.record({
  profile: fc.constantFrom<Profile>("v1", "flags"),
  placement: fc.constantFrom("frame" as const, "metadata" as const),
  /** How headers follow each other: each frame its own, A B A B, one for all, or picks among three flows. */
  pattern: fc.constantFrom("every", "alternate", "never", "flows"),
  flows: fc.array(header, { minLength: 3, maxLength: 3 }),
  frames: fc.array(
    fc.record({
      header,
      pick: fc.nat(),
      cap: fc.oneof(fc.constantFrom(0, 8, 15, 16, 20, 24, 32, 40), fc.integer({ min: 16, max: 256 })),
      corrupt: fc.integer({ min: 0, max: 9 }),
    }),
    { minLength: 1, maxLength: 40 },
  ),
  descriptors: fc.boolean(),
  op: fc.constantFrom(...OPS),
  /** The key: one of frame 0's keys when it has some and this is even, else this mod 64. */
  key: fc.nat(),
  size: fc.integer({ min: 0, max: 2 }),
  fields: fc.uniqueArray(fc.record({ key: fc.integer({ min: 0, max: 63 }), size: fc.integer({ min: 0, max: 2 }) }), {
    selector: (f) => f.key,
    minLength: 1,
    maxLength: 4,
  }),
  seed: fc.integer(),
  misfit: fc.nat(),
  room: fc.integer({ min: 1, max: 400 }),
});
type Traffic = typeof traffic extends fc.Arbitrary<infer T> ? T : never;

/** A pool's internal setter of a frame's head and store capacity (placement "frame": the store may then declare more than it holds). */
type Heads = { setHead(frame: number, head: number, length: number, meta: number): void };

/** The header of frame f under the traffic's pattern. */
function headerOf(t: Traffic, f: number): Traffic["flows"][number] {
  const frame = t.frames[f]!;
  if (t.pattern === "every") return frame.header;
  if (t.pattern === "alternate") return t.flows[f % 2]!;
  if (t.pattern === "never") return t.flows[0]!;
  return t.flows[frame.pick % 3]!;
}

/** The key the op works on. */
const keyOf = (t: Traffic) => {
  const keys = headerOf(t, 0);
  return t.key % 2 === 0 && keys.length > 0 ? keys[(t.key >> 1) % keys.length]!.key : t.key % 64;
};

/** A value of `len` bytes as u32 halves from a seed (every byte mixed), or (misfit) one that fits no length under 8. */
const pairOf = (len: number, seed: number, misfit = false): [number, number] => {
  if (misfit && len < 8) return [0x12345, 1];
  const lo = Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) >>> 0;
  return [len === 2 ? lo & 0xffff : len === 0 ? 0 : lo, len === 8 ? Math.imul(seed, 0x85ebca6b) >>> 0 : 0];
};

/** The pool of a traffic: each frame's store filled with its header (values of its own), then given its capacity; some headers corrupt. */
function build(t: Traffic, impl: Impl): PacketPool {
  const count = t.frames.length;
  const pool = new PacketPool({
    count,
    frameSize: 512,
    headroom: 256,
    profile: t.profile,
    impl,
    hardwareKeys: "off",
    ...(t.placement === "metadata" ? { placement: "metadata" as const, metaLength: 256 } : {}),
  });
  t.frames.forEach((frame, f) => {
    if (t.placement === "metadata") {
      pool.frameBytes(f).fill(0xa5);
      pool.adjustMeta(f, 256 - (frame.cap & ~3)); // the store: the `cap` bytes before the data
      if (pool.metaLengthOf(f) >= 16) pool.traits(f).clear();
    }
    for (const { key, size } of headerOf(t, f)) {
      const len = SIZES[t.profile][size]!;
      pool.traits(f).trySet(key, ...pairOf(len, 131 * f + key), len);
    }
    if (t.placement === "frame") (pool as unknown as Heads).setHead(f, frame.cap, 0, frame.cap);
    const store = pool.storeStart(f);
    if (frame.corrupt === 0 && pool.metaLengthOf(f) >= 16) new Uint8Array(pool.memory.buffer, store, 16).fill(0xee);
  });
  return pool;
}

/** Selects the burst's frames: all of them as a range, or as descriptors with an index past the pool's end added. */
function select(t: Traffic, pool: PacketPool) {
  const burst = pool.burst(t.frames.length + 1, { slots: 4 });
  if (!t.descriptors) burst.selectRange(0, t.frames.length);
  else burst.selectFrames([...t.frames.keys()].reverse().concat([t.frames.length]));
  const frames = t.descriptors ? [...t.frames.keys()].reverse().concat([t.frames.length]) : [...t.frames.keys()];
  return { burst, frames };
}

const lengthOf = (t: Traffic) => SIZES[t.profile][t.size]!;
const fieldsOf = (t: Traffic) => t.fields.map((f) => ({ key: f.key, len: SIZES[t.profile][f.size]! }));
const broadcast = (len: number, seed: number) => BigInt.asUintN(8 * len, BigInt(seed));

/** The op as one batch call: [returned count, statuses, get's values (null where the status is an error), decoded entries]. */
function batch(t: Traffic, pool: PacketPool): unknown[] {
  const { burst, frames } = select(t, pool),
    n = frames.length,
    key = keyOf(t),
    len = lengthOf(t),
    fields = fieldsOf(t);
  const slots = (lens: number[]) => {
    const v = burst.values();
    for (let i = 0; i < n; i++)
      lens.forEach((l, j) => v.set(pairOf(l, t.seed + 31 * i + j, t.misfit % (n + 1) === i), 2 * (4 * i + j)));
  };
  const replace = { replace: true };
  let decoded: unknown[] = [];
  // A range selects all but the burst's last entry: its status and value slots must stay as they are
  // (a fast loop that handles two frames an iteration must stop at the selection's end).
  const raw = burst as unknown as { stat: number; vals: number; stride: number };
  const spare = t.descriptors
    ? undefined
    : [
        new Uint8Array(pool.memory.buffer, raw.stat + 4 * n, 4),
        new Uint8Array(pool.memory.buffer, raw.vals + raw.stride * n, raw.stride),
      ];
  for (const bytes of spare ?? []) bytes.fill(0x5a);
  const ret = ((op: Op) => {
    switch (op) {
      case "get":
        return pool.batchGet(burst, key);
      case "set":
        return pool.batchSet(burst, key, len, broadcast(len, t.seed));
      case "setEach":
        return (slots([len]), pool.batchSet(burst, key, len));
      case "del":
        return pool.batchDelete(burst, key);
      case "has":
        return pool.batchHas(burst, key);
      case "init":
        return pool.batchInit(burst);
      case "decode": {
        const out = pool.decodeBuffer(t.room),
          entries = pool.batchDecode(burst, out);
        decoded = [[...out.keys()], [...out.lens()], [...out.values()]];
        return entries;
      }
      case "setMany":
        return pool.batchSetMany(burst, fields, { values: fields.map((f, j) => broadcast(f.len, t.seed + j)) });
      case "setManyEach":
        return (slots(fields.map((f) => f.len)), pool.batchSetMany(burst, fields));
      case "setManyReplace":
        return (slots(fields.map((f) => f.len)), pool.batchSetMany(burst, fields, replace));
    }
  })(t.op);
  for (const bytes of spare ?? [])
    expect(hex(bytes), `${t.op}: the entry past the selection`).toBe("5a".repeat(bytes.length));
  const status = [...burst.status()],
    v = burst.values();
  const values = t.op === "get" ? status.map((rc, i) => (rc >= 0 ? [v[8 * i], v[8 * i + 1]] : null)) : [];
  return [ret, status, values, decoded];
}

/** The same op as single-store calls, frame by frame. */
function single(t: Traffic, pool: PacketPool): unknown[] {
  const { frames } = select(t, pool),
    n = frames.length,
    key = keyOf(t),
    len = lengthOf(t),
    fields = fieldsOf(t),
    out = new Uint32Array(2);
  const status: number[] = [],
    values: Array<number[] | null> = [],
    decoded: number[][] = [[], [], []];
  let ret = 0;
  const pair = (l: number, seed: number): [number, number] => {
    const v = broadcast(l, seed);
    return [Number(v & 0xffffffffn), Number(v >> 32n)];
  };
  frames.forEach((frame, i) => {
    if (frame >= pool.count) {
      status.push(Errno.EINVAL);
      if (t.op === "get") values.push(null);
      return;
    }
    const store = pool.traits(frame);
    const many = (list: Array<[number, number, number, number]>, clear: boolean) => {
      const before = pool.frameBytes(frame).slice();
      let rc = clear && store.capacity < 16 ? Errno.ENOMEM : 0;
      if (rc === 0 && clear) store.clear();
      for (const [k, l, lo, hi] of list) if (rc === 0) rc = store.trySet(k, lo, hi, l);
      if (rc < 0) pool.frameBytes(frame).set(before); // all or nothing per frame
      return rc;
    };
    let rc: number;
    switch (t.op) {
      case "get":
        rc = store.tryGet(key, out);
        values.push(rc >= 0 ? [...out] : null);
        break;
      case "set":
        rc = store.trySet(key, ...pair(len, t.seed), len);
        break;
      case "setEach":
        rc = store.trySet(key, ...pairOf(len, t.seed + 31 * i, t.misfit % (n + 1) === i), len);
        break;
      case "del":
        rc = store.tryDelete(key);
        break;
      case "has":
        rc = store.tryHas(key);
        break;
      case "init":
        rc = store.capacity < 16 ? Errno.ENOMEM : (store.clear(), 0);
        break;
      case "decode":
        rc = store.trySize();
        if (rc >= 0) {
          const keys = store.keys();
          rc = decoded[0]!.length + keys.length > t.room ? Errno.ENOSPC : keys.length;
          if (rc >= 0)
            for (const k of keys) {
              decoded[1]!.push(store.tryGet(k, out));
              decoded[0]!.push(k);
              decoded[2]!.push(out[0]!, out[1]!);
            }
        }
        break;
      case "setMany":
        rc = many(
          fields.map((f, j) => [f.key, f.len, ...pair(f.len, t.seed + j)]),
          false,
        );
        break;
      case "setManyEach":
      case "setManyReplace":
        rc = many(
          fields.map((f, j) => [f.key, f.len, ...pairOf(f.len, t.seed + 31 * i + j, t.misfit % (n + 1) === i)]),
          t.op === "setManyReplace",
        );
        break;
    }
    status.push(rc);
    ret += +(t.op === "get" ? rc >= 0 : t.op === "has" ? rc === 1 : t.op === "decode" ? 0 : rc === 0);
  });
  if (t.op === "decode") ret = decoded[0]!.length;
  return [ret, status, values, t.op === "decode" ? decoded : []];
}

const framesHex = (pool: PacketPool) => Array.from({ length: pool.count }, (_, f) => hex(pool.frameBytes(f)));

describe("batch calls on traffic whose headers change at every frame, every other frame, never, or by flow", () => {
  it("agree with single-store calls frame by frame, on both cores, whatever each frame's capacity", () => {
    fc.assert(
      fc.property(traffic, (t) => {
        const reference = build(t, "js"),
          expected = single(t, reference);
        for (const impl of IMPLS) {
          const pool = build(t, impl);
          expect(batch(t, pool), `${impl} ${t.op}`).toEqual(expected);
          expect(framesHex(pool), `${impl} ${t.op}: the frames' bytes`).toEqual(framesHex(reference));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("take the burst's smallest capacity from any frame (SIMD lanes or the tail) and count failures exactly", () => {
    // One frame's store is exactly full (two 8-byte values in 32 bytes), the others have room: an insert
    // of one more 2-byte value fails there only, wherever that frame sits in the burst; a get of an
    // absent key fails on every frame, of a present one on none.
    const full = [
      { key: 3, size: 2 },
      { key: 9, size: 2 },
    ];
    for (const n of [3, 4, 13])
      for (let at = 0; at < n; at++)
        for (const [op, key] of [
          ["set", 21],
          ["get", 21],
          ["get", 0],
          ["del", 21],
          ["decode", 0],
        ] as const) {
          const t: Traffic = {
            profile: "v1",
            placement: "frame",
            pattern: "never",
            flows: [full, full, full],
            frames: Array.from({ length: n }, (_, f) => ({
              header: full,
              pick: 0,
              cap: f === at ? 32 : 40 + 8 * (f % 3),
              corrupt: 9,
            })),
            descriptors: false,
            op,
            key,
            size: 0,
            fields: [{ key: 21, size: 0 }],
            seed: 5,
            misfit: n + 1,
            room: 400,
          };
          const reference = build(t, "js"),
            expected = single(t, reference);
          if (op === "set")
            expect(expected[1]).toEqual(Array.from({ length: n }, (_, f) => (f === at ? Errno.ENOSPC : 0)));
          for (const impl of IMPLS) {
            const pool = build(t, impl);
            expect(batch(t, pool), `${impl} ${op} ${key}, ${n} frames, the full one at ${at}`).toEqual(expected);
            expect(framesHex(pool), `${impl} ${op}: the frames' bytes`).toEqual(framesHex(reference));
          }
        }
  });

  it("decode a store of all 64 keys into a buffer with room for exactly 64 entries, or more, writing nothing past it", () => {
    for (const impl of IMPLS)
      for (const room of [63, 64, 65, 200]) {
        const pool = new PacketPool({ count: 2, frameSize: 2048, headroom: 1024, impl, hardwareKeys: "off" });
        for (let k = 0; k < 64; k++) pool.traits(0).trySet(k, 0x100 + 7 * k, 0, 2);
        const burst = pool.burst(1).selectRange(0, 1),
          out = pool.decodeBuffer(room),
          fits = room >= 64;
        expect(pool.batchDecode(burst, out), `${impl}, room ${room}`).toBe(fits ? 64 : 0);
        expect([...burst.status()], `${impl}, room ${room}`).toEqual([fits ? 64 : Errno.ENOSPC]);
        expect([...out.keys()]).toEqual(fits ? Array.from({ length: 64 }, (_, k) => k) : []);
        expect([...out.lens()]).toEqual(fits ? Array(64).fill(2) : []);
        expect([...out.values()]).toEqual(fits ? Array.from({ length: 64 }, (_, k) => [0x100 + 7 * k, 0]).flat() : []);
      }
  });

  it("give the same results on the benchmark's rings (4096 frames, the three traffic models) on both cores", async () => {
    // The benchmark's own traffic plans: every workload's batch call on both cores, then every byte.
    const { trafficPlan, TRAFFIC } = await import("../../bench/traffic.js");
    for (const model of TRAFFIC as string[]) {
      const plan = trafficPlan(model, 4096) as Array<Array<[number, number]>>;
      const results = IMPLS.map((impl) => {
        const pool = new PacketPool({ count: 4096, impl, hardwareKeys: "off" });
        plan.forEach((keys, f) => {
          for (const [k, l] of keys) pool.traits(f).trySet(k, ...pairOf(l, 7 * f + k), l);
        });
        const b = pool.burst(256, { slots: 4 }),
          out = pool.decodeBuffer(64 * 256),
          seen: unknown[] = [];
        for (let first = 0; first < 4096; first += 256) {
          b.selectRange(first, 256);
          seen.push(pool.batchGet(b, 10), [...b.values()], pool.batchGet(b, 17), [...b.values()]);
          seen.push(pool.batchSet(b, 17, 8, 0x1122334455667788n), pool.batchSet(b, 30, 4, 0xcafe));
          seen.push(pool.batchDecode(b, out), [...out.values()], pool.batchDelete(b, 30), [...b.status()]);
        }
        return [seen, framesHex(pool).join()];
      });
      expect(results[0], model).toEqual(results[1]);
    }
  });
});
