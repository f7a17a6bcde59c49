// Packet pools and batch operations: every batch call agrees with a loop of single-store operations,
// on both implementations, over random pools with corrupt and full frames, in both store placements
// (at the frame start; in a metadata area before the data, where nothing outside it may change);
// frame and head semantics.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Errno, PacketPool, type TraitsError, type Burst, type Impl, type Profile } from "packet-traits";
import { IMPLS, hex } from "../helpers.js";

const SIZES: Record<Profile, number[]> = { v1: [2, 4, 8], flags: [0, 4, 8] };

/** A value of `len` bytes as u32 halves, or a misfit (for per-frame values that must be refused). */
const pairFor = (len: number, seed: number, misfit: boolean): [number, number] =>
  misfit
    ? [0x12345, 1]
    : len === 8
      ? [seed >>> 0, (seed * 7) >>> 0]
      : len === 4
        ? [seed >>> 0, 0]
        : len === 2
          ? [seed & 0xffff, 0]
          : [0, 0];

const scenario = fc.record({
  profile: fc.constantFrom<Profile>("v1", "flags"),
  count: fc.integer({ min: 1, max: 10 }),
  frameSize: fc.constantFrom(64, 128, 2048),
  headroom: fc.integer({ min: 16, max: 64 }),
  fill: fc.array(
    fc.record({
      frame: fc.nat(),
      key: fc.integer({ min: 0, max: 63 }),
      size: fc.integer({ min: 0, max: 2 }),
      seed: fc.integer(),
    }),
    { maxLength: 60 },
  ),
  corrupt: fc.array(fc.nat(), { maxLength: 3 }),
  selection: fc.oneof(
    fc.record({ kind: fc.constant("range" as const), first: fc.nat(), n: fc.nat() }),
    fc.record({
      kind: fc.constant("frames" as const),
      frames: fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 12 }),
    }),
  ),
  op: fc.constantFrom(
    "get",
    "set",
    "setEach",
    "setMany",
    "setManyEach",
    "setManyReplace",
    "del",
    "has",
    "init",
    "getWide",
    "setWide",
    "decode",
  ),
  key: fc.integer({ min: 0, max: 62 }),
  size: fc.integer({ min: 0, max: 2 }),
  fields: fc.array(fc.record({ key: fc.integer({ min: 0, max: 63 }), size: fc.integer({ min: 0, max: 2 }) }), {
    minLength: 1,
    maxLength: 4,
  }),
  seed: fc.integer(),
  misfit: fc.nat(),
  room: fc.integer({ min: 1, max: 200 }),
  placement: fc.constantFrom("frame" as const, "metadata" as const),
  metas: fc.array(fc.integer({ min: 0, max: 16 }), { maxLength: 10 }),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/** A pool filled by single sets, with some headers made corrupt; in placement "metadata", metadata areas of 0 to 64 bytes and guard bytes around them. */
function build(s: Scenario, impl: Impl): PacketPool {
  const headroom = Math.min(s.headroom, s.frameSize - 32) & ~3;
  if (s.placement === "frame") {
    const pool = new PacketPool({ count: s.count, frameSize: s.frameSize, headroom, profile: s.profile, impl });
    for (const f of s.fill) {
      const len = SIZES[s.profile][f.size]!;
      pool.traits(f.frame % s.count).trySet(f.key, ...pairFor(len, f.seed, false), len);
    }
    for (const c of s.corrupt) pool.frameBytes(c % s.count).fill(0xee, 0, 16);
    return pool;
  }
  const pool = new PacketPool({
    count: s.count,
    frameSize: s.frameSize,
    headroom,
    profile: s.profile,
    impl,
    placement: "metadata",
    metaLength: Math.min(32, headroom),
  });
  s.metas.forEach((m, f) => {
    if (f < s.count) pool.adjustMeta(f, pool.metaLengthOf(f) - Math.min(4 * m, headroom));
  });
  for (let f = 0; f < s.count; f++) {
    pool.frameBytes(f).fill(0xa5);
    if (pool.metaLengthOf(f) >= 16) pool.traits(f).clear();
  }
  for (const f of s.fill) {
    const len = SIZES[s.profile][f.size]!;
    pool.traits(f.frame % s.count).trySet(f.key, ...pairFor(len, f.seed, false), len);
  }
  for (const c of s.corrupt)
    new Uint8Array(pool.memory.buffer, pool.storeStart(c % s.count), Math.min(16, pool.metaLengthOf(c % s.count))).fill(
      0xee,
    );
  return pool;
}

/** Each frame's bytes outside its store [head - metaLength, head). */
const outside = (pool: PacketPool) =>
  Array.from({ length: pool.count }, (_, f) => {
    const bytes = pool.frameBytes(f),
      start = pool.head(f) - pool.metaLengthOf(f);
    return `${hex(bytes.subarray(0, start))}|${hex(bytes.subarray(pool.head(f)))}`;
  });

/** Selects the scenario's frames in a burst; returns the frame indices (out-of-range ones included). */
function select(s: Scenario, burst: Burst): number[] {
  if (s.selection.kind === "range") {
    const n = s.selection.n % (s.count + 1),
      first = s.selection.first % (s.count - n + 1);
    burst.selectRange(first, n);
    return Array.from({ length: n }, (_, i) => first + i);
  }
  burst.selectFrames(s.selection.frames);
  return s.selection.frames;
}

/** Fills the per-frame value slots (slot j of frame i) with a scenario's values; the frame selected `misfit` gets values that fit no length < 8. */
function fillSlots(s: Scenario, burst: Burst, lens: number[], n: number): void {
  const v = burst.values();
  for (let i = 0; i < n; i++)
    lens.forEach((len, j) => {
      const [lo, hi] = pairFor(len, s.seed + 31 * i + j, s.misfit % (n + 1) === i && len < 8);
      v[2 * (i * burst.slots + j)] = lo;
      v[2 * (i * burst.slots + j) + 1] = hi;
    });
}

/** Runs the scenario's batch op; returns [returned count, statuses, values, decoded entries]. */
function runBatch(s: Scenario, pool: PacketPool): unknown[] {
  const burst = pool.burst(16, { slots: 4 }),
    frames = select(s, burst),
    n = frames.length;
  const len = SIZES[s.profile][s.size]!,
    fieldLens = s.fields.map((f) => SIZES[s.profile][f.size]!);
  const fields = s.fields.map((f, j) => ({ key: f.key, len: fieldLens[j]! }));
  const broadcast = fieldLens.map((l, j) => BigInt.asUintN(8 * l, BigInt(s.seed + j)));
  let out: unknown[] = [];
  let ret: number;
  switch (s.op) {
    case "get":
      ret = pool.batchGet(burst, s.key);
      break;
    case "set":
      ret = pool.batchSet(burst, s.key, len, BigInt.asUintN(8 * len, BigInt(s.seed)));
      break;
    case "setEach":
      fillSlots(s, burst, [len], n);
      ret = pool.batchSet(burst, s.key, len);
      break;
    case "setMany":
      ret = pool.batchSetMany(burst, fields, broadcast);
      break;
    case "setManyEach":
      fillSlots(s, burst, fieldLens, n);
      ret = pool.batchSetMany(burst, fields);
      break;
    case "setManyReplace":
      fillSlots(s, burst, fieldLens, n);
      ret = pool.batchSetMany(burst, fields, undefined, { replace: true });
      break;
    case "del":
      ret = pool.batchDelete(burst, s.key);
      break;
    case "has":
      ret = pool.batchHas(burst, s.key);
      break;
    case "init":
      ret = pool.batchInit(burst);
      break;
    case "getWide":
      ret = pool.batchGetWide(burst, s.key);
      break;
    case "setWide":
      ret = pool.batchSetWide(
        burst,
        s.key,
        new Uint8Array(16).map((_, i) => s.seed + i),
      );
      break;
    case "decode": {
      const d = pool.decodeBuffer(s.room);
      ret = pool.batchDecode(burst, d);
      out = [[...d.keys()], [...d.lens()], [...d.values()]];
      break;
    }
  }
  const status = [...burst.status()];
  const values =
    s.op === "get" || s.op === "getWide"
      ? frames.map((_, i) =>
          status[i]! >= 0 ? [...burst.values().subarray(8 * i, 8 * i + (s.op === "get" ? 2 : 4))] : null,
        )
      : [];
  return [ret, status, values, out];
}

/** The same op as a loop of single-store calls on the reference pool. */
function runLoop(s: Scenario, pool: PacketPool): unknown[] {
  const burst = pool.burst(16, { slots: 4 }),
    frames = select(s, burst),
    n = frames.length;
  const len = SIZES[s.profile][s.size]!,
    fieldLens = s.fields.map((f) => SIZES[s.profile][f.size]!);
  const status: number[] = [],
    values: Array<number[] | null> = [],
    keys: number[] = [],
    lens: number[] = [],
    vals: number[] = [];
  const out = new Uint32Array(2);
  let ret = 0;
  frames.forEach((frame, i) => {
    if (frame >= s.count) {
      status.push(Errno.EINVAL);
      values.push(null);
      return;
    }
    const store = pool.traits(frame);
    let rc: number;
    switch (s.op) {
      case "get":
        rc = store.tryGet(s.key, out);
        values.push(rc >= 0 ? [...out] : null);
        ret += +(rc >= 0);
        break;
      case "set":
        rc = store.trySet(
          s.key,
          ...(pairFor(len, 0, false).map((_, h) =>
            Number((BigInt.asUintN(8 * len, BigInt(s.seed)) >> BigInt(32 * h)) & 0xffffffffn),
          ) as [number, number]),
          len,
        );
        ret += +(rc === 0);
        break;
      case "setEach":
        rc = store.trySet(s.key, ...pairFor(len, s.seed + 31 * i, s.misfit % (n + 1) === i && len < 8), len);
        ret += +(rc === 0);
        break;
      case "setMany":
      case "setManyEach":
      case "setManyReplace":
      case "setWide": {
        const seq: Array<[number, number, number, number]> =
          s.op === "setWide"
            ? [0, 1].map((h) => {
                const b = new DataView(new Uint8Array(16).map((_, x) => s.seed + x).buffer);
                return [s.key + h, 8, b.getUint32(8 * h, true), b.getUint32(8 * h + 4, true)];
              })
            : s.fields.map((f, j) => {
                const l = fieldLens[j]!;
                if (s.op === "setMany") {
                  const v = BigInt.asUintN(8 * l, BigInt(s.seed + j));
                  return [f.key, l, Number(v & 0xffffffffn), Number(v >> 32n)];
                }
                return [f.key, l, ...pairFor(l, s.seed + 31 * i + j, s.misfit % (n + 1) === i && l < 8)];
              });
        const before = pool.frameBytes(frame).slice();
        rc = 0;
        if (s.op === "setManyReplace") {
          if (store.capacity < 16) rc = Errno.ENOMEM;
          else store.clear();
        } // replace empties first: ENOMEM under 16 bytes
        if (rc === 0)
          for (const [k, l, lo, hi] of seq) {
            rc = store.trySet(k, lo, hi, l);
            if (rc < 0) break;
          }
        if (rc < 0) pool.frameBytes(frame).set(before);
        ret += +(rc === 0);
        break;
      }
      case "del":
        rc = store.tryDelete(s.key);
        ret += +(rc === 0);
        break;
      case "has":
        rc = store.tryHas(s.key);
        ret += +(rc === 1);
        break;
      case "init":
        rc = store.capacity < 16 ? Errno.ENOMEM : (store.clear(), 0);
        ret += +(rc === 0);
        break;
      case "getWide": {
        const a = store.tryGet(s.key, out),
          lo = [...out],
          b = store.tryGet(s.key + 1, out);
        rc =
          a === 8 && b === 8
            ? 16
            : a === Errno.ENOENT && b === Errno.ENOENT
              ? Errno.ENOENT
              : a < 0 && a !== Errno.ENOENT
                ? a
                : Errno.EBADMSG;
        values.push(rc >= 0 ? [...lo, ...out] : null);
        ret += +(rc === 16);
        break;
      }
      case "decode": {
        rc = store.trySize();
        if (rc >= 0) {
          const entries = store.keys();
          if (keys.length + entries.length > s.room) rc = Errno.ENOSPC;
          else {
            rc = entries.length;
            for (const k of entries) {
              const l = store.tryGet(k, out);
              keys.push(k);
              lens.push(l);
              vals.push(out[0]!, out[1]!);
            }
          }
        }
        ret = keys.length;
        break;
      }
    }
    status.push(rc);
  });
  return [ret, status, s.op === "get" || s.op === "getWide" ? values : [], s.op === "decode" ? [keys, lens, vals] : []];
}

const framesHex = (pool: PacketPool) => Array.from({ length: pool.count }, (_, f) => hex(pool.frameBytes(f)));

describe("batch operations agree with loops of single operations", () => {
  it("on random pools with corrupt and full frames, range and descriptor selections, both impls", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const reference = build(s, "js");
        const expected = runLoop(s, reference);
        for (const impl of IMPLS) {
          const pool = build(s, impl),
            guard = outside(pool);
          expect(runBatch(s, pool), `${impl} ${s.op}`).toEqual(expected);
          expect(framesHex(pool), `${impl} ${s.op} frames`).toEqual(framesHex(reference));
          if (s.placement === "metadata")
            expect(outside(pool), `${impl} ${s.op}: bytes outside the metadata areas`).toEqual(guard);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe("batch operations on runs of frames with the same header (the WASM core's fast path)", () => {
  /** A pool's internal setter of a frame's head and store capacity, to give a store less room than its header needs. */
  type Heads = { setHead(frame: number, head: number, length: number, meta: number): void };
  const runs = fc.record({
    base: scenario,
    template: fc.array(fc.record({ key: fc.integer({ min: 0, max: 63 }), size: fc.integer({ min: 0, max: 2 }) }), {
      maxLength: 6,
    }),
    heads: fc.array(fc.integer({ min: 0, max: 80 }), { minLength: 1, maxLength: 12 }),
    corrupt: fc.array(fc.nat(), { maxLength: 2 }),
  });

  it("agree with loops of single operations whatever each frame's capacity (under 16, under the header's bytes, exact, more)", () => {
    fc.assert(
      fc.property(runs, ({ base, template, heads, corrupt }) => {
        const s: Scenario = {
          ...base,
          count: heads.length,
          frameSize: 128,
          headroom: 80,
          placement: "frame",
          fill: [],
          corrupt,
          selection: { kind: "range", first: 0, n: heads.length },
        };
        // Every frame gets the same keys (values of its own), then a head of its own: the store's capacity.
        const make = (impl: Impl) => {
          const pool = new PacketPool({ count: s.count, frameSize: 128, headroom: 80, profile: s.profile, impl });
          heads.forEach((head, f) => {
            for (const t of template) {
              const len = SIZES[s.profile][t.size]!;
              pool.traits(f).trySet(t.key, ...pairFor(len, 131 * f + t.key, false), len);
            }
            (pool as unknown as Heads).setHead(f, head, 0, head);
          });
          for (const c of corrupt) pool.frameBytes(c % s.count).fill(0xee, 0, 16);
          return pool;
        };
        const reference = make("js"),
          expected = runLoop(s, reference);
        for (const impl of IMPLS) {
          const pool = make(impl);
          expect(runBatch(s, pool), `${impl} ${s.op}`).toEqual(expected);
          expect(framesHex(pool), `${impl} ${s.op} frames`).toEqual(framesHex(reference));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe.each(IMPLS)("%s packet pool", (impl) => {
  const pool = () => new PacketPool({ count: 4, impl });

  it("lays frames out like XDP buffers: store at the frame start, data at the headroom", () => {
    const p = pool();
    expect([p.impl, p.count, p.frameSize, p.headroom, p.base % 64]).toEqual([impl, 4, 2048, 256, 0]);
    p.write(1, new Uint8Array([1, 2, 3]));
    expect([p.head(1), p.length(1), [...p.data(1)]]).toEqual([256, 3, [1, 2, 3]]);
    expect(p.frameStart(1) - p.frameStart(0)).toBe(2048);
    expect([...p.frameBytes(1).subarray(256, 259)]).toEqual([1, 2, 3]);
    expect(p.traits(1).capacity).toBe(256);
    expect(p.traits(1).size).toBe(16);
  });

  it("tells apart headers whose u64 words are equal as doubles (+0, -0) and repeated NaN-pattern headers", () => {
    // The JS twin remembers the last header as two float64 words: -0 (key 63 alone, in one word) must
    // not pass for +0 (an empty word), and NaN patterns (keys 52..62 and 0 in the high word) never match.
    const p = new PacketPool({ count: 6, impl, hardwareKeys: "off" });
    p.traits(1).trySet(63, 0xaabbccdd, 0, 4); // high word 1 << 63: -0
    p.traits(3).trySet(63, 0xbeef, 0, 2); // low word 1 << 63: -0
    for (const f of [4, 5])
      for (const key of [0, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62]) p.traits(f).trySet(key, f, 0, 4);
    const b = p.burst(6).selectRange(0, 6),
      E = Errno.ENOENT;
    expect(p.batchGet(b, 63)).toBe(2);
    expect([...b.status()]).toEqual([E, 4, E, 2, E, E]);
    expect([b.values()[4], b.values()[12]]).toEqual([0xaabbccdd, 0xbeef]); // 2 slots (4 u32) a frame
    expect(p.batchHas(b, 0)).toBe(2);
    expect([...b.status()]).toEqual([0, 0, 0, 0, 1, 1]);
    const out = p.decodeBuffer(64);
    expect(p.batchDecode(b, out)).toBe(26);
    expect([...b.status()]).toEqual([0, 1, 0, 1, 12, 12]);
    expect(p.batchSet(b, 62, 4, 7)).toBe(6);
    expect([...b.status()]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(p.batchDelete(b, 63)).toBe(2);
    expect([...b.status()]).toEqual([E, 0, E, 0, E, E]);
    expect([1, 3].map((f) => p.traits(f).size)).toEqual([20, 20]);
  });

  it("checks each frame's header against its own capacity when frames repeat a header", () => {
    // Six 2-byte keys: 28 bytes, under the 64-byte bound of 8 bytes a key. Heads (capacities) 64, 32
    // (under the bound, over the size) and 24 (a copied header declaring more than the store holds).
    const p = new PacketPool({ count: 4, impl, headroom: 64, hardwareKeys: "off" });
    for (const f of [0, 1, 3]) for (let key = 1; key <= 6; key++) p.traits(f).trySet(key, key, 0, 2);
    p.write(1, new Uint8Array(8));
    p.adjustHead(1, -32); // data start 32: the store's capacity
    p.write(2, new Uint8Array(8));
    p.adjustHead(2, -40);
    p.frameBytes(2).set(p.frameBytes(0).subarray(0, 16));
    const b = p.burst(4).selectRange(0, 4);
    expect([0, 1, 2, 3].map((f) => p.head(f))).toEqual([64, 32, 24, 64]);
    expect(p.batchGet(b, 6)).toBe(3);
    expect([...b.status()]).toEqual([2, 2, Errno.EBADMSG, 2]);
    expect(p.batchSet(b, 4, 2, 9)).toBe(3);
    expect([...b.status()]).toEqual([0, 0, Errno.EBADMSG, 0]);
    expect(p.batchSet(b, 20, 8, 9)).toBe(2);
    expect([...b.status()]).toEqual([0, 0, Errno.EBADMSG, 0].map((rc, f) => (f === 1 ? Errno.ENOSPC : rc)));
    expect(p.batchHas(b, 1)).toBe(3);
    expect([...b.status()]).toEqual([1, 1, Errno.EBADMSG, 1]);
  });

  it("adjustHead pushes and pulls the data start; the store's hard end follows; never over the store", () => {
    const p = pool();
    p.write(0, new Uint8Array(100).fill(9));
    p.traits(0).set(1, 1n).set(2, 1n); // 32 bytes in use
    expect(p.adjustHead(0, -224)).toBe(32);
    expect([p.length(0), p.traits(0).capacity]).toEqual([324, 32]);
    expect(() => p.traits(0).set(3, 1, 2)).toThrow(/ENOSPC/);
    let error: unknown;
    try {
      p.adjustHead(0, -1);
    } catch (e) {
      error = e;
    }
    expect((error as TraitsError).code).toBe("ENOSPC");
    expect([p.head(0), p.length(0)]).toEqual([32, 324]);
    expect(() => p.adjustHead(0, 325)).toThrow(/delta must be an integer in -32..324/);
    expect(p.adjustHead(0, 324)).toBe(356);
    expect(p.length(0)).toBe(0);
    p.traits(0).set(3, 1, 2);
    expect(p.traits(0).size).toBe(34);
    p.traits(0).bytes().fill(0xff, 0, 16);
    expect(() => p.adjustHead(0, -300)).toThrow(/EBADMSG/);
  });

  it("setLength and write are bounded by the frame (less the 32-byte hints area of placement struct)", () => {
    const p = pool();
    p.setLength(2, 2048 - 256 - 32);
    expect(() => p.setLength(2, 2048 - 256 - 31)).toThrow(/length must be an integer in 0..1760/);
    expect(() => p.write(2, new Uint8Array(1761))).toThrow(/EINVAL/);
    expect(p.length(2)).toBe(1760);
    const off = new PacketPool({ count: 1, impl, hardwareKeys: "off" });
    off.setLength(0, 2048 - 256);
    expect(off.length(0)).toBe(1792);
  });

  it("copyTraits and transfer carry traits to another frame or pool; move empties the source", () => {
    const a = pool(),
      b = new PacketPool({ count: 2, frameSize: 4096, headroom: 512, impl });
    a.write(0, new Uint8Array([5, 6, 7]));
    a.traits(0).set(4, 0xbeef, 2).set(9, 123n);
    a.copyTraits(0, 3);
    expect(a.traits(3).entries()).toEqual([
      [4, 0xbeef],
      [9, 123n],
    ]);
    a.transfer(0, 1, b, { move: true });
    expect([b.head(1), [...b.data(1)], b.traits(1).entries()]).toEqual([
      256,
      [5, 6, 7],
      [
        [4, 0xbeef],
        [9, 123n],
      ],
    ]);
    expect([a.head(0), a.length(0), a.traits(0).size]).toEqual([256, 0, 16]);
    const small = new PacketPool({ count: 1, frameSize: 64, headroom: 24, impl });
    expect(() => a.copyTraits(3, 0, small)).toThrow(/take 26 bytes; frame 0 has room for 24/);
    expect(() => b.transfer(1, 0, small)).toThrow(/does not fit a 64-byte frame/);
    expect(() => a.copyTraits(3, 0, new PacketPool({ count: 1, profile: "flags", impl }))).toThrow(
      /v1 pool to a flags pool/,
    );
  });

  it("several pools share one memory and survive its growth", () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    memory.buffer.byteLength;
    const a = new PacketPool({ count: 2, memory, impl }),
      b = new PacketPool({ count: 40, memory, impl });
    expect(a.base + 2 * 2048).toBeLessThanOrEqual(b.base);
    a.traits(1).set(1, 11, 2);
    const burst = a.burst(2).selectRange(0, 2);
    a.batchSet(burst, 2, 4, 5);
    const c = new PacketPool({ count: 100, memory, impl }); // grows the memory: old views detach
    expect(a.traits(1).entries()).toEqual([
      [1, 11],
      [2, 5],
    ]);
    expect(a.batchGet(burst, 2)).toBe(2);
    expect([...burst.status()]).toEqual([4, 4]);
    // A value set after the growth reaches the core (the pool's cached view of the memory was detached).
    expect(a.batchSet(burst, 2, 4, 6)).toBe(2);
    expect(a.traits(0).get(2)).toBe(6);
    expect(a.batchSet(burst, 3, 8, 2n ** 64n - 2n)).toBe(2);
    expect(a.traits(1).get(3)).toBe(2n ** 64n - 2n);
    expect(b.traits(39).size).toBe(16);
    expect(c.impl).toBe(impl);
  });

  it("a pool in a shared memory (SharedArrayBuffer) runs on the shared build of the core, or on JS", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 512, shared: true });
    const p = new PacketPool({ count: 8, memory, impl });
    expect(memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(p.impl).toBe(impl);
    const burst = p.burst(8).selectRange(0, 8);
    expect(p.batchSet(burst, 3, 4, 77)).toBe(8);
    expect(p.batchGet(burst, 3)).toBe(8);
    expect(p.traits(7).get(3)).toBe(77);
    // A shared memory grows without detaching: a value set after the growth still reaches the core.
    memory.grow(1);
    const q = new PacketPool({ count: 20, memory, impl });
    expect(p.batchSet(burst, 3, 4, 78)).toBe(8);
    expect(p.traits(7).get(3)).toBe(78);
    const all = q.burst(20).selectRange(0, 20);
    expect(q.batchSet(all, 4, 2, 0xbeef)).toBe(20);
    expect(q.traits(19).get(4)).toBe(0xbeef);
  });

  it("refuses bad pool options, frames and batch arguments with clear errors", () => {
    const bad: Array<[object, RegExp]> = [
      [{ count: 0 }, /count must be an integer in 1..16777216, not 0/],
      [{ count: 1.5 }, /count/],
      [{ count: 2 ** 25 }, /count/],
      [{ count: 4, frameSize: 100 }, /frameSize 100 is not a multiple of 8/],
      [{ count: 4, frameSize: 32 }, /frameSize must be/],
      [{ count: 4, headroom: 8 }, /headroom must be an integer in 16..2048/],
      [{ count: 4, headroom: 4096 }, /headroom/],
      [{ count: 2 ** 24, frameSize: 65536 }, /do not fit in a 4 GiB/],
      [{ count: 4, memory: {} }, /memory must be a WebAssembly.Memory/],
      [{ count: 4, profile: "v3" }, /profile/],
    ];
    for (const [options, message] of bad) expect(() => new PacketPool({ impl, ...options } as never)).toThrow(message);
    const p = pool(),
      burst = p.burst(4);
    expect(() => p.traits(4)).toThrow(/frame must be an integer in 0..3, not 4/);
    expect(() => p.data(-1)).toThrow(/frame/);
    expect(() => burst.selectRange(2, 3)).toThrow(/first must be an integer in 0..1/);
    expect(() => burst.selectRange(0, 5)).toThrow(/n must be an integer in 0..4/);
    expect(() => burst.selectFrames([1, -1])).toThrow(/frames\[1\] must be an integer/);
    burst.selectRange(0, 4);
    expect(() => p.batchGet(burst, 64)).toThrow(/outside the key-value space/);
    expect(() => p.batchSet(burst, 1, 3, 0)).toThrow(/length 3 is not a size of profile v1/);
    expect(() => p.batchSet(burst, 1, 2, 70000)).toThrow(/does not fit in 2 bytes/);
    expect(() =>
      p.batchSetMany(burst, [
        { key: 1, len: 2 },
        { key: 2, len: 2 },
        { key: 3, len: 2 },
      ]),
    ).toThrow(/1 to 2/);
    expect(() => p.batchSetMany(burst, [{ key: 1, len: 2 }], [1, 2])).toThrow(/one per field/);
    expect(() => p.batchGetWide(burst, 63)).toThrow(/keys 63 and 64/);
    expect(() => pool().batchGet(burst, 1)).toThrow(/another pool/);
    expect(() => p.batchDecode(burst, pool().decodeBuffer(4))).toThrow(/DecodeBuffer of this pool's memory/);
    expect(p.traits(0).size + p.traits(1).size).toBe(32);
  });
});

describe.each(IMPLS)("%s packet pool, placement metadata", (impl) => {
  const pool = () => new PacketPool({ count: 4, impl, placement: "metadata", metaLength: 32 });

  it("puts each frame's store in the metaLength bytes right before the data, as XDP's metadata area", () => {
    const p = pool();
    p.write(1, new Uint8Array([1, 2, 3]));
    expect([p.placement, p.metaLength, p.head(1), p.metaLengthOf(1), p.storeStart(1) - p.frameStart(1)]).toEqual([
      "metadata",
      32,
      256,
      32,
      224,
    ]);
    p.traits(1).set(3, 0xabcd, 2);
    expect(hex(p.frameBytes(1).subarray(224, 242))).toBe(
      hex(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0xcd, 0xab])),
    );
    expect([...p.data(1)]).toEqual([1, 2, 3]);
    expect([p.traits(1).capacity, p.traits(1).start]).toEqual([32, p.frameStart(1) + 224]);
  });

  it("adjustHead moves the store with the data (as the kernel moves the metadata); adjustMeta grows and shrinks it in place", () => {
    const p = pool(),
      store = p.traits(0);
    p.write(0, new Uint8Array([9, 8, 7, 6, 5]));
    store.set(5, 77n);
    expect(p.adjustHead(0, -16)).toBe(240);
    expect([store.start - p.frameStart(0), store.get(5), p.length(0)]).toEqual([208, 77n, 21]);
    expect(p.adjustHead(0, 20)).toBe(260);
    expect([store.start - p.frameStart(0), store.get(5), [...p.data(0)]]).toEqual([228, 77n, [5]]);
    expect(() => p.adjustHead(0, -1)).toThrow(/not a multiple of 4/);
    expect(() => p.adjustHead(0, -240)).toThrow(/ENOSPC.*no room for the 32-byte metadata area/);
    expect(p.adjustMeta(0, 16)).toBe(16);
    expect([store.capacity, store.start - p.frameStart(0)]).toEqual([16, 244]);
    expect(p.adjustMeta(0, -48)).toBe(64);
    store.clear();
    store.set(1, 1, 2);
    expect(store.entries()).toEqual([[1, 1]]);
    expect(() => p.adjustMeta(0, 2)).toThrow(/not a multiple of 4/);
    expect(() => p.adjustMeta(0, 68)).toThrow(/delta must be an integer in -196..64/);
    expect(() => new PacketPool({ count: 1, impl }).adjustMeta(0, -4)).toThrow(/placement "frame"/);
    p.reset(0);
    expect([p.head(0), p.metaLengthOf(0), p.length(0), store.start - p.frameStart(0), store.size]).toEqual([
      256, 32, 0, 224, 16,
    ]);
  });

  it("copyTraits and transfer work between placements; transfer keeps the metadata length", () => {
    const m = pool(),
      f = new PacketPool({ count: 2, impl });
    m.write(0, new Uint8Array([1, 2]));
    m.traits(0).set(4, 0xbeef, 2).set(9, 123n);
    m.transfer(0, 1, f);
    expect([f.head(1), [...f.data(1)], f.traits(1).entries()]).toEqual([
      256,
      [1, 2],
      [
        [4, 0xbeef],
        [9, 123n],
      ],
    ]);
    f.traits(1).set(10, 5, 4);
    f.transfer(1, 2, m, { move: true });
    expect([m.head(2), m.metaLengthOf(2), [...m.data(2)], m.traits(2).entries()]).toEqual([
      256,
      32,
      [1, 2],
      [
        [4, 0xbeef],
        [9, 123n],
        [10, 5],
      ],
    ]);
    expect(f.traits(1).size).toBe(16);
    m.adjustMeta(3, 16);
    expect(() => m.copyTraits(2, 3)).toThrow(/take 30 bytes; frame 3 has room for 16/);
    m.copyTraits(2, 0, f);
    expect(f.traits(0).keys()).toEqual([4, 9, 10]);
  });

  it("refuses bad metadata options", () => {
    expect(() => new PacketPool({ count: 1, impl, placement: "meta" as never })).toThrow(
      /placement must be "frame" or "metadata"/,
    );
    expect(() => new PacketPool({ count: 1, impl, metaLength: 32 })).toThrow(/metaLength is for placement "metadata"/);
    expect(() => new PacketPool({ count: 1, impl, placement: "metadata", metaLength: 30 })).toThrow(
      /not a multiple of 4/,
    );
    expect(() => new PacketPool({ count: 1, impl, placement: "metadata", metaLength: 300 })).toThrow(
      /metaLength must be an integer in 0..256/,
    );
    expect(() => new PacketPool({ count: 1, impl, placement: "metadata", headroom: 18, metaLength: 16 })).toThrow(
      /headroom 18 is not a multiple of 4/,
    );
  });
});
