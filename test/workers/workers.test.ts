// Worker threads over a pool in shared WebAssembly memory: the same results as one thread, writes
// visible across workers after the completion point, errors with their stack, clean shutdown.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { PacketPool, SharedKeyRegistry, type TraitsError, WorkerGroup, type Impl } from "packet-traits";
import { IMPLS, hex } from "../helpers.js";

const HANDLER = join(import.meta.dirname, "..", "fixtures", "handler.mjs");
const shared = () => new WebAssembly.Memory({ initial: 1, maximum: 2048, shared: true });
const groups: WorkerGroup[] = [];
afterAll(() => Promise.all(groups.map((g) => g.close())));

/** A pool of `count` frames with random stores (the same for the same seed). */
function filled(impl: Impl, count: number, seed: number, memory?: WebAssembly.Memory): PacketPool {
  const pool = new PacketPool({ count, impl, ...(memory && { memory }), hardwareKeys: "off" });
  let x = seed;
  const rand = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8;
  for (let f = 0; f < count; f++)
    for (let j = rand() % 6; j > 0; j--) pool.traits(f).trySet(rand() % 64, rand(), rand(), [2, 4, 8][rand() % 3]!);
  return pool;
}

describe.each(IMPLS)("%s WorkerGroup", (impl) => {
  it("gives the same results as one thread on the same pool, for every batch operation", async () => {
    const count = 1000,
      parallel = filled(impl, count, 7, shared()),
      single = filled(impl, count, 7);
    expect(parallel.impl).toBe(impl); // the shared build of the AssemblyScript core runs on shared memory
    const group = new WorkerGroup(parallel, { workers: 3, burst: 64 });
    groups.push(group);
    const all = single.burst(count, { slots: 4 }).selectRange(0, count);
    const tasks = [
      [{ op: "get", key: 17 }, () => single.batchGet(all, 17)],
      [{ op: "set", key: 3, len: 4, value: 99 }, () => single.batchSet(all, 3, 4, 99)],
      [
        {
          op: "setMany",
          fields: [
            { key: 40, len: 8 },
            { key: 41, len: 2 },
          ],
          values: [5n, 6],
          replace: false,
        },
        () =>
          single.batchSetMany(
            all,
            [
              { key: 40, len: 8 },
              { key: 41, len: 2 },
            ],
            [5n, 6],
          ),
      ],
      [{ op: "has", key: 41 }, () => single.batchHas(all, 41)],
      [{ op: "delete", key: 3 }, () => single.batchDelete(all, 3)],
      [{ op: "get", key: 40 }, () => single.batchGet(all, 40)],
    ] as const;
    for (const [task, loop] of tasks) {
      const expected = loop();
      expect(await group.run(task), task.op).toBe(expected);
      expect([...group.results.status()], task.op).toEqual([...all.status()]);
      if (task.op === "get") expect([...group.results.values()]).toEqual([...all.values()]);
    }
    for (let f = 0; f < count; f += 97)
      expect(hex(parallel.frameBytes(f).subarray(0, 256))).toBe(hex(single.frameBytes(f).subarray(0, 256)));
  });

  it("agrees with one thread on random pools and RSS-style queues (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 300 }),
        fc.integer(),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 63 }),
        async (count, seed, workers, key) => {
          const parallel = filled(impl, count, seed, shared()),
            single = filled(impl, count, seed);
          const group = new WorkerGroup(parallel, { workers, burst: 16 });
          try {
            const order = Array.from({ length: count }, (_, i) => (i * 7919) % count).filter(
              (f, i, a) => a.indexOf(f) === i,
            );
            const queues = Array.from({ length: workers }, (_, w) => order.filter((_, i) => i % workers === w));
            const all = single.burst(count).selectFrames(queues.flat());
            expect(await group.run({ op: "set", key, len: 8, value: BigInt(seed >>> 0) }, { queues })).toBe(
              single.batchSet(all, key, 8, BigInt(seed >>> 0)),
            );
            expect([...group.results.status()]).toEqual([...all.status()]);
            expect(await group.run({ op: "get", key }, { queues })).toBe(single.batchGet(all, key));
            expect([...group.results.values().subarray(0, 4 * count)].filter((_, i) => i % 4 < 2)).toEqual(
              [...all.values().subarray(0, 2 * count)].filter((_, i) => i % 2 < 2),
            );
          } finally {
            await group.close();
          }
        },
      ),
      { numRuns: 8 },
    );
  });

  it("workers see each other's writes after the completion point", async () => {
    const pool = new PacketPool({ count: 512, impl, memory: shared() });
    const group = new WorkerGroup(pool, { workers: 2, handler: HANDLER });
    groups.push(group);
    expect(await group.run({ op: "handler", args: { mode: "stamp" } })).toBe(512);
    // Now each worker reads the frames the other one wrote.
    const swapped = [Array.from({ length: 256 }, (_, i) => 256 + i), Array.from({ length: 256 }, (_, i) => i)];
    expect(await group.run({ op: "get", key: 9 }, { queues: swapped })).toBe(512);
    const values = group.results.values();
    expect(swapped.flat().every((frame, i) => values[8 * i] === frame * 3)).toBe(true);
  });

  it("workers setting different values at once do not mix them (each has its own scratch)", async () => {
    const pool = new PacketPool({ count: 4096, impl, memory: shared() });
    const group = new WorkerGroup(pool, { workers: 2, handler: HANDLER, burst: 1 }); // a call per frame: many chances to interleave
    groups.push(group);
    expect(await group.run({ op: "handler", args: { mode: "broadcast" } }, { passes: 10 })).toBe(4096 * 10);
    for (let f = 0; f < 4096; f++) {
      const w = f < 2048 ? 0 : 1;
      if (pool.traits(f).get(12) !== 1000 + w || pool.traits(f).get(13) !== w)
        throw new Error(`frame ${f}: ${pool.traits(f).get(12)}, ${pool.traits(f).get(13)}`);
    }
  });

  it("reports a worker that throws, with its stack, and stays usable", async () => {
    const group = new WorkerGroup(new PacketPool({ count: 64, impl, memory: shared() }), {
      workers: 2,
      handler: HANDLER,
      burst: 8,
    });
    groups.push(group);
    const error = await group.run({ op: "handler", args: { mode: "throw", worker: 1 } }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe("worker 1: handler refused a burst of 8 frames");
    expect((error as Error).stack).toMatch(/in worker 1[\s\S]*RangeError: handler refused[\s\S]*handler\.mjs/);
    expect(await group.run({ op: "init" })).toBe(64);
    const denied = await group.run({ op: "handler", args: { mode: "allocate" } }).catch((e: TraitsError) => e);
    expect(denied).toMatchObject({
      code: "EINVAL",
      message: expect.stringMatching(/worker \d: burst\(\): a worker cannot allocate/),
    });
  });

  it("shares a SharedKeyRegistry with every worker", async () => {
    const registry = SharedKeyRegistry.create();
    const group = new WorkerGroup(new PacketPool({ count: 8, impl, memory: shared() }), {
      workers: 4,
      handler: HANDLER,
      registry,
      burst: 2,
    });
    groups.push(group);
    expect(await group.run({ op: "handler", args: { mode: "register" } })).toBe(4);
    expect(
      registry
        .entries()
        .map((e) => e.name)
        .sort(),
    ).toEqual(["from_worker_0", "from_worker_1", "from_worker_2", "from_worker_3"]);
  });
});

describe("WorkerGroup lifecycle", () => {
  it("needs shared memory, and checks its options", () => {
    expect(() => new WorkerGroup(new PacketPool({ count: 4 }), { workers: 2 })).toThrow(
      /needs a pool in a shared WebAssembly.Memory/,
    );
    const pool = new PacketPool({ count: 4, memory: shared() });
    expect(() => new WorkerGroup(pool, { workers: 0 })).toThrow(/workers must be an integer in 1..64/);
    expect(() => new WorkerGroup(pool, { workers: 1, registry: {} as SharedKeyRegistry })).toThrow(
      /registry must be a SharedKeyRegistry/,
    );
  });

  it("closes twice harmlessly, refuses runs after close, and a missing handler is an error", async () => {
    const group = new WorkerGroup(new PacketPool({ count: 4, memory: shared() }), { workers: 2 });
    await group.ready();
    await expect(group.run({ op: "handler" })).rejects.toThrow(/no handler module/);
    await Promise.all([group.close(), group.close()]);
    await group.close();
    await expect(group.run({ op: "init" })).rejects.toThrow(/closed/);
    const broken = new WorkerGroup(new PacketPool({ count: 4, memory: shared() }), {
      workers: 1,
      handler: join(import.meta.dirname, "..", "fixtures", "no-such-handler.mjs"),
    });
    await expect(broken.ready()).rejects.toThrow(/worker 0: .*no-such-handler/);
    await broken.close();
  });

  it("leaves nothing behind: a process that runs and closes a group exits by itself", () => {
    const script = `
      import { PacketPool, WorkerGroup } from "packet-traits";
      const pool = new PacketPool({ count: 256, memory: new WebAssembly.Memory({ initial: 1, maximum: 64, shared: true }) });
      for (let i = 0; i < 3; i++) {
        const group = new WorkerGroup(pool, { workers: 2 });
        await group.run({ op: "set", key: 1, len: 2, value: i });
        await group.close();
      }
      console.log("done", pool.memory.buffer.byteLength);`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 20_000 });
    expect(r.signal, "the process hung: something kept it alive").toBeNull();
    expect(r.stdout.trim()).toMatch(/^done \d+$/);
    expect(r.status).toBe(0);
  });
});
