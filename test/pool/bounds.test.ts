// Frame == count, the first index past the pool, is refused everywhere the pool takes a frame index
// (issue 22 item 21: a one-line bug accepting it passed the whole suite elsewhere): every frame method
// throws EINVAL naming the index and changes nothing; every batch call gives that entry EINVAL and
// touches no frame; a range that ends past the pool is refused; frame count - 1 still works.
import { describe, expect, it } from "vitest";
import { Errno, HardwareKey, PacketPool, TraitsError, type Burst, type PoolOptions } from "packet-traits";
import { WorkerGroup } from "packet-traits/workers";
import { IMPLS, expectError } from "../helpers.js";

const COUNT = 4;

/** Every frame's bytes, head, length and metadata length: what a refused call must leave as it was. */
function state(pool: PacketPool): unknown[] {
  const out: unknown[] = [];
  for (let f = 0; f < pool.count; f++)
    out.push(pool.frameBytes(f).slice(), pool.head(f), pool.length(f), pool.metaLengthOf(f));
  return out;
}

/** A pool whose frames all hold a packet and a few traits. */
function filled(
  impl: (typeof IMPLS)[number],
  placement: NonNullable<PoolOptions["placement"]>,
  hardwareKeys: "struct" | "keys",
): PacketPool {
  const pool = new PacketPool({ count: COUNT, impl, placement, hardwareKeys, frameSize: 2048, headroom: 256 });
  for (let f = 0; f < COUNT; f++) {
    pool.write(f, new Uint8Array(60).fill(0x40 + f));
    pool
      .traits(f)
      .set(1, f, 4)
      .set(HardwareKey.RX_HASH, 0x1000 + f, 4);
  }
  return pool;
}

describe.each(IMPLS)("frame == count is refused (%s)", (impl) => {
  describe.each([
    ["frame", "struct"],
    ["metadata", "keys"],
  ] as const)("placement %s, hardware keys %s", (placement, hardwareKeys) => {
    it("every frame method: EINVAL naming the index, nothing changed; count - 1 works", () => {
      const pool = filled(impl, placement, hardwareKeys),
        other = filled(impl, placement, hardwareKeys);
      const calls: Array<[string, () => unknown]> = [
        ["head", () => pool.head(COUNT)],
        ["metaLengthOf", () => pool.metaLengthOf(COUNT)],
        ["storeStart", () => pool.storeStart(COUNT)],
        ["length", () => pool.length(COUNT)],
        ["frameStart", () => pool.frameStart(COUNT)],
        ["frameBytes", () => pool.frameBytes(COUNT)],
        ["data", () => pool.data(COUNT)],
        ["setLength", () => pool.setLength(COUNT, 10)],
        ["write", () => pool.write(COUNT, new Uint8Array(10))],
        ["adjustHead", () => pool.adjustHead(COUNT, -4)],
        ["traits", () => pool.traits(COUNT)],
        ["reset", () => pool.reset(COUNT)],
        ["copyTraits from", () => pool.copyTraits(COUNT, 0)],
        ["copyTraits to", () => pool.copyTraits(0, COUNT)],
        ["copyTraits to another pool", () => pool.copyTraits(0, COUNT, other)],
        ["transfer from", () => pool.transfer(COUNT, 0)],
        ["transfer to", () => pool.transfer(0, COUNT)],
        ["transfer to another pool", () => pool.transfer(0, COUNT, other, { move: true })],
      ];
      if (placement === "metadata") calls.push(["adjustMeta", () => pool.adjustMeta(COUNT, -4)]);
      const before = [state(pool), state(other)];
      for (const [name, call] of calls) {
        let error: unknown;
        try {
          call();
        } catch (e) {
          error = e;
        }
        expect(error, name).toBeInstanceOf(TraitsError);
        expect((error as TraitsError).message, name).toBe(
          `EINVAL: frame must be an integer in 0..${COUNT - 1}, not ${COUNT}`,
        );
        expect([state(pool), state(other)], name).toEqual(before);
      }
      // The last frame is a frame like any other.
      const last = COUNT - 1;
      expect([pool.length(last), pool.data(last)[0], pool.traits(last).get(1)]).toEqual([60, 0x40 + last, last]);
      pool.copyTraits(last, 0, other);
      pool.transfer(0, last, other);
      expect(other.traits(last).get(1)).toBe(0);
    });

    it("every batch call: the entry for frame count gets EINVAL and no frame changes; ranges past the pool are refused", () => {
      const pool = filled(impl, placement, hardwareKeys),
        burst: Burst = pool.burst(8, { slots: 2 }),
        out = pool.decodeBuffer(64);
      const fields = [
        { key: 2, len: 4 },
        { key: 3, len: 8 },
      ];
      const wide = new Uint8Array(16).fill(7);
      const batches: Array<[string, () => number]> = [
        ["batchGet", () => pool.batchGet(burst, 1)],
        ["batchGet (hardware key)", () => pool.batchGet(burst, HardwareKey.RX_HASH)],
        ["batchSet", () => pool.batchSet(burst, 1, 4, 99)],
        ["batchSet (slots)", () => pool.batchSet(burst, 5, 4)],
        ["batchSet (hardware key)", () => pool.batchSet(burst, HardwareKey.RX_HASH, 4, 99)],
        ["batchSetMany", () => pool.batchSetMany(burst, fields, { values: [1, 2] })],
        ["batchSetMany (replace)", () => pool.batchSetMany(burst, fields, { replace: true })],
        ["batchDelete", () => pool.batchDelete(burst, 1)],
        ["batchHas", () => pool.batchHas(burst, 1)],
        ["batchInit", () => pool.batchInit(burst)],
        ["batchGetWide", () => pool.batchGetWide(burst, 10)],
        ["batchSetWide", () => pool.batchSetWide(burst, 10, wide)],
        ["batchDecode", () => pool.batchDecode(burst, out)],
      ];
      const before = state(pool);
      for (const [name, batch] of batches) {
        burst.selectFrames([COUNT]);
        expect(batch(), name).toBe(0);
        expect([...burst.status()], name).toEqual([Errno.EINVAL]);
        expect(state(pool), name).toEqual(before);
      }
      for (const [first, n] of [
        [1, COUNT],
        [COUNT, 1],
      ])
        expectError(
          () => burst.selectRange(first!, n!),
          "EINVAL",
          new RegExp(`^EINVAL: first must be an integer in 0..${COUNT - n!}, not ${first}$`),
        );
      // The last frame is selected like any other.
      burst.selectFrames([COUNT - 1]);
      expect([pool.batchGet(burst, 1), [...burst.status()], burst.values()[0]]).toEqual([1, [4], COUNT - 1]);
      expect([pool.batchGet(burst.selectRange(0, COUNT), 1), [...burst.status()]]).toEqual([COUNT, [4, 4, 4, 4]]);
    });
  });
});

it("a WorkerGroup queue holding frame == count is refused before any worker runs it", async () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1024, shared: true });
  const pool = new PacketPool({ count: COUNT, memory });
  const group = new WorkerGroup(pool, { workers: 1 });
  try {
    await expect(group.run({ op: "set", key: 1, len: 4, value: 5 }, { queues: [[0, COUNT]] })).rejects.toThrow(
      `EINVAL: queues[0][1] must be an integer in 0..${COUNT - 1}, not ${COUNT}`,
    );
    expect(pool.traits(0).get(1)).toBeUndefined();
  } finally {
    await group.close();
  }
});
