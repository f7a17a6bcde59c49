// Sealed objects: nothing that bounds memory (a store's start and capacity, a burst's length and
// arrays, a decode buffer's room, a pool's layout) can be changed from outside, and a released
// burst cannot run a batch call. Each assignment below was accepted before, and let a batch call
// or a store write over another object's bytes.
import { describe, expect, it } from "vitest";
import { PacketPool, TraitsError, createStore } from "packet-traits";
import { IMPLS, expectError } from "../helpers.js";

describe.each(IMPLS)("%s", (impl) => {
  it("a store's capacity and start are read-only; a frame's store stays inside its headroom", () => {
    const pool = new PacketPool({ count: 2, impl });
    const packet = new Uint8Array(64).fill(0xab);
    pool.write(0, packet);
    const store = pool.traits(0);
    expect(() => ((store as { capacity: number }).capacity = 1e6)).toThrow(TypeError);
    expect(() => ((store as { start: number }).start = 0)).toThrow(TypeError);
    expect(store.capacity).toBe(256);
    let stored = 0;
    for (let key = 0; key < 64; key++) if (store.trySet(key, key, 0, 8) === 0) stored++;
    expect(stored).toBe((256 - 16) / 8);
    expect(pool.data(0)).toEqual(packet);
    expect(() => ((createStore(32, { impl }) as { capacity: number }).capacity = 64)).toThrow(TypeError);
  });

  it("the pool's store follows adjustHead through the internal path only", () => {
    const pool = new PacketPool({ count: 1, impl });
    pool.write(0, new Uint8Array(100));
    const store = pool.traits(0);
    pool.adjustHead(0, -64);
    expect(store.capacity).toBe(192);
  });

  it("a burst's length and arrays are read-only; batch calls stay inside its frames", () => {
    const pool = new PacketPool({ count: 64, impl });
    const rx = pool.burst(4).selectRange(0, 4);
    const other = pool.burst(64).selectRange(0, 64);
    expect(() => ((rx as { length: number }).length = 64)).toThrow(TypeError);
    expect(() => ((rx as unknown as { vals: number }).vals = 0)).toThrow(TypeError);
    expect(() => ((rx as { capacity: number }).capacity = 64)).toThrow(TypeError);
    expect(pool.batchSet(rx, 3, 2, 7)).toBe(4);
    expect(pool.batchHas(other, 3)).toBe(4);
    expect(
      other
        .status()
        .subarray(4)
        .every((s) => s === 0),
    ).toBe(true);
  });

  it("a decode buffer's room and a pool's layout are read-only", () => {
    const pool = new PacketPool({ count: 2, impl });
    const out = pool.decodeBuffer(2);
    expect(() => ((out as { room: number }).room = 1e6)).toThrow(TypeError);
    expect(() => ((out as { count: number }).count = 1e6)).toThrow(TypeError);
    expect(() => ((pool as { base: number }).base = 0)).toThrow(TypeError);
    expect(() => ((pool as { frameSize: number }).frameSize = 1 << 20)).toThrow(TypeError);
    expect(pool.frameStart(1) - pool.frameStart(0)).toBe(2048);
  });

  it("a released burst refuses every use", () => {
    const pool = new PacketPool({ count: 8, impl });
    const rx = pool.burst(4).selectRange(0, 4);
    rx.release();
    expect(rx.released).toBe(true);
    expectError(() => pool.batchGet(rx, 3), "EINVAL", /released/);
    expectError(() => pool.batchInit(rx), "EINVAL", /released/);
    expectError(() => rx.selectRange(0, 1), "EINVAL", /released/);
    expectError(() => rx.status(), "EINVAL", /released/);
    // Its arrays went back to the arena; the next burst of that size may take them, and the stale one cannot touch them.
    const next = pool.burst(4).selectRange(4, 4);
    expect(pool.batchSet(next, 1, 4, 9)).toBe(4);
    expectError(() => pool.batchGet(rx, 1), "EINVAL", /released/);
    expect(Array.from(next.status())).toEqual([0, 0, 0, 0]);
  });

  it("a pool cannot be built over a forged layout", () => {
    const forged = { layout: { count: 1, base: 0 } };
    // @ts-expect-error: the published types have no second parameter
    expect(() => new PacketPool({ count: 1 }, forged)).toThrow(TraitsError);
  });
});
