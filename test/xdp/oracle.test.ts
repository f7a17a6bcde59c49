// The kernel as an oracle: the conformance vectors and >= 100,000 random ops (seeded; both
// profiles; hostile headers, keys and lengths) run through bpf/oracle.bpf.o with
// BPF_PROG_TEST_RUN and through the library (both implementations); every result, the size and
// header after every op, and every byte of every store must agree. Skipped, saying why, where
// bpf() is not permitted; with CI=true that fails instead.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createStore, errnoName, type Profile, type TraitStore } from "packet-traits";
import { BpfError, BpfObject } from "packet-traits/xdp";
import { MAX_OPS, runOracle, type Op, type Result } from "./oracle.js";

const OBJECT = join(import.meta.dirname, "../../bpf/oracle.bpf.o");
const SEED = Number(process.env.ORACLE_SEED ?? 20261125);
const RANDOM_OPS = 100_000;

let oracle: BpfObject | undefined,
  reason = "";
try {
  oracle = BpfObject.load(OBJECT);
} catch (error) {
  if (!(error instanceof BpfError)) throw error;
  reason = error.message;
}
const skip = oracle === undefined && process.env.CI !== "true";
if (skip) console.warn(`kernel oracle skipped: ${reason}`);

/** The oracle's program fd; throws why it could not be loaded (so that CI fails, not skips). */
function fd(): number {
  if (!oracle) throw new Error(`kernel oracle unavailable: ${reason}`);
  return oracle.programFd();
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const unhex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "hex"));

/** The same store in both implementations of the library. */
function libraryStores(profile: Profile, cap: number, init: Uint8Array): TraitStore[] {
  return (["wasm", "js"] as const).map((impl) => {
    const store = createStore(cap, { profile, impl });
    store.bytes().set(init);
    return store;
  });
}

/** Runs one op on a library store as the oracle runs it through traits.bpf.h. */
function applyLibrary(store: TraitStore, op: Op): Result {
  const key = op.key <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(op.key) : op.key,
    value = op.value.slice();
  const words = new DataView(op.value.buffer, op.value.byteOffset, 8);
  let rc: number;
  switch (op.kind) {
    case "set": {
      // The C API copies `len` bytes: the halves hold exactly those (any length not 0/2/4/8 is EINVAL either way).
      const lo = op.len === 8 || op.len === 4 ? words.getUint32(0, true) : op.len === 2 ? words.getUint16(0, true) : 0;
      rc = store.trySet(key, lo, op.len === 8 ? words.getUint32(4, true) : 0, op.len);
      break;
    }
    case "get": {
      const out = new Uint8Array(Math.min(op.len, 16)); // every out_len from 8 up behaves alike
      rc = store.tryGetBytes(key, out);
      if (rc > 0) value.set(out.subarray(0, rc));
      break;
    }
    case "del":
      rc = store.tryDelete(key);
      break;
    case "has":
      rc = store.tryHas(key);
      break;
    case "init":
      store.clear();
      rc = 0;
      break;
  }
  return { rc, value, size: store.trySize(), header: store.bytes().slice(0, 16) };
}

const show = (r: Result): string => `rc ${r.rc} value ${hex(r.value)} size ${r.size} header ${hex(r.header)}`;
const describeOp = (op: Op): string => `${op.kind} key ${op.key} len ${op.len} value ${hex(op.value)}`;

/**
 * Runs ops on the kernel and on the library stores; throws at the first difference. Returns the
 * kernel's results and its store after the last op.
 */
function compare(
  where: string,
  profile: Profile,
  cap: number,
  init: Uint8Array,
  ops: Op[],
  library: TraitStore[],
  tally?: Map<string, number>,
): { results: Result[]; store: Uint8Array } {
  const { results, store } = runOracle(fd(), profile, cap, init, ops);
  ops.forEach((op, i) => {
    const kernel = show(results[i]!),
      rc = results[i]!.rc,
      name = rc < 0 ? (errnoName(rc) ?? String(rc)) : "ok";
    tally?.set(name, (tally.get(name) ?? 0) + 1);
    for (const lib of library) {
      const mine = show(applyLibrary(lib, op));
      if (mine !== kernel)
        throw new Error(
          `${where} op ${i} (${describeOp(op)}), ${profile} cap ${cap}: kernel ${kernel}, ${lib.impl} ${mine}`,
        );
    }
  });
  for (const lib of library) {
    if (hex(lib.bytes()) !== hex(store))
      throw new Error(
        `${where}, ${profile} cap ${cap}: store bytes differ, kernel ${hex(store)}, ${lib.impl} ${hex(lib.bytes())}`,
      );
  }
  return { results, store };
}

interface VectorOp {
  op: "set" | "get" | "del" | "has";
  key: number;
  value?: string;
  len?: number;
  outLen?: number;
  rc: number;
  size?: number;
  header?: string;
}
interface VectorCase {
  id: number;
  profile: Profile;
  cap: number;
  init: string;
  ops: VectorOp[];
  final: string;
}

const PATTERN = new Uint8Array(8).fill(0xee);

/** A vector's op as an oracle op: set's value is its first 8 bytes (longer values are EINVAL anyway); get's out buffer starts as 0xee bytes. */
function fromVector(op: VectorOp): Op {
  const value = new Uint8Array(8);
  if (op.op === "set") value.set(unhex(op.value!).subarray(0, 8));
  if (op.op === "get") value.set(PATTERN);
  return { kind: op.op, key: BigInt(op.key), len: op.op === "set" ? op.len! : op.op === "get" ? op.outLen! : 0, value };
}

/** A seeded generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CAPS = [16, 17, 18, 20, 22, 24, 30, 32, 40, 48, 64, 100, 128, 200, 212, 216, 256, 300, 400, 528];
// Keys 0x10000..0x10004 are left out: the library reads them as its hardware keys (EOPNOTSUPP in a plain store), not as bad traits keys.
const BAD_KEYS = [
  64n,
  65n,
  100n,
  255n,
  256n,
  2n ** 31n,
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 53n - 1n,
  2n ** 63n,
  2n ** 64n - 1n,
];
const BAD_LENS = [1, 3, 5, 6, 7, 9, 16, 255, 2 ** 32 - 1];

/** Random ops and stores for one seed: picks, and the initial bytes of a session's store. */
class Generator {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = random(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }

  /** A store's initial bytes: an empty or filled store over garbage, or a random (often corrupt) header. */
  init(profile: Profile, cap: number): Uint8Array {
    const bytes = this.bytes(cap),
      kind = this.next();
    if (kind < 0.6) {
      bytes.fill(0, 0, 16);
      if (kind < 0.3) {
        const [store] = libraryStores(profile, cap, bytes),
          lens = profile === "v1" ? [2, 4, 8] : [0, 4, 8];
        for (let i = this.int(64); i > 0; i--) store!.trySet(this.int(64), this.int(65536), 0, this.pick(lens));
        return store!.bytes().slice();
      }
    } else if (kind < 0.85) {
      // A sparse random header: its declared size falls anywhere from 16 to 528, over or under the capacity.
      const view = new DataView(bytes.buffer);
      view.setBigUint64(0, 0n);
      view.setBigUint64(8, 0n);
      for (let i = this.int(65); i > 0; i--) {
        const bit = 1n << BigInt(this.int(64)),
          code = 1 + this.int(3);
        if (code & 2) view.setBigUint64(0, view.getBigUint64(0, true) | bit, true);
        if (code & 1) view.setBigUint64(8, view.getBigUint64(8, true) | bit, true);
      }
    }
    return bytes;
  }

  /** A random op over a session's hot keys, with hostile keys and lengths now and then. */
  op(profile: Profile, hot: number[]): Op {
    const r = this.next(),
      kind = r < 0.45 ? "set" : r < 0.7 ? "get" : r < 0.9 ? "del" : r < 0.98 ? "has" : "init";
    const key = this.next() < 0.08 ? this.pick(BAD_KEYS) : BigInt(this.next() < 0.6 ? this.pick(hot) : this.int(64));
    const lens = profile === "v1" ? [2, 4, 8] : [0, 4, 8];
    let len = 0;
    if (kind === "set") len = this.next() < 0.1 ? this.pick([...BAD_LENS, profile === "v1" ? 0 : 2]) : this.pick(lens);
    if (kind === "get") len = this.next() < 0.7 ? 8 : this.pick([0, 1, 2, 3, 4, 5, 6, 7, 9, 16, 2 ** 32 - 1]);
    return { kind, key, len, value: this.bytes(8) };
  }
}

describe.skipIf(skip)(
  `kernel oracle (bpf/oracle.bpf.o through BPF_PROG_TEST_RUN)${skip ? ` skipped: ${reason}` : ""}`,
  () => {
    afterAll(() => oracle?.close());

    it("replays every conformance vector: the vectors' results, sizes, headers and final bytes, and both implementations' stores", () => {
      const dir = join(import.meta.dirname, "../vectors");
      let cases = 0,
        ops = 0;
      for (const file of readdirSync(dir)
        .filter((f) => f.endsWith(".jsonl"))
        .sort()) {
        for (const line of readFileSync(join(dir, file), "utf8")
          .split("\n")
          .filter((l) => l.trim())) {
          const c = JSON.parse(line) as VectorCase,
            init = unhex(c.init),
            where = `${file} case ${c.id}`;
          const { results, store } = compare(
            where,
            c.profile,
            c.cap,
            init,
            c.ops.map(fromVector),
            libraryStores(c.profile, c.cap, init),
          );
          c.ops.forEach((op, i) => {
            const r = results[i]!;
            const agrees =
              r.rc === op.rc &&
              (op.op !== "get" || op.rc < 0 || hex(r.value.subarray(0, op.rc)) === (op.value ?? "")) &&
              (op.size === undefined || r.size === op.size) &&
              (op.header === undefined || hex(r.header) === op.header);
            if (!agrees) throw new Error(`${where} op ${i} ${JSON.stringify(op)}: kernel ${show(r)}`);
          });
          expect(hex(store.subarray(0, c.final.length / 2)), `${where} final`).toBe(c.final);
          cases++;
          ops += c.ops.length;
        }
      }
      console.log(`kernel oracle: ${cases} vector cases, ${ops} ops agree with the vectors and both implementations`);
      expect(cases).toBeGreaterThan(0);
    });

    it("gives ENOMEM for every op with valid arguments on a region shorter than the header, EINVAL before it, and writes nothing", () => {
      const g = new Generator(SEED);
      for (const profile of ["v1", "flags"] as const) {
        for (const cap of [0, 2, 4, 8, 12, 15]) {
          const init = g.bytes(cap),
            ops = Array.from({ length: MAX_OPS }, () => g.op(profile, [0, 63]));
          const { results, store } = runOracle(fd(), profile, cap, init, ops);
          ops.forEach((op, i) => {
            const badKey = op.kind !== "init" && op.key >= 64n,
              badLen = op.kind === "set" && ![profile === "v1" ? 2 : 0, 4, 8].includes(op.len);
            expect(results[i]!.rc, `${profile} cap ${cap} op ${i} (${describeOp(op)})`).toBe(
              badKey || badLen ? -22 : -12,
            );
            expect(results[i]!.size).toBe(-12);
            if (op.kind === "get") expect(hex(results[i]!.value)).toBe(hex(op.value));
          });
          expect(hex(store)).toBe(hex(init));
        }
      }
    });

    it(`agrees with both implementations on ${RANDOM_OPS} random ops (seed ${SEED}; ORACLE_SEED to change)`, () => {
      const g = new Generator(SEED),
        began = performance.now(),
        tally = new Map<string, number>();
      let ops = 0,
        runs = 0,
        sessions = 0;
      while (ops < RANDOM_OPS) {
        // A session: one store through several runs, each starting from the bytes the last one left.
        const profile: Profile = g.next() < 0.5 ? "v1" : "flags",
          cap = g.pick(CAPS);
        const hot = Array.from({ length: 1 + g.int(12) }, () => g.int(64));
        let bytes = g.init(profile, cap);
        const library = libraryStores(profile, cap, bytes);
        for (let run = 1 + g.int(6); run > 0; run--) {
          const list = Array.from({ length: 1 + g.int(MAX_OPS) }, () => g.op(profile, hot));
          bytes = compare(
            `seed ${SEED} session ${sessions} run ${runs}`,
            profile,
            cap,
            bytes,
            list,
            library,
            tally,
          ).store;
          ops += list.length;
          runs++;
        }
        sessions++;
      }
      const results = [...tally]
        .sort((a, b) => b[1] - a[1])
        .map(([rc, n]) => `${rc} ${n}`)
        .join(", ");
      console.log(
        `kernel oracle: ${ops} random ops in ${runs} test runs (${sessions} stores) agree, ${Math.round(performance.now() - began)} ms; results: ${results}`,
      );
    });
  },
);
