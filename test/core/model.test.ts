// Property tests: random op sequences on the WASM core, the JS core and a Map model agree after
// every op; random (hostile) headers never make either core touch a byte outside the store.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Errno, type Profile } from "packet-traits";
import { guardedStore, hex } from "../helpers.js";

const SIZES: Record<Profile, number[]> = { v1: [2, 4, 8], flags: [0, 4, 8] };

/** The reference model: a Map from key to value bytes, serialised the way the format lays it out. */
class Model {
  readonly values = new Map<number, Uint8Array>();
  constructor(
    readonly profile: Profile,
    readonly cap: number,
  ) {}
  get size(): number {
    let n = 16;
    for (const v of this.values.values()) n += v.length;
    return n;
  }
  set(key: number, value: Uint8Array): number {
    if (key >= 64 || !SIZES[this.profile].includes(value.length)) return Errno.EINVAL;
    const old = this.values.get(key);
    if (old && old.length !== value.length) return Errno.EBUSY;
    if (!old && this.size + value.length > this.cap) return Errno.ENOSPC;
    this.values.set(key, value);
    return 0;
  }
  del(key: number): number {
    if (key >= 64) return Errno.EINVAL;
    return this.values.delete(key) ? 0 : Errno.ENOENT;
  }
  get(key: number, outLen: number): [number, string] {
    if (key >= 64) return [Errno.EINVAL, ""];
    const v = this.values.get(key);
    if (!v) return [Errno.ENOENT, ""];
    return v.length > outLen ? [Errno.ENOSPC, ""] : [v.length, hex(v)];
  }
  bytes(): string {
    const header = new DataView(new ArrayBuffer(16));
    let high = 0n,
      low = 0n,
      body = "";
    for (const key of [...this.values.keys()].sort((a, b) => a - b)) {
      const v = this.values.get(key)!,
        code = BigInt(SIZES[this.profile].indexOf(v.length) + 1);
      high |= (code >> 1n) << BigInt(key);
      low |= (code & 1n) << BigInt(key);
      body += hex(v);
    }
    header.setBigUint64(0, high, true);
    header.setBigUint64(8, low, true);
    return hex(new Uint8Array(header.buffer)) + body;
  }
}

const key = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 63 }) },
  { weight: 1, arbitrary: fc.integer({ min: 64, max: 200 }) },
);
const op = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("set" as const),
      key,
      value: fc.uint8Array({ minLength: 0, maxLength: 9 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("del" as const), key }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("get" as const), key, outLen: fc.integer({ min: 0, max: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("has" as const), key }) },
);
const profile = fc.constantFrom<Profile>("v1", "flags");

describe("random op sequences: WASM, JS and the Map model agree after every op", () => {
  it("agree on every rc, value, size and byte", () => {
    fc.assert(
      fc.property(profile, fc.integer({ min: 16, max: 160 }), fc.array(op, { maxLength: 80 }), (profile, cap, ops) => {
        const model = new Model(profile, cap);
        const stores = [guardedStore("wasm", profile, cap), guardedStore("js", profile, cap)];
        for (const g of stores) g.store.clear();
        for (const o of ops) {
          let expected: [number, string];
          if (o.op === "set") expected = [model.set(o.key, o.value), ""];
          else if (o.op === "del") expected = [model.del(o.key), ""];
          else if (o.op === "get") expected = model.get(o.key, o.outLen);
          else expected = [o.key >= 64 ? Errno.EINVAL : model.values.has(o.key) ? 1 : 0, ""];
          for (const g of stores) {
            const s = g.store;
            let got: [number, string];
            if (o.op === "set") {
              const v = new DataView(new Uint8Array([...o.value, 0, 0, 0, 0, 0, 0, 0, 0]).buffer);
              got = [
                o.value.length > 8
                  ? Errno.EINVAL
                  : s.trySet(
                      o.key,
                      v.getUint32(0, true),
                      o.value.length === 8 ? v.getUint32(4, true) : 0,
                      o.value.length,
                    ),
                "",
              ];
            } else if (o.op === "del") got = [s.tryDelete(o.key), ""];
            else if (o.op === "get") {
              const out = new Uint8Array(o.outLen);
              const rc = s.tryGetBytes(o.key, out);
              got = [rc, rc >= 0 ? hex(out.subarray(0, rc)) : ""];
            } else got = [s.tryHas(o.key), ""];
            expect(got, `${s.impl} ${JSON.stringify(o)}`).toEqual(expected);
            expect(s.size).toBe(model.size);
            expect(hex(s.toBytes())).toBe(model.bytes());
            g.checkGuards();
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("hostile headers", () => {
  it("any header and body: both cores agree, stay inside the store, and a header over the capacity changes nothing", () => {
    fc.assert(
      fc.property(
        profile,
        fc.integer({ min: 16, max: 96 }),
        fc.uint8Array({ minLength: 96, maxLength: 96 }),
        fc.array(op, { maxLength: 20 }),
        (profile, cap, init, ops) => {
          const stores = [
            guardedStore("wasm", profile, cap, init.subarray(0, cap)),
            guardedStore("js", profile, cap, init.subarray(0, cap)),
          ];
          const corrupt = stores[0]!.store.trySize() === Errno.EBADMSG;
          for (const o of ops) {
            const results = stores.map(({ store: s }) => {
              if (o.op === "set") return s.trySet(o.key, o.value[0] ?? 0, 0, o.value.length > 8 ? 3 : o.value.length);
              if (o.op === "del") return s.tryDelete(o.key);
              if (o.op === "get") return s.tryGetBytes(o.key, new Uint8Array(o.outLen));
              return s.tryHas(o.key);
            });
            expect(results[0]).toBe(results[1]);
            expect(hex(stores[0]!.store.bytes())).toBe(hex(stores[1]!.store.bytes()));
            if (corrupt) {
              expect([Errno.EBADMSG, Errno.EINVAL]).toContain(results[0]);
              expect(hex(stores[0]!.store.bytes())).toBe(hex(init.subarray(0, cap)));
            }
            for (const g of stores) g.checkGuards();
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("a header that declares the largest store (64 keys of 8 bytes, 528 bytes) is EBADMSG in 527 bytes and valid in 528", () => {
    for (const impl of ["wasm", "js"] as const) {
      for (const cap of [527, 528]) {
        const init = new Uint8Array(cap).fill(0xff);
        const g = guardedStore(impl, "v1", cap, init);
        expect(g.store.tryHas(5)).toBe(cap === 528 ? 1 : Errno.EBADMSG);
        expect(g.store.tryDelete(63)).toBe(cap === 528 ? 0 : Errno.EBADMSG);
        g.checkGuards();
      }
    }
  });
});

describe("setMany: the same result as set() one by one, or nothing at all", () => {
  const entry = fc.record({
    key: fc.integer({ min: 0, max: 63 }),
    size: fc.integer({ min: 0, max: 2 }),
    seed: fc.integer({ min: 0, max: 0xffff }),
  });
  it("on random stores, both impls", () => {
    fc.assert(
      fc.property(
        profile,
        fc.integer({ min: 16, max: 120 }),
        fc.array(entry, { maxLength: 12 }),
        fc.array(entry, { minLength: 1, maxLength: 5 }),
        (profile, cap, fill, batch) => {
          const sizeOf = (e: { size: number }) => SIZES[profile][e.size]!;
          const reference = guardedStore("js", profile, cap);
          reference.store.clear();
          for (const e of fill) reference.store.trySet(e.key, e.seed, 0, sizeOf(e));
          const before = hex(reference.store.bytes());
          let expected = 0;
          for (const e of batch) {
            expected = reference.store.trySet(e.key, sizeOf(e) === 0 ? 0 : e.seed, 0, sizeOf(e));
            if (expected < 0) break;
          }
          for (const impl of ["wasm", "js"] as const) {
            const g = guardedStore(impl, profile, cap);
            g.store.bytes().set(new Uint8Array(Buffer.from(before, "hex")));
            let rc = 0;
            try {
              g.store.setMany(batch.map((e) => [e.key, sizeOf(e) === 0 ? 0 : e.seed, sizeOf(e)] as const));
            } catch (error) {
              rc = (error as { errno: number }).errno;
            }
            expect(rc, impl).toBe(expected);
            expect(hex(g.store.bytes()), impl).toBe(expected === 0 ? hex(reference.store.bytes()) : before);
            g.checkGuards();
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
