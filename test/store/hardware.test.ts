// Well-known hardware keys: the same results under placements "struct" and "keys", "off" refusing
// writes, batch operations, and redirects between pools of different placements.
import { describe, expect, it } from "vitest";
import {
  Errno,
  HardwareKey,
  PacketPool,
  TraitsError,
  createStore,
  type HardwarePlacement,
  type Impl,
} from "packet-traits";
import { IMPLS, hex } from "../helpers.js";

const { RX_HASH, RSS_HASH_TYPE, VLAN_TCI, VLAN_PROTO, RX_TIMESTAMP } = HardwareKey;
const pool = (impl: Impl, hardwareKeys: HardwarePlacement, profile: "v1" | "flags" = "v1") =>
  new PacketPool({ count: 4, impl, hardwareKeys, profile });

/** Everything a user can observe of the hardware keys of frame 1 after a fixed sequence of operations. */
function observe(p: PacketPool): unknown[] {
  const t = p.traits(1),
    out = new Uint32Array(2);
  t.set(RX_HASH, 0xdeadbeef, 4).set(RSS_HASH_TYPE, 0x22, 4).set(VLAN_TCI, 0x0064, 2).set(VLAN_PROTO, 0x8100, 2);
  t.setPair(RX_TIMESTAMP, 0x89abcdef, 0x01234567);
  t.set(3, 7, 4); // an application key beside them
  const seen: unknown[] = [
    t.get(RX_HASH),
    t.get(BigInt(RSS_HASH_TYPE)),
    t.get(VLAN_TCI),
    t.get(VLAN_PROTO),
    t.get(RX_TIMESTAMP),
    t.getNumber(VLAN_PROTO),
  ];
  seen.push(hex(t.getBytes(VLAN_PROTO)!), hex(t.getBytes(RX_HASH)!), t.tryGet(RX_TIMESTAMP, out), [...out], t.get(3));
  seen.push(
    t.delete(RSS_HASH_TYPE),
    t.delete(RSS_HASH_TYPE),
    t.has(RSS_HASH_TYPE),
    t.get(RSS_HASH_TYPE),
    t.tryGet(RSS_HASH_TYPE, out),
  );
  t.set(VLAN_PROTO, new Uint8Array([0x88, 0xa8]));
  seen.push(
    t.get(VLAN_PROTO),
    t.trySet(VLAN_TCI, 1, 0, 4),
    t.trySet(VLAN_TCI, 0x10000, 0, 2),
    t.tryGetBytes(RX_TIMESTAMP, new Uint8Array(4)),
  );
  return seen;
}

describe.each(IMPLS)("%s hardware keys", (impl) => {
  it("read and write the same under placements struct and keys, in both profiles", () => {
    const expected = [
      0xdeadbeef,
      0x22,
      0x64,
      0x8100,
      0x0123456789abcdefn,
      0x8100,
      "8100",
      "efbeadde",
      8,
      [0x89abcdef, 0x01234567],
      7,
      true,
      false,
      false,
      undefined,
      Errno.ENOENT,
      0x88a8,
      Errno.EINVAL,
      Errno.EINVAL,
      Errno.ENOSPC,
    ];
    for (const profile of ["v1", "flags"] as const) {
      expect(observe(pool(impl, "struct", profile)), `struct ${profile}`).toEqual(expected);
      expect(observe(pool(impl, "keys", profile)), `keys ${profile}`).toEqual(expected);
    }
  });

  it("placement keys keeps them in application keys 59..63; struct keeps them out of the store", () => {
    const keys = pool(impl, "keys"),
      struct = pool(impl, "struct");
    for (const p of [keys, struct]) p.traits(0).set(RX_HASH, 1, 4).set(RX_TIMESTAMP, 2n);
    expect(keys.traits(0).keys()).toEqual([59, 63]);
    expect(struct.traits(0).keys()).toEqual([]);
    expect(struct.traits(0).size).toBe(16);
  });

  it("placement off: hardware keys read as absent and refuse writes", () => {
    const t = pool(impl, "off").traits(0);
    expect([
      t.get(RX_HASH),
      t.has(RX_HASH),
      t.delete(RX_HASH),
      t.tryGet(RX_HASH, new Uint32Array(2)),
      t.trySet(RX_HASH, 1, 0, 4),
    ]).toEqual([undefined, false, false, Errno.ENOENT, Errno.EOPNOTSUPP]);
    expect(() => t.set(RX_HASH, 1, 4)).toThrow(/EOPNOTSUPP: set key 65536: hardware keys are off in this store/);
    const standalone = createStore(32, { impl });
    expect(standalone.hardwareKeys).toBe("off");
    expect(createStore(64, { impl, hardwareKeys: "keys" }).set(VLAN_TCI, 5, 2).get(VLAN_TCI)).toBe(5);
    expect(() => createStore(64, { impl, hardwareKeys: "struct" as "keys" })).toThrow(
      /needs a pool frame's hints area/,
    );
  });

  it("refuse lengths other than the field's, naming it", () => {
    const t = pool(impl, "struct").traits(0);
    expect(() => t.set(VLAN_TCI, 1, 4)).toThrow(/EINVAL: hardware key vlan_tci holds 2 bytes, not 4/);
    expect(() => t.setPair(RX_HASH, 1, 0)).toThrow(/rx_hash holds 4 bytes, not 8/);
    expect(() => t.set(RX_HASH + 5, 1, 4)).toThrow(/outside the key-value space/);
  });

  it("batch get, set, has and delete accept them, with the same statuses under every placement", () => {
    const results = (["struct", "keys", "off"] as const).map((placement) => {
      const p = pool(impl, placement),
        burst = p.burst(4).selectFrames([0, 2, 9]);
      const set = [p.batchSet(burst, RX_HASH, 4, 5), [...burst.status()]];
      burst.values().set([1, 0, 0, 0, 2, 0, 0, 0]); // slot 0 of frames 0 and 2 (2 slots a frame); an error leaves a slot as it is
      const each = [p.batchSet(burst, VLAN_TCI, 2), [...burst.status()]];
      const got = [p.batchGet(burst, VLAN_TCI), [...burst.status()], burst.values()[4]];
      const has = [p.batchHas(burst, RX_HASH), [...burst.status()]];
      const del = [p.batchDelete(burst, RX_HASH), [...burst.status()], p.batchHas(burst, RX_HASH)];
      expect(() => p.batchSetMany(burst, [{ key: RX_HASH, len: 4 }])).toThrow(/hardware keys are fixed fields/);
      return [set, each, got, has, del];
    });
    expect(results[0]).toEqual(results[1]);
    expect(results[0]).toEqual([
      [2, [0, 0, Errno.EINVAL]],
      [2, [0, 0, Errno.EINVAL]],
      [2, [2, 2, Errno.EINVAL], 2],
      [2, [1, 1, Errno.EINVAL]],
      [2, [0, 0, Errno.EINVAL], 0],
    ]);
    expect(results[2]).toEqual([
      [0, [Errno.EOPNOTSUPP, Errno.EOPNOTSUPP, Errno.EINVAL]],
      [0, [Errno.EOPNOTSUPP, Errno.EOPNOTSUPP, Errno.EINVAL]],
      [0, [Errno.ENOENT, Errno.ENOENT, Errno.EINVAL], 2],
      [0, [0, 0, Errno.EINVAL]],
      [0, [Errno.ENOENT, Errno.ENOENT, Errno.EINVAL], 0],
    ]);
  });

  it("redirects carry hardware keys between pools of any placements; reset clears them", () => {
    for (const [from, to] of [
      ["struct", "keys"],
      ["keys", "struct"],
      ["struct", "struct"],
    ] as const) {
      const a = pool(impl, from),
        b = pool(impl, to);
      a.write(0, new Uint8Array([1, 2]));
      a.traits(0).set(RX_HASH, 0x1234, 4).set(RX_TIMESTAMP, 99n).set(4, 1, 2);
      a.transfer(0, 3, b, { move: true });
      expect(
        [b.traits(3).get(RX_HASH), b.traits(3).get(RX_TIMESTAMP), b.traits(3).get(4), b.traits(3).has(VLAN_TCI)],
        `${from} -> ${to}`,
      ).toEqual([0x1234, 99n, 1, false]);
      expect([a.traits(0).has(RX_HASH), a.traits(0).has(4)]).toEqual([false, false]);
    }
    expect(() => new PacketPool({ count: 1, impl, hardwareKeys: "nic" as "off" })).toThrow(TraitsError);
  });
});

describe.each(IMPLS)("hardware keys across placements carry faithfully or fail changing nothing (%s)", (impl) => {
  const pools = (from: HardwarePlacement, to: HardwarePlacement, profile: "v1" | "flags" = "v1") => {
    const src = new PacketPool({ count: 2, impl, profile, hardwareKeys: from }),
      dst = new PacketPool({ count: 2, impl, profile, hardwareKeys: to });
    src.write(0, new Uint8Array(60).fill(7));
    return { src, dst };
  };
  const snapshot = (pool: PacketPool) => hex(pool.frameBytes(0));

  it("struct -> keys: a frame that uses application key 59 for itself is refused (EBUSY), nothing changes", () => {
    const { src, dst } = pools("struct", "keys");
    src.traits(0).set(59, 0x1234, 2).set(HardwareKey.RX_HASH, 0xcafe, 4);
    const before = [snapshot(src), snapshot(dst)];
    for (const copy of [() => src.transfer(0, 0, dst), () => src.copyTraits(0, 0, dst)]) {
      expect(copy).toThrow(
        expect.objectContaining({ code: "EBUSY", message: expect.stringMatching(/key 59 for its own value/) }),
      );
    }
    expect([snapshot(src), snapshot(dst)]).toEqual(before);
  });

  it.each(["v1", "flags"] as const)(
    "struct -> keys -> struct, profile %s: every hardware key arrives, none duplicated",
    (profile) => {
      const { src, dst } = pools("struct", "keys", profile);
      const values: Array<[number, number, number | bigint]> = [
        [HardwareKey.RX_HASH, 4, 0x9abcdef0],
        [HardwareKey.RSS_HASH_TYPE, 4, 2],
        [HardwareKey.VLAN_TCI, 2, 0x0123],
        [HardwareKey.VLAN_PROTO, 2, 0x88a8],
        [HardwareKey.RX_TIMESTAMP, 8, 1700000000123456789n],
      ];
      src.traits(0).set(3, 5, 4);
      for (const [key, len, value] of values) src.traits(0).set(key, value, len);
      src.transfer(0, 0, dst);
      for (const [key, , value] of values) expect(dst.traits(0).get(key)).toBe(value);
      expect(dst.traits(0).keys()).toEqual([3, 59, 60, 61, 62, 63]);
      const back = new PacketPool({ count: 1, impl, profile, hardwareKeys: "struct" });
      dst.transfer(0, 0, back);
      for (const [key, , value] of values) expect(back.traits(0).get(key)).toBe(value);
      expect(back.traits(0).keys()).toEqual([3]); // no hash left behind in key 59
    },
  );

  it("keys -> off with hardware keys present is refused (EOPNOTSUPP); without them it copies", () => {
    const { src, dst } = pools("keys", "off");
    src.traits(0).set(HardwareKey.RX_HASH, 1, 4);
    const before = snapshot(dst);
    expect(() => src.transfer(0, 0, dst)).toThrow(expect.objectContaining({ code: "EOPNOTSUPP" }));
    expect(snapshot(dst)).toBe(before);
    src.traits(0).delete(HardwareKey.RX_HASH);
    src.traits(0).set(4, 9, 2);
    src.transfer(0, 0, dst);
    expect(dst.traits(0).entries()).toEqual([[4, 9]]);
  });

  it("placement keys: an application key holding another length is not read as a hardware key (EBADMSG)", () => {
    const store = createStore(64, { impl, hardwareKeys: "keys" });
    store.set(61, 0x56789abc, 4); // VLAN_TCI's slot, written by an application with 4 bytes
    expect(() => store.get(HardwareKey.VLAN_TCI)).toThrow(
      expect.objectContaining({
        code: "EBADMSG",
        message: expect.stringMatching(/application key 61.*vlan_tci.*4-byte value, not 2 bytes/),
      }),
    );
    expect(store.tryGet(HardwareKey.VLAN_TCI, new Uint32Array(2))).toBe(Errno.EBADMSG);
    const flags = createStore(64, { impl, profile: "flags", hardwareKeys: "keys" });
    flags.set(62, 0x81000000n, 8); // VLAN_PROTO's slot with 8 bytes
    expect(flags.tryGet(HardwareKey.VLAN_PROTO, new Uint32Array(2))).toBe(Errno.EBADMSG);
    flags.delete(62);
    flags.set(HardwareKey.VLAN_PROTO, 0x8100, 2);
    expect(flags.get(HardwareKey.VLAN_PROTO)).toBe(0x8100);
  });
});
