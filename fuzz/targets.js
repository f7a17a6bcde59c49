// Fuzz targets: each runs `ops` seeded random (and adversarial) operations and throws on the first
// disagreement, out-of-bounds write or unexpected exception, naming the seed and the op.
// Used by `npm run fuzz` (fuzz/run.js, long runs) and by test/fuzz.test.ts (short runs in npm test).
import { readFileSync } from "node:fs";
import { KeyRegistry, PacketPool, TraitStore, TraitsError } from "packet-traits";
import { bytesSource } from "../dist/capture/capture.js";
import { annotateCapture } from "../dist/capture/annotate.js";
import { showCapture } from "../dist/capture/show.js";
import { parseHex } from "../dist/cli/hex.js";

/** mulberry32: a small seeded PRNG; returns u32s. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  next.int = (n) => next() % n;
  next.pick = (list) => list[next() % list.length];
  return next;
}

const FRAMES = 8,
  FRAME = 1024,
  GUARD = 0xa5;

/** One world: a pool and a store at the very end of its memory, on one implementation. */
function world(impl, headrooms, edgeCap, profile) {
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 64 });
  const pool = new PacketPool({
    count: FRAMES,
    frameSize: FRAME,
    headroom: 560,
    memory,
    impl,
    profile,
    hardwareKeys: "off",
  });
  const all = pool.burst(FRAMES, { slots: 4 }),
    decoded = pool.decodeBuffer(FRAMES * 64);
  TraitStore.at(memory, 0, 16, { impl }); // the core's scratch is allocated now, so the edge stays the edge
  const end = memory.buffer.byteLength,
    start = (end - edgeCap) & ~7;
  new Uint8Array(memory.buffer, start - 64, 64).fill(GUARD);
  const edge = TraitStore.at(memory, start, end - start, { impl, profile });
  edge.clear();
  for (let f = 0; f < FRAMES; f++) {
    pool.frameBytes(f).fill(GUARD);
    pool.traits(f).clear();
    pool.adjustHead(f, headrooms[f] - 560);
  }
  // Bytes from guardFrom[f] on were never inside frame f's store (its capacity only ever grew up to there).
  return { memory, pool, all, decoded, edge, impl, guardFrom: headrooms.slice() };
}

/** Everything that must stay equal across worlds and untouched outside the stores. */
function check(w, touched, where) {
  for (const f of touched) {
    const bytes = w.pool.frameBytes(f),
      from = (w.guardFrom[f] = Math.max(w.guardFrom[f], w.pool.head(f)));
    for (let i = from; i < FRAME; i++)
      if (bytes[i] !== GUARD)
        throw new Error(
          `${where}: ${w.impl} wrote byte ${i} of frame ${f}, past its store's greatest capacity ${from}`,
        );
  }
  const guard = new Uint8Array(w.memory.buffer, w.edge.start - 64, 64);
  if (guard.some((b) => b !== GUARD)) throw new Error(`${where}: ${w.impl} wrote before the edge store`);
}

function same(a, b, what) {
  const x = JSON.stringify(a, (_, v) => (typeof v === "bigint" ? `${v}n` : v)),
    y = JSON.stringify(b, (_, v) => (typeof v === "bigint" ? `${v}n` : v));
  if (x !== y) throw new Error(`${what}: wasm ${x.slice(0, 300)} but js ${y.slice(0, 300)}`);
}

/** Runs a call, turning a TraitsError into its code (any other exception is a finding). */
function outcome(fn) {
  try {
    return fn();
  } catch (error) {
    if (error instanceof TraitsError) return `throws ${error.code}`;
    throw error;
  }
}

const KEYS = () => [0, 1, 5, 17, 31, 32, 33, 40, 62, 63, 64, 65, 1000, -1];

/**
 * A random op, as a function of one world (applied to both in turn); returns [description, op].
 * @returns {[string, (world: any) => unknown]}
 */
function randomOp(r) {
  const frame = r.int(FRAMES + 2) - (r.int(10) === 0 ? 1 : 0); // now and then out of range
  const key = r.int(4) === 0 ? r.pick(KEYS()) : r.int(64),
    len = r.int(8) === 0 ? r.pick([0, 1, 3, 6, 16, -2]) : r.pick([2, 4, 8, 0]);
  const lo = r.int(6) === 0 ? r.pick([0x10000, 0xffffffff, -1, 2 ** 32, 0.5]) : r() & (len === 2 ? 0xffff : 0xffffffff),
    hi = len === 8 ? r() : 0;
  const n = r.int(FRAMES + 1),
    first = r.int(FRAMES - n + 1),
    frames = Array.from({ length: r.int(FRAMES + 1) }, () => r.int(FRAMES + 3));
  const ranged = r.int(2) === 0;
  const sel = (w) => (ranged ? w.all.selectRange(first, n) : w.all.selectFrames(frames));
  const fields = Array.from({ length: 1 + r.int(4) }, () => ({ key: r.int(64), len: r.pick([2, 4, 8, 0]) }));
  const values = fields.map((f) => BigInt(r()) & ((1n << BigInt(8 * Math.max(f.len, 0))) - 1n));
  const header = Array.from({ length: 16 }, () => r() & 0xff);
  if (r.int(2) === 0) for (let i = 0; i < 16; i++) header[i] &= r.pick([0, 0x11, 0xff]); // mostly sparse headers, some declaring up to 528 bytes
  const store = (w) => (frame === -1 ? w.edge : w.pool.traits(Math.min(frame, FRAMES - 1)));
  const outLen = r.int(10),
    broadcast = r.int(2) ? undefined : BigInt(lo >>> 0);
  const kind = r.int(20);
  switch (kind) {
    case 0:
    case 1:
    case 2:
      return [`trySet ${frame} ${key} ${len} ${lo} ${hi}`, (w) => store(w).trySet(key, lo, hi, len)];
    case 3:
    case 4:
      return [
        `tryGet ${frame} ${key}`,
        (w) => {
          const out = new Uint32Array(2);
          return [store(w).tryGet(key, out), [...out]];
        },
      ];
    case 5:
      return [
        `tryGetBytes ${frame} ${key} ${outLen}`,
        (w) => {
          const bytes = new Uint8Array(outLen);
          return [store(w).tryGetBytes(key, bytes), [...bytes]];
        },
      ];
    case 6:
    case 7:
      return [`tryDelete ${frame} ${key}`, (w) => store(w).tryDelete(key)];
    case 8:
      return [`tryHas ${frame} ${key}`, (w) => store(w).tryHas(key)];
    case 9:
      return [
        `setMany ${frame} ${JSON.stringify(fields)}`,
        (w) => outcome(() => (store(w).setMany(fields.map((f, j) => [f.key, values[j], f.len])), store(w).trySize())),
      ];
    case 10:
      return [`corrupt header ${frame}`, (w) => (store(w).bytes().set(header), 0)];
    case 11:
      return [
        `adjustHead ${frame} ${lo % 700}`,
        (w) => outcome(() => w.pool.adjustHead(Math.max(0, Math.min(frame, FRAMES - 1)), (lo | 0) % 600)),
      ];
    case 12:
      return [
        `batchGet ${key}`,
        (w) =>
          outcome(() => [
            w.pool.batchGet(sel(w), key),
            [...w.all.status()],
            [...w.all.values().subarray(0, 8 * w.all.length)].filter((_, i) => i % 8 < 2),
          ]),
      ];
    case 13:
      return [
        `batchSet ${key} ${len}`,
        (w) => outcome(() => [w.pool.batchSet(sel(w), key, len, broadcast), [...w.all.status()]]),
      ];
    case 14:
      return [
        `batchSetMany ${JSON.stringify(fields)}`,
        (w) =>
          outcome(() => [
            w.pool.batchSetMany(sel(w), fields, values, { replace: (lo & 1) === 1 }),
            [...w.all.status()],
          ]),
      ];
    case 15:
      return [`batchDelete ${key}`, (w) => outcome(() => [w.pool.batchDelete(sel(w), key), [...w.all.status()]])];
    case 16:
      return [`batchHas ${key}`, (w) => outcome(() => [w.pool.batchHas(sel(w), key), [...w.all.status()]])];
    case 17:
      return [
        "batchDecode",
        (w) =>
          outcome(() => [
            w.pool.batchDecode(sel(w), w.decoded),
            [...w.all.status()],
            [...w.decoded.keys()],
            [...w.decoded.values()],
          ]),
      ];
    case 18:
      return [`batchGetWide ${key}`, (w) => outcome(() => [w.pool.batchGetWide(sel(w), key), [...w.all.status()]])];
    default:
      return [`batchInit`, (w) => outcome(() => [w.pool.batchInit(sel(w)), [...w.all.status()]])];
  }
}

/**
 * The codec: random and adversarial single-store and batch operations on a WASM world and a JS
 * world (pools of 8 frames with random headrooms, and a store ending exactly at the end of its
 * memory; profile v1 for even seeds, flags for odd ones), compared after every op, guard bytes
 * checked after every op. Returns ops run.
 */
export function fuzzCodec(seed, ops) {
  const r = rng(seed),
    headrooms = Array.from({ length: FRAMES }, () => 16 + r.int(545)),
    edgeCap = 16 + r.int(530);
  const profile = seed % 2 === 0 ? "v1" : "flags"; // even seeds v1, odd seeds flags
  const worlds = [world("wasm", headrooms, edgeCap, profile), world("js", headrooms, edgeCap, profile)];
  for (let i = 0; i < ops; i++) {
    if (i % 5000 === 0 && i > 0) {
      for (let f = 0; f < FRAMES; f++) if (r.int(4) === 0) for (const w of worlds) w.pool.traits(f).clear(); // now and then, room again
    }
    const [what, op] = randomOp(r);
    const where = `seed ${seed} op ${i} (${what})`;
    const results = worlds.map((w) => {
      try {
        return op(w);
      } catch (error) {
        throw new Error(`${where}: ${w.impl} threw ${error instanceof Error ? error.stack : error}`);
      }
    });
    same(results[0], results[1], where);
    for (const w of worlds)
      check(
        w,
        Array.from({ length: FRAMES }, (_, f) => f),
        where,
      );
    const a = new Uint8Array(worlds[0].memory.buffer, worlds[0].pool.base, FRAMES * FRAME),
      b = new Uint8Array(worlds[1].memory.buffer, worlds[1].pool.base, FRAMES * FRAME);
    if (Buffer.compare(a, b) !== 0) throw new Error(`${where}: the frames differ between wasm and js`);
    if (Buffer.compare(worlds[0].edge.bytes(), worlds[1].edge.bytes()) !== 0)
      throw new Error(`${where}: the edge stores differ`);
  }
  return ops;
}

/** Byte-string mutations of a valid input: flips, cuts, splices, length fields set to extremes. */
export function mutate(r, bytes) {
  const out = Buffer.from(bytes);
  const edits = 1 + r.int(4);
  let data = out;
  for (let e = 0; e < edits; e++) {
    const at = r.int(Math.max(1, data.length));
    switch (r.int(5)) {
      case 0:
        data[at] ^= 1 << r.int(8);
        break;
      case 1:
        data = data.subarray(0, at);
        break;
      case 2:
        if (at + 4 <= data.length) data.writeUInt32LE(r.pick([0, 1, 12, 0xffffffff, 0x7ffffffc, r()]), at & ~3);
        break;
      case 3:
        data = Buffer.concat([
          data.subarray(0, at),
          Buffer.from(Array.from({ length: r.int(16) }, () => r() & 0xff)),
          data.subarray(at),
        ]);
        break;
      default:
        data[at] = r() & 0xff;
    }
  }
  return new Uint8Array(data);
}

/** Decoders of outside input: any byte string gives a result or a TraitsError, never another exception or a hang. */
export function fuzzDecoders(seed, ops, samples) {
  const r = rng(seed);
  const registry = JSON.stringify({
    version: 1,
    profile: "v1",
    keys: { packet_id: { key: 5, size: 8, description: "x" }, vlan: { key: 7, size: 2 } },
  });
  for (let i = 0; i < ops; i++) {
    const where = `seed ${seed} op ${i}`;
    const kind = r.int(3);
    const expectTraitsError = (what, fn) => {
      try {
        fn();
      } catch (error) {
        if (!(error instanceof TraitsError)) throw new Error(`${where}: ${what} threw ${error?.stack ?? error}`);
      }
    };
    if (kind === 0) {
      const text = new TextDecoder().decode(mutate(r, new TextEncoder().encode(registry)));
      expectTraitsError(`registry config ${JSON.stringify(text)}`, () => KeyRegistry.parse(text));
    } else if (kind === 1) {
      const input = mutate(r, r.pick(samples));
      expectTraitsError("capture", () => {
        showCapture(bytesSource(input), () => {}, { json: true, limit: Infinity });
        // Annotating sets up a 256-frame pool (about 10 ms): every 8th capture input is annotated too.
        if (i % 8 === 0) showCapture(bytesSource(annotated(input)), () => {}, { json: true, limit: Infinity });
      });
    } else {
      const text = Array.from({ length: r.int(80) }, () =>
        r.pick([..."0123456789abcdefABCDEF", " ", "\n", "x", "0x", "g", "é", "\0"]),
      ).join("");
      expectTraitsError(`hex ${JSON.stringify(text)}`, () => {
        const bytes = parseHex(text);
        if (bytes.length < 16) return;
        const store = TraitStore.over(new Uint8Array(bytes), { impl: "js" });
        store.validate();
        store.entries();
      });
    }
  }
  return ops;
}

/** A capture annotated as `pcap annotate --comment` does it, in memory. */
function annotated(input) {
  const parts = [],
    names = [{ name: "packet_id", key: 0, size: 8 }];
  annotateCapture(
    bytesSource(input),
    { write: (bytes, at, length) => parts.push(bytes.slice(at, at + length)) },
    { profile: "v1", packetIdKey: 0, sets: [], names, comment: true, limit: Infinity },
  );
  return Buffer.concat(parts);
}

/** The capture samples the decoder fuzzer mutates: the fixture and its annotated pcapng. */
export function captureSamples() {
  const pcap = new Uint8Array(readFileSync(new URL("../test/fixtures/sample.pcap", import.meta.url)));
  return [pcap, annotated(pcap)];
}
