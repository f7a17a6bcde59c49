// The key registry: registration rules, config files, locking across processes, the
// SharedArrayBuffer registry across worker threads, and strict stores.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Worker } from "node:worker_threads";
import { afterAll, describe, expect, it } from "vitest";
import { KeyRegistry, PacketPool, SharedKeyRegistry, createStore } from "packet-traits";
import { IMPLS, expectError } from "../helpers.js";

const run = promisify(execFile);

describe.each([
  ["KeyRegistry", (profile?: "v1" | "flags") => new KeyRegistry(profile ? { profile } : {})],
  ["SharedKeyRegistry", (profile?: "v1" | "flags") => SharedKeyRegistry.create(profile ? { profile } : {})],
] as const)("%s", (_, make) => {
  it("hands out the lowest free key or the one asked for; the same name and size again is the same key", () => {
    const r = make();
    expect(r.register("packet_id", 8)).toBe(0);
    expect(r.register("flow_hash", 4, { key: 5 })).toBe(5);
    expect(r.register("vlan", 2)).toBe(1);
    expect(r.register("packet_id", 8)).toBe(0);
    expect(r.register("flow_hash", 4, { key: 5 })).toBe(5);
    expect(r.lookup("flow_hash")).toMatchObject({ name: "flow_hash", key: 5, size: 4 });
    expect(r.lookupKey(1)).toMatchObject({ name: "vlan", key: 1, size: 2 });
    expect(r.lookup("nope")).toBeUndefined();
    expect(r.lookupKey(2)).toBeUndefined();
    expect(r.entries().map((e) => e.name)).toEqual(["packet_id", "vlan", "flow_hash"]);
    expect(r.dump()).toMatch(/key registry \(profile v1, 3 of 64 keys\)[\s\S]* {2}5 {5}4 {2}flow_hash/);
    r.unregister("vlan");
    expect(r.lookup("vlan")).toBeUndefined();
    expect(r.register("rx_queue", 4)).toBe(1);
  });

  it("refuses conflicts and bad names, sizes and keys with the errno the design names", () => {
    const r = make();
    r.register("packet_id", 8, { key: 7 });
    expectError(() => r.register("packet_id", 4), "EEXIST", /packet_id is registered as key 7 with size 8, not 4/);
    expectError(() => r.register("packet_id", 8, { key: 9 }), "EEXIST", /registered as key 7, not 9/);
    expectError(() => r.register("other", 4, { key: 7 }), "EBUSY", /key 7 is registered to packet_id/);
    expectError(() => r.register("Packet", 4), "EINVAL", /\[a-z0-9_.-\], starting with a letter/);
    expectError(() => r.register("9lives", 4), "EINVAL");
    expectError(() => r.register("", 4), "EINVAL");
    expectError(() => r.register("a b", 4), "EINVAL");
    expectError(() => r.register(5 as unknown as string, 4), "EINVAL", /name must be a string/);
    expectError(() => r.register("a".repeat(64), 4), "ENAMETOOLONG", /64 characters; at most 63/);
    expect(r.register("a".repeat(63), 4)).toBe(0);
    expectError(() => r.register("odd", 3), "EINVAL", /size: 3 is not a size of profile v1 \(2, 4, 8\)/);
    expectError(() => r.register("far", 4, { key: 64 }), "EINVAL", /key: 64 is not a key in 0..63/);
    expectError(() => r.unregister("ghost"), "ENOENT", /"ghost" is not registered/);
    for (let i = 0; i < 62; i++) r.register(`k${i}`, 2);
    expectError(() => r.register("one.too.many", 2), "ENOSPC", /no free key for one.too.many/);
  });

  it("profile flags: sizes 0 (a flag), 4 and 8", () => {
    const r = make("flags");
    expect(r.register("seen", 0)).toBe(0);
    expect(r.sizeOfKey(0)).toBe(0);
    expectError(() => r.register("vlan", 2), "EINVAL", /not a size of profile flags \(0, 4, 8\)/);
  });
});

describe("config files", () => {
  const dir = mkdtempSync(join(tmpdir(), "traits-registry-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("names that are Object.prototype's (constructor) are names like any other, through JSON, files and stores", () => {
    const r = new KeyRegistry();
    expect([r.register("constructor", 4), r.register("id", 8)]).toEqual([0, 1]);
    const file = join(dir, "constructor.json");
    r.save(file);
    const back = KeyRegistry.load(file);
    expect(back.entries()).toEqual(r.entries());
    expect(KeyRegistry.fromJSON(r.toJSON()).lookup("constructor")).toEqual({ name: "constructor", key: 0, size: 4 });
    expect(back.lookup("toString")).toBeUndefined();
    const store = createStore(64, { registry: back }).set("constructor", 5, 4);
    expect([store.get("constructor"), store.keys()]).toEqual([5, [0]]);
    expectError(() => store.get("toString"), "EINVAL", /key name "toString" is not registered/);
  });

  it("round-trip through save and load; saving leaves no temporary file", () => {
    const r = new KeyRegistry();
    r.register("packet_id", 8, { key: 5, description: "sequence number" });
    r.register("vlan", 2);
    const file = join(dir, "round.json");
    r.save(file);
    const back = KeyRegistry.load(file);
    expect(back.entries()).toEqual(r.entries());
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({
      version: 1,
      profile: "v1",
      keys: { vlan: { key: 0, size: 2 }, packet_id: { key: 5, size: 8, description: "sequence number" } },
    });
    expect(readdirSync(dir).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  const bad: Array<[unknown, RegExp]> = [
    [{ version: 2, profile: "v1", keys: {} }, /^EINVAL: version: 2 is not supported \(expected 1\)/],
    [{ version: 1, profile: "v9", keys: {} }, /profile: "v9" is not "v1" or "flags"/],
    [{ version: 1, profile: "v1" }, /keys: expected an object/],
    [{ version: 1, profile: "v1", keys: {}, extra: 1 }, /extra: unknown field/],
    [
      { version: 1, profile: "v1", keys: { packet_id: { key: 5, size: 3 } } },
      /keys.packet_id.size: 3 is not a size of profile v1 \(2, 4, 8\)/,
    ],
    [
      { version: 1, profile: "v1", keys: { packet_id: { key: 64, size: 8 } } },
      /keys.packet_id.key: 64 is not a key in 0..63/,
    ],
    [{ version: 1, profile: "v1", keys: { packet_id: { size: 8 } } }, /keys.packet_id.key: undefined is not a key/],
    [
      { version: 1, profile: "v1", keys: { a: { key: 5, size: 8 }, b: { key: 5, size: 4 } } },
      /keys.b.key: 5 is already keys.a's/,
    ],
    [
      { version: 1, profile: "v1", keys: { "Bad Name": { key: 1, size: 8 } } },
      /keys.Bad Name "Bad Name" must be 1 to 63 characters/,
    ],
    [{ version: 1, profile: "v1", keys: { ["x".repeat(64)]: { key: 1, size: 8 } } }, /ENAMETOOLONG/],
    [{ version: 1, profile: "v1", keys: { a: { key: 1, size: 8, colour: "red" } } }, /keys.a.colour: unknown field/],
    [
      { version: 1, profile: "v1", keys: { a: { key: 1, size: 8, description: 7 } } },
      /keys.a.description: expected a string/,
    ],
    [{ version: 1, profile: "v1", keys: { a: 5 } }, /keys.a: expected \{ key, size, description\? \}/],
    [[], /registry config must be an object/],
  ];
  it.each(bad)("refuses %j naming the field", (config, message) => {
    expect(() => KeyRegistry.fromJSON(config)).toThrow(message);
  });

  it("names the file and refuses text that is not JSON", () => {
    const file = join(dir, "broken.json");
    writeFileSync(file, "{ version: 1");
    expectError(
      () => KeyRegistry.load(file),
      "EINVAL",
      new RegExp(`${file.replace(/[.]/g, "\\.")}: registry config is not JSON`),
    );
    expectError(() => KeyRegistry.load(join(dir, "missing.json")), "ENOENT");
  });

  it("concurrent processes registering through the file never lose an entry nor share a key; the file is valid JSON throughout", async () => {
    const file = join(dir, "shared.json");
    const script = (worker: number) => `
      const { KeyRegistry } = require("packet-traits");
      const keys = [];
      for (let i = 0; i < 12; i++) keys.push(KeyRegistry.registerInFile(${JSON.stringify(file)}, "name_" + ((i * 3 + ${worker}) % 40), 4));
      console.log(JSON.stringify(keys));`;
    let reads = 0,
      done = false;
    const watcher = (async () => {
      while (!done) {
        if (existsSync(file)) {
          JSON.parse(readFileSync(file, "utf8"));
          reads++;
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    const outputs = await Promise.all([0, 1, 2, 3].map((w) => run(process.execPath, ["-e", script(w)])));
    done = true;
    await watcher;
    const registry = KeyRegistry.load(file);
    const entries = registry.entries();
    const names = new Set(
      Array.from({ length: 4 }, (_, w) => Array.from({ length: 12 }, (_, i) => `name_${(i * 3 + w) % 40}`)).flat(),
    );
    expect(entries.map((e) => e.name).sort()).toEqual([...names].sort());
    expect(new Set(entries.map((e) => e.key)).size).toBe(entries.length);
    outputs.forEach(({ stdout }, w) => {
      JSON.parse(stdout).forEach((key: number, i: number) =>
        expect(registry.lookup(`name_${(i * 3 + w) % 40}`)?.key).toBe(key),
      );
    });
    expect(reads).toBeGreaterThan(0);
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  // Taking over stale locks, waiting for live ones and timeouts: lifecycle.test.ts.
});

describe("SharedKeyRegistry across worker threads", () => {
  it("workers registering at once never claim the same key; every thread sees every name", async () => {
    const registry = SharedKeyRegistry.create();
    const code = `
      const { workerData, parentPort } = require("node:worker_threads");
      const { SharedKeyRegistry } = require("packet-traits");
      const r = SharedKeyRegistry.from(workerData.buffer);
      const keys = [];
      for (let i = 0; i < 30; i++) keys.push(r.register("w_" + ((i * 7 + workerData.id * 5) % 50), 8));
      parentPort.postMessage(keys);`;
    const results = await Promise.all(
      [0, 1, 2, 3].map(
        (id) =>
          new Promise<number[]>((resolve, reject) => {
            const worker = new Worker(code, { eval: true, workerData: { buffer: registry.buffer, id } });
            worker.once("message", resolve);
            worker.once("error", reject);
          }),
      ),
    );
    const entries = registry.entries();
    expect(new Set(entries.map((e) => e.key)).size).toBe(entries.length);
    expect(new Set(entries.map((e) => e.name)).size).toBe(entries.length);
    results.forEach((keys, id) =>
      keys.forEach((key, i) => expect(registry.lookup(`w_${(i * 7 + id * 5) % 50}`)?.key).toBe(key)),
    );
    expect(SharedKeyRegistry.from(registry.buffer).entries()).toEqual(entries);
    expectError(() => SharedKeyRegistry.from(new SharedArrayBuffer(8)), "EINVAL");
  });
});

describe.each(IMPLS)("%s strict stores", (impl) => {
  it("refuse unregistered keys (EPERM) and other sizes (EINVAL, naming the key); get, has and delete are unaffected", () => {
    const registry = new KeyRegistry();
    registry.register("packet_id", 8, { key: 5 });
    const store = createStore(64, { impl, registry });
    store.set(5, 1n);
    expectError(() => store.set(6, 1, 4), "EPERM", /key 6: not registered, and this store is strict/);
    expectError(() => store.set(5, 1, 4), "EINVAL", /key 5 \(packet_id\): registered with size 8, not 4/);
    expectError(
      () =>
        store.setMany([
          [5, 2n],
          [9, 1, 2],
        ]),
      "EPERM",
    );
    expect(store.trySet(6, 1, 0, 4)).toBe(-1);
    expect(store.trySet(5, 1, 0, 4)).toBe(-22);
    expect([store.get(5), store.has(6), store.delete(6), store.keys()]).toEqual([1n, false, false, [5]]);
    expectError(
      () => createStore(64, { impl, registry: new KeyRegistry({ profile: "flags" }) }),
      "EINVAL",
      /registry is for profile flags/,
    );

    const pool = new PacketPool({ count: 4, impl, registry });
    const burst = pool.burst(4).selectRange(0, 4);
    expect(pool.batchSet(burst, 5, 8, 9n)).toBe(4);
    expect(() => pool.batchSet(burst, 6, 4, 1)).toThrow(/EPERM: key 6 is not registered, and this pool is strict/);
    expect(() => pool.batchSetMany(burst, [{ key: 5, len: 4 }])).toThrow(
      /EINVAL: key 5 \(packet_id\) is registered with size 8, not 4/,
    );
    expectError(() => pool.traits(0).set(7, 1, 2), "EPERM");
    const shared = SharedKeyRegistry.create();
    shared.register("flow", 4, { key: 3 });
    const sharedStore = createStore(32, { impl, registry: shared });
    expect(sharedStore.set(3, 7, 4).get(3)).toBe(7);
    expectError(() => sharedStore.set(4, 7, 4), "EPERM");
  });
});
