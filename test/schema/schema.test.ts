// The typed schema against the raw API: the same keys, lengths, values and errors, for one store and
// for bursts, on both implementations.
import { describe, expect, it } from "vitest";
import { KeyRegistry, PacketPool, SharedKeyRegistry, createStore, defineTraits, type TraitStore } from "packet-traits";
import { IMPLS, expectError } from "../helpers.js";

const DECL = { packet_id: "u64", flow_hash: "u32", vlan: "u16" } as const;

describe.each(IMPLS)("defineTraits on %s", (impl) => {
  it("compiles names to the registry's keys (registering new names) and the types' lengths", () => {
    const registry = new KeyRegistry();
    registry.register("vlan", 2, { key: 7 });
    const T = defineTraits(DECL, { registry });
    expect([T.packet_id.key, T.packet_id.len, T.flow_hash.key, T.flow_hash.len, T.vlan.key, T.vlan.len]).toEqual([
      0, 8, 1, 4, 7, 2,
    ]);
    expect(registry.lookup("flow_hash")).toMatchObject({ key: 1, size: 4 });
    expect(defineTraits(DECL, { registry }).packet_id.key).toBe(0); // the same keys again
  });

  it("one store: typed accessors read and write exactly what the raw calls do", () => {
    const registry = new KeyRegistry(),
      T = defineTraits(DECL, { registry });
    const typed = createStore(64, { impl, registry }),
      raw = createStore(64, { impl, registry });
    T.set(typed, { packet_id: 5n, vlan: 10 });
    T.flow_hash.set(typed, 0xdeadbeef);
    raw
      .setMany([
        [0, 5n, 8],
        [2, 10, 2],
      ])
      .set(1, 0xdeadbeef, 4);
    expect(typed.toBytes()).toEqual(raw.toBytes());
    expect([T.packet_id.get(typed), T.flow_hash.get(typed), T.vlan.get(typed)]).toEqual([5n, 0xdeadbeef, 10]);
    expect(T.get(typed)).toEqual({ packet_id: 5n, flow_hash: 0xdeadbeef, vlan: 10 });
    expect([T.vlan.has(typed), T.vlan.delete(typed), T.vlan.get(typed), T.vlan.delete(typed)]).toEqual([
      true,
      true,
      undefined,
      false,
    ]);
    T.packet_id.set(typed, 7); // a number for a u64
    expect(T.packet_id.get(typed)).toBe(7n);
  });

  it("errors are the raw API's: a value that does not fit, no room, all or nothing", () => {
    const T = defineTraits({ a: { type: "u16", key: 1 }, b: { type: "u64", key: 2 } });
    const store = createStore(24, { impl });
    expectError(() => T.a.set(store, 0x10000), "EINVAL", /does not fit in 2 bytes/);
    T.a.set(store, 1);
    expectError(() => T.set(store, { a: 2, b: 3n }), "ENOSPC");
    expect(T.get(store)).toEqual({ a: 1 });
  });

  it("flags (profile flags): true sets, false deletes, get reads a boolean", () => {
    const T = defineTraits({ seen: { type: "flag", key: 9 }, n: { type: "u32", key: 3 } }, { profile: "flags" });
    const store: TraitStore = createStore(32, { impl, profile: "flags" });
    T.set(store, { seen: true, n: 4 });
    expect([T.seen.get(store), T.get(store)]).toEqual([true, { seen: true, n: 4 }]);
    T.seen.set(store, false);
    expect([T.seen.get(store), store.has(9)]).toEqual([false, false]);
    const pool = new PacketPool({ count: 8, impl, profile: "flags" }),
      rx = pool.burst(8).selectRange(0, 8);
    expect([
      T.fields("seen", "n").batchSet(pool, rx, { values: { seen: true, n: 1 } }),
      T.seen.batchHas(pool, rx),
    ]).toEqual([8, 8]);
    expect([
      T.seen.batchSet(pool, rx, false),
      T.seen.batchHas(pool, rx),
      T.seen.batchSet(pool, rx, true),
      T.seen.batchHas(pool, rx),
    ]).toEqual([8, 0, 8, 8]);
    expectError(
      () => T.fields("seen").batchSet(pool, rx, { values: { seen: false } }),
      "EINVAL",
      /clear it with batchDelete/,
    );
  });

  it("bursts: each typed batch call equals the raw call, frame by frame", () => {
    const registry = new KeyRegistry(),
      T = defineTraits(DECL, { registry });
    const pools = [new PacketPool({ count: 64, impl, registry }), new PacketPool({ count: 64, impl, registry })];
    const [typed, raw] = pools.map((pool) => ({ pool, rx: pool.burst(64, { slots: 2 }).selectRange(0, 64) }));
    const set = T.fields("packet_id", "vlan");
    expect(set.fields).toEqual([
      { key: 0, len: 8 },
      { key: 2, len: 2 },
    ]);
    expect([
      set.slotOf("vlan"),
      set.batchSet(typed!.pool, typed!.rx, { values: { packet_id: 1n << 40n, vlan: 3 }, replace: true }),
    ]).toEqual([1, 64]);
    expect(
      raw!.pool.batchSetMany(
        raw!.rx,
        [
          { key: 0, len: 8 },
          { key: 2, len: 2 },
        ],
        { values: [1n << 40n, 3], replace: true },
      ),
    ).toBe(64);
    for (const { rx } of [typed!, raw!]) rx.values().forEach((_, i, v) => (v[i] = i % 4 === 0 ? 9 : 0)); // each frame's slot 0: 9
    expect([T.flow_hash.batchSet(typed!.pool, typed!.rx), raw!.pool.batchSet(raw!.rx, 1, 4)]).toEqual([64, 64]);
    expect([T.vlan.batchGet(typed!.pool, typed!.rx), raw!.pool.batchGet(raw!.rx, 2)]).toEqual([64, 64]);
    expect([T.vlan.slot(typed!.rx, 63), typed!.rx.status()]).toEqual([3, raw!.rx.status()]);
    expect([T.packet_id.batchGet(typed!.pool, typed!.rx), T.packet_id.slot(typed!.rx, 5)]).toEqual([64, 1n << 40n]);
    expect([T.vlan.batchDelete(typed!.pool, typed!.rx), T.vlan.batchHas(typed!.pool, typed!.rx)]).toEqual([64, 0]);
    raw!.pool.batchDelete(raw!.rx, 2);
    for (let f = 0; f < 64; f++) expect(typed!.pool.traits(f).toBytes()).toEqual(raw!.pool.traits(f).toBytes());
  });
});

describe("defineTraits: declarations", () => {
  it("refuses what it cannot compile, saying what", () => {
    expectError(() => defineTraits({ a: "u16" }), "EINVAL", /without a registry, declare its key/);
    expectError(() => defineTraits({ a: "u24" as "u16" }, { registry: new KeyRegistry() }), "EINVAL", /type must be/);
    expectError(
      () => defineTraits({ a: "flag" }, { registry: new KeyRegistry() }),
      "EINVAL",
      /not a size of profile v1/,
    );
    expectError(() => defineTraits({ a: { type: "u32", key: 64 } }), "EINVAL", /0\.\.63/);
    expectError(
      () => defineTraits({ a: { type: "u32", key: 1 }, b: { type: "u16", key: 1 } }),
      "EINVAL",
      /declared twice/,
    );
    expectError(() => defineTraits({ set: { type: "u32", key: 1 } }), "EINVAL", /schema method/);
    expectError(
      () => defineTraits({ a: "u64" }, { registry: {} as KeyRegistry }),
      "EINVAL",
      /KeyRegistry or a SharedKeyRegistry/,
    );
    const registry = new KeyRegistry();
    registry.register("a", 4);
    expectError(() => defineTraits({ a: "u64" }, { registry }), "EEXIST");
    expectError(
      () => defineTraits({ a: "u32" }, { registry }).fields("b" as "a"),
      "EINVAL",
      /not a trait of this schema/,
    );
  });

  it("a trait named constructor is that trait, never Object.prototype.constructor (issue 22 item 7)", () => {
    for (const registry of [new KeyRegistry(), SharedKeyRegistry.create()]) {
      // Before: set of another trait also set "constructor" (to Object), get returned Object, and a u32
      // constructor threw "not a function".
      const T = defineTraits({ constructor: "u32", id: "u64" }, { registry });
      const store = createStore(64, { registry });
      // (TypeScript gives every object literal Object's constructor: TS code needs this cast too.)
      T.set(store, { id: 5n } as { id: bigint; constructor?: number });
      expect(store.keys()).toEqual([T.id.key]);
      expect([T.constructor.get(store), T.get(store)]).toEqual([undefined, { id: 5n }]);
      T.constructor.set(store, 7);
      expect(T.get(store)).toEqual({ constructor: 7, id: 5n });
      expect(Object.getPrototypeOf(T)).toBe(null);
      const pool = new PacketPool({ count: 2, registry }),
        rx = pool.burst(2, { slots: 2 }).selectRange(0, 2);
      expect(T.fields("id", "constructor").batchSet(pool, rx, { values: { id: 1n, constructor: 9 } })).toBe(2);
      expect(T.fields("id").batchSet(pool, rx, { values: { id: 2n } })).toBe(2);
      expect([T.constructor.batchGet(pool, rx), T.constructor.slot(rx, 1)]).toEqual([2, 9]);
      expect(pool.traits(0).keys()).toEqual([T.constructor.key, T.id.key].sort((a, b) => a - b));
    }
    // A type that is a name of Object.prototype is no type.
    expectError(() => defineTraits({ a: { type: "constructor" as "u16", key: 1 } }), "EINVAL", /type must be/);
    expectError(
      () => defineTraits({ a: "toString" as "u16" }, { registry: new KeyRegistry() }),
      "EINVAL",
      /type must be/,
    );
    // Names are registry names, with or without a registry: __proto__, toString, hasOwnProperty are not.
    for (const name of ["__proto__", "toString", "hasOwnProperty"])
      expectError(
        () => defineTraits(JSON.parse(`{ "${name}": { "type": "u32", "key": 1 } }`)),
        "EINVAL",
        /^EINVAL: trait name ".*" must be 1 to 63 characters of \[a-z0-9_.-\], starting with a letter$/,
      );
  });

  it("slot() outside the selection or the slots is a TraitsError, not a TypeError", () => {
    const T = defineTraits({ id: { type: "u64", key: 1 }, seen: { type: "u32", key: 2 } }),
      pool = new PacketPool({ count: 4 }),
      rx = pool.burst(4, { slots: 2 }).selectRange(0, 3);
    T.id.batchSet(pool, rx, 5n);
    T.id.batchGet(pool, rx);
    expect(T.id.slot(rx, 2)).toBe(5n);
    expectError(
      () => T.id.slot(rx, 999),
      "EINVAL",
      /^EINVAL: id.slot\(\): frame i of a burst of 3 must be an integer in 0..2, not 999$/,
    );
    expectError(() => T.id.slot(rx, 3), "EINVAL", /frame i of a burst of 3/);
    expectError(() => T.seen.slot(rx, -1), "EINVAL", /frame i/);
    expectError(
      () => T.seen.slot(rx, 0, 2),
      "EINVAL",
      /^EINVAL: seen.slot\(\): slot of a burst of 2 slots must be an integer in 0..1, not 2$/,
    );
  });

  it("a declaration that fails registers no name: all or nothing", () => {
    for (const registry of [new KeyRegistry(), SharedKeyRegistry.create()]) {
      registry.register("taken", 4, { key: 9 });
      // Before: a and b stayed registered after the error on c.
      expectError(() => defineTraits({ a: "u32", b: "u64", c: { type: "u16", key: 9 } }, { registry }), "EBUSY");
      expectError(() => defineTraits({ a: "u32", taken: "u64" }, { registry }), "EEXIST");
      expectError(() => defineTraits({ a: "u32", b: "x" as "u16" }, { registry }), "EINVAL", /type must be/);
      expect(registry.entries().map((e) => e.name)).toEqual(["taken"]);
      for (let i = 0; i < 62; i++) registry.register(`n${i}`, 2);
      expectError(() => defineTraits({ a: "u32", b: "u32" }, { registry }), "ENOSPC"); // one key was free
      expect(registry.lookup("a")).toBeUndefined();
      expect(defineTraits({ a: "u32" }, { registry }).a.key).toBe(63);
    }
  });

  it("a SharedKeyRegistry works as well", () => {
    const registry = SharedKeyRegistry.create(),
      T = defineTraits({ x: "u32" }, { registry });
    expect([T.x.key, registry.lookup("x")?.size]).toEqual([0, 4]);
  });
});
