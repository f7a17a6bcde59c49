// The public API: value types, both error styles, and every kind of bad argument (a clear error, nothing changed).
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { Errno, KeyRegistry, TraitStore, createStore, defaultMemory, errnoName, useMemory } from "packet-traits";
import { IMPLS, expectError, guardedStore, hex } from "../helpers.js";

/** A store with keys 3 (2 B), 10 (4 B), 40 (8 B), between guards. */
function filled(impl: "wasm" | "js") {
  const g = guardedStore(impl, "v1", 64);
  g.store.clear();
  g.store.set(3, 0x1234, 2).set(10, 0xdeadbeef, 4).set(40, 0x0102030405060708n);
  return g;
}

describe.each(IMPLS)("%s store API", (impl) => {
  it("reads values as number, bigint, pair and bytes", () => {
    const { store } = filled(impl);
    expect(store.impl).toBe(impl);
    expect(store.size).toBe(16 + 2 + 4 + 8);
    expect(store.get(3)).toBe(0x1234);
    expect(store.get(10)).toBe(0xdeadbeef);
    expect(store.get(40)).toBe(0x0102030405060708n);
    expect(store.get(41)).toBeUndefined();
    expect(store.getBigInt(10)).toBe(0xdeadbeefn);
    expect(store.getNumber(10)).toBe(0xdeadbeef);
    expectError(
      () => store.getNumber(40),
      "ERANGE",
      /key 40 holds 72623859790382856, above 2\^53-1; use getBigInt\(\)/,
    );
    expect(hex(store.getBytes(40)!)).toBe("0807060504030201");
    const out = new Uint32Array(2);
    expect(store.tryGet(40, out)).toBe(8);
    expect([...out]).toEqual([0x05060708, 0x01020304]);
    expect(store.tryGet(41, out)).toBe(Errno.ENOENT);
    expect(store.keys()).toEqual([3, 10, 40]);
    expect(store.entries()).toEqual([
      [3, 0x1234],
      [10, 0xdeadbeef],
      [40, 0x0102030405060708n],
    ]);
    expect(store.has(10n)).toBe(true);
    expect(store.delete(10)).toBe(true);
    expect(store.delete(10)).toBe(false);
    expect(store.keys()).toEqual([3, 40]);
  });

  it("writes 8-byte values from a bigint, a safe number, u32 halves or bytes, all little-endian", () => {
    const { store } = filled(impl);
    store.setPair(40, 0xffffffff, 0xfffffffe);
    expect(store.get(40)).toBe(0xfffffffeffffffffn);
    expectError(() => store.getNumber(40), "ERANGE", /above 2\^53-1/);
    store.set(40, Number.MAX_SAFE_INTEGER, 8);
    expect(store.getNumber(40)).toBe(Number.MAX_SAFE_INTEGER);
    store.set(40, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(store.get(40)).toBe(0x0807060504030201n);
    expect(store.trySet(40, 7, 9, 8)).toBe(0);
    expect(store.get(40)).toBe(0x900000007n);
  });

  it("flags profile: a flag has no value and reads as 0; v1 has no flags", () => {
    const g = guardedStore(impl, "flags", 32);
    g.store.clear();
    g.store.setFlag(7).set(8, 5, 4);
    expect(g.store.get(7)).toBe(0);
    expect(g.store.has(7)).toBe(true);
    expect(g.store.size).toBe(20);
    expect(g.store.getBytes(7)!.length).toBe(0);
    expectError(() => g.store.set(9, 1, 2), "EINVAL", /length 2 is not a size of profile flags \(0, 4, 8\)/);
    expectError(() => filled(impl).store.setFlag(1), "EINVAL", /length 0 is not a size of profile v1/);
  });

  it("explains EBUSY, ENOSPC and EBADMSG with the key, the sizes and the capacity", () => {
    const { store } = filled(impl);
    expectError(() => store.set(3, 1, 4), "EBUSY", /set key 3: it holds a 2-byte value, not 4/);
    expect(store.trySet(3, 1, 0, 4)).toBe(Errno.EBUSY);
    store.set(50, 1n).set(51, 1n).set(52, 1n).set(53, 1n);
    expectError(() => store.set(54, 1n), "ENOSPC", /no room for 8 more bytes \(62 of 64 in use\)/);
    store.bytes().fill(0xff, 0, 16);
    expectError(() => store.get(3), "EBADMSG", /declares 528 bytes but the capacity is 64/);
    expectError(() => store.size, "EBADMSG");
    expectError(() => store.keys(), "EBADMSG");
    expectError(() => store.validate(), "EBADMSG");
    expect(store.trySize()).toBe(Errno.EBADMSG);
    expect(errnoName(store.tryHas(3))).toBe("EBADMSG");
  });

  const badKeys: Array<[unknown, RegExp]> = [
    [-1, /key -1 is not an integer/],
    [1.5, /key 1.5 is not an integer/],
    [NaN, /key NaN/],
    [Infinity, /key Infinity/],
    [-Infinity, /key -Infinity/],
    [64, /outside the key-value space 0..63/],
    [2 ** 53, /above 2\^53-1.*bigint/],
    [2n ** 64n, /not in 0..2\^64-1/],
    [-1n, /not in 0..2\^64-1/],
    [64n, /outside the key-value space/],
    ["3", /must be a number or a bigint, not "3"/],
    [null, /not null/],
    [undefined, /not undefined/],
    [{}, /not Object/],
  ];
  const badValues: Array<[unknown, number | undefined, RegExp]> = [
    [70000, 2, /value 70000 does not fit in 2 bytes \(an integer in 0..65535\)/],
    [-1, 4, /does not fit/],
    [1.5, 4, /does not fit/],
    [NaN, 4, /does not fit/],
    [Infinity, 8, /does not fit/],
    [2 ** 53, 8, /pass values above 2\^53-1 as a bigint/],
    [2n ** 64n, 8, /does not fit in 8 bytes/],
    [-1n, 8, /does not fit/],
    [0x10000, 2, /value 65536 does not fit in 2 bytes/],
    [2 ** 32, 4, /value 4294967296 does not fit in 4 bytes/],
    [0x10000n, 2, /does not fit/],
    [0x100000000n, 4, /does not fit in 4 bytes/],
    [new Uint8Array(3), 4, /value has 3 bytes but the length is 4/],
    [new Uint16Array(2), 4, /not Uint16Array/],
    ["1", 2, /not "1"/],
    [5, undefined, /a number value needs its length/],
    [5, 3, /length 3 is not a size of profile v1/],
    [5, 16, /length 16/],
    [5, -2, /length -2/],
    [5, 2.5, /length 2.5/],
    [new Uint8Array(16), undefined, /length 16/],
  ];

  it("refuses every bad key in every method with EINVAL, changing nothing", () => {
    const g = filled(impl);
    const before = hex(g.all());
    for (const [key, message] of badKeys) {
      const k = key as number;
      for (const call of [
        () => g.store.get(k),
        () => g.store.has(k),
        () => g.store.delete(k),
        () => g.store.set(k, 1, 2),
        () => g.store.getBigInt(k),
        () => g.store.getNumber(k),
        () => g.store.getBytes(k),
        () => g.store.setPair(k, 1, 2),
        () => g.store.setFlag(k),
      ]) {
        expectError(call, "EINVAL", message);
      }
      const out = new Uint32Array(2);
      expect([
        g.store.tryGet(k, out),
        g.store.tryHas(k),
        g.store.tryDelete(k),
        g.store.trySet(k, 1, 0, 2),
        g.store.tryGetBytes(k, new Uint8Array(8)),
      ]).toEqual([Errno.EINVAL, Errno.EINVAL, Errno.EINVAL, Errno.EINVAL, Errno.EINVAL]);
    }
    expect(hex(g.all())).toBe(before);
  });

  it("refuses every bad value and length with EINVAL, changing nothing", () => {
    const g = filled(impl);
    const before = hex(g.all());
    for (const [value, len, message] of badValues) {
      expectError(() => g.store.set(20, value as number, len), "EINVAL", message);
      expectError(() => g.store.set(3, value as number, len), "EINVAL");
    }
    for (const [lo, hi] of [
      [-1, 0],
      [2 ** 32, 0],
      [0, -1],
      [0.5, 0],
      [NaN, 0],
      [0, 2 ** 32],
    ]) {
      expectError(() => g.store.setPair(20, lo!, hi!), "EINVAL", /not both u32 integers/);
      expect(g.store.trySet(20, lo!, hi!, 8)).toBe(Errno.EINVAL);
    }
    for (const [len, lo, hi] of [
      [2, 0x10000, 0],
      [4, 1, 1],
      [0, 1, 0],
      [3, 1, 0],
      [16, 0, 0],
      [NaN, 0, 0],
    ]) {
      expect(g.store.trySet(20, lo!, hi!, len!)).toBe(Errno.EINVAL);
    }
    expect(g.store.tryGet(3, new Uint32Array(1))).toBe(Errno.EINVAL);
    expect(g.store.tryGet(3, new Int32Array(2) as unknown as Uint32Array)).toBe(Errno.EINVAL);
    expect(g.store.tryGetBytes(3, [0, 0] as unknown as Uint8Array)).toBe(Errno.EINVAL);
    expect(g.store.tryGetBytes(40, new Uint8Array(7))).toBe(Errno.ENOSPC);
    expect(hex(g.all())).toBe(before);
  });
});

describe("creating and placing stores", () => {
  it("createStore: empty store of either impl; PACKET_TRAITS_IMPL sets the default", () => {
    for (const impl of IMPLS) {
      const store = createStore(32, { impl, profile: "flags" });
      expect([store.impl, store.profile, store.size, store.capacity]).toEqual([impl, "flags", 16, 32]);
    }
    expect(createStore(32).impl).toBe(process.env.PACKET_TRAITS_IMPL ?? "wasm");
  });

  it("refuses bad capacities, starts, profiles and impls", () => {
    expectError(() => createStore(15), "ENOMEM", /capacity 15 is below the 16-byte header/);
    for (const cap of [-1, 1.5, NaN, "64", 2 ** 32])
      expectError(() => createStore(cap as number), "EINVAL", /store capacity must be an integer/);
    expectError(
      () => createStore(64, { profile: "v2" as "v1" }),
      "EINVAL",
      /profile must be "v1" or "flags", not "v2"/,
    );
    expectError(() => createStore(64, { impl: "asm" as "js" }), "EINVAL", /impl must be "wasm" or "js", not "asm"/);
    const buffer = new ArrayBuffer(128);
    expectError(() => TraitStore.over(new Uint8Array(buffer, 4, 32)), "EINVAL", /store start 4 is not 8-byte aligned/);
    expectError(() => TraitStore.over(new Uint8Array(buffer, 8, 8)), "ENOMEM");
    expectError(
      () => TraitStore.over(new Uint8Array(buffer), { impl: "wasm" }),
      "EINVAL",
      /needs the store in WebAssembly memory/,
    );
    expectError(
      () => TraitStore.over(buffer as unknown as Uint8Array),
      "EINVAL",
      /bytes must be a Uint8Array, not ArrayBuffer/,
    );
    const memory = new WebAssembly.Memory({ initial: 1 });
    expectError(() => TraitStore.at(memory, 12, 32), "EINVAL", /not 8-byte aligned/);
    expectError(() => TraitStore.at(memory, 65536 - 8, 32), "EINVAL", /store capacity must be an integer in 0..8/);
    expectError(() => TraitStore.at(memory, -8, 32), "EINVAL", /store start must be an integer/);
    expectError(() => TraitStore.at({} as WebAssembly.Memory, 0, 32), "EINVAL", /memory must be a WebAssembly.Memory/);
  });

  it("a store in a shared WebAssembly memory runs on the shared build; over a SharedArrayBuffer, on the JS core", () => {
    const shared = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
    if (process.env.PACKET_TRAITS_IMPL !== "js") useMemory(shared);
    const store = TraitStore.at(shared, 0, 64);
    store.clear();
    store.set(1, 7, 4);
    expect([store.impl, store.get(1)]).toEqual([process.env.PACKET_TRAITS_IMPL ?? "wasm", 7]);
    const sab = TraitStore.over(new Uint8Array(new SharedArrayBuffer(64)), { impl: "js" });
    sab.clear();
    expect(sab.set(2, 9, 2).get(2)).toBe(9);
  });

  it("a store whose buffer was detached (transferred) gives a clear error and touches nothing", () => {
    const bytes = new Uint8Array(64);
    const store = TraitStore.over(bytes, { impl: "js" });
    store.clear();
    store.set(1, 5, 2);
    structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
    expectError(
      () => store.get(1),
      "ENOMEM",
      /buffer was detached \(transferred\) or shrank: it has 0 bytes, the store ends at 64/,
    );
    expectError(() => store.set(2, 1, 2), "ENOMEM", /detached/);
    expect([
      store.tryGet(1, new Uint32Array(2)),
      store.trySet(2, 1, 0, 2),
      store.tryHas(1),
      store.tryDelete(1),
      store.trySize(),
    ]).toEqual([Errno.ENOMEM, Errno.ENOMEM, Errno.ENOMEM, Errno.ENOMEM, Errno.ENOMEM]);
    expectError(() => TraitStore.over(bytes), "ENOMEM", /capacity 0 is below/);
  });

  it("stores in WASM memory keep working after the memory grows", () => {
    for (const impl of IMPLS) {
      const memory = new WebAssembly.Memory({ initial: 1 });
      if (impl === "wasm") useMemory(memory, { scratch: 8192 });
      const store = TraitStore.at(memory, 1024, 64, { impl });
      store.clear();
      store.set(5, 0xabcd, 2);
      expect(store.get(5)).toBe(0xabcd);
      memory.grow(3);
      expect(store.get(5)).toBe(0xabcd);
      store.set(6, 1n);
      expect(store.keys()).toEqual([5, 6]);
      const far = TraitStore.at(memory, 4 * 65536 - 64, 64, { impl });
      far.clear();
      expect(far.set(63, 2n).get(63)).toBe(2n);
    }
  });

  it("a view over bytes in the library's memory runs on WASM", () => {
    const store = createStore(64, { impl: "wasm" });
    const again = TraitStore.over(new Uint8Array(defaultMemory().buffer, store.start, 64));
    store.set(9, 99, 4);
    expect([again.impl, again.get(9)]).toEqual([process.env.PACKET_TRAITS_IMPL ?? "wasm", 99]);
  });
});

describe("packaging", () => {
  it("works through require() as well as import", () => {
    const out = execFileSync(
      process.execPath,
      [
        "-e",
        'const t = require("packet-traits"); const s = t.createStore(32); s.set(1, 5, 2); console.log(s.impl, s.get(1))',
      ],
      { encoding: "utf8" },
    );
    expect(out.trim()).toBe(`${process.env.PACKET_TRAITS_IMPL ?? "wasm"} 5`);
  });
});

describe("issue 14: argument order and string keys", () => {
  it.each(IMPLS)("trySet(key, lo, hi, len) on %s: the value before its length, as set() and setPair()", (impl) => {
    const store = createStore(64, { impl });
    expect(store.trySet(11, 7, 0, 4)).toBe(0);
    expect(store.trySet(12, 0x55667788, 0x11223344, 8)).toBe(0);
    expect([store.get(11), store.get(12), store.getBytes(11)?.length]).toEqual([7, 0x1122334455667788n, 4]);
    expect(store.trySet(13, 1, 1, 4)).toBe(Errno.EINVAL); // a high half in a 4-byte value
  });

  it.each(IMPLS)("names registered in a store's registry are keys on %s; elsewhere they are EINVAL", (impl) => {
    const registry = new KeyRegistry();
    registry.register("packet_id", 8, { key: 5 });
    const store = createStore(64, { impl, registry });
    store.set("packet_id", 42n);
    expect([store.get("packet_id"), store.get(5), store.has("packet_id"), store.tryHas("packet_id")]).toEqual([
      42n,
      42n,
      true,
      1,
    ]);
    expect(store.trySet("packet_id", 1, 0, 8)).toBe(0);
    expect(store.getBigInt("packet_id")).toBe(1n);
    expect([store.tryHas("nope"), store.trySet("nope", 1, 0, 4)]).toEqual([Errno.EINVAL, Errno.EINVAL]);
    expectError(() => store.get("nope"), "EINVAL", /"nope" is not registered/);
    expectError(
      () => createStore(64, { impl }).get("packet_id"),
      "EINVAL",
      /not "packet_id" \(names are keys only in a store with a registry\)/,
    );
    expect(store.delete("packet_id")).toBe(true);
  });
});
