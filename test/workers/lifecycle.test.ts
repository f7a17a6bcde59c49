// Workers that die or misbehave (issue 12, item 8): a dead worker never hangs a run, non-Error
// throws and non-count returns are reported, Node error codes are kept, the process's flags that
// workers refuse are left out, and workers' console output survives close().
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PacketPool, SharedKeyRegistry, TraitsError, WorkerGroup } from "packet-traits";

const HANDLER = join(import.meta.dirname, "..", "fixtures", "handler.mjs");
const shared = () => new WebAssembly.Memory({ initial: 1, maximum: 64, shared: true });
const groups: WorkerGroup[] = [];
afterAll(() => Promise.all(groups.map((g) => g.close())));

/** A started group of 2 workers with the test handler over a 16-frame pool. */
async function group(registry?: SharedKeyRegistry): Promise<WorkerGroup> {
  const g = new WorkerGroup(new PacketPool({ count: 16, memory: shared() }), {
    workers: 2,
    handler: HANDLER,
    burst: 4,
    ...(registry && { registry }),
  });
  groups.push(g);
  await g.ready();
  return g;
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: Error) => error,
  );

describe("WorkerGroup with workers that die or misbehave", { timeout: 20_000 }, () => {
  it("a worker that calls process.exit rejects the run, and every later run, with an error naming it; close() still works", async () => {
    const g = await group();
    const error = await failure(g.run({ op: "handler", args: { mode: "exit", worker: 1 } }));
    expect(error).toBeInstanceOf(TraitsError);
    expect(error).toMatchObject({
      code: "EINVAL",
      message: "EINVAL: worker 1 exited with code 3 (process.exit in a handler?); the WorkerGroup cannot run any more",
    });
    await expect(g.run({ op: "init" })).rejects.toBe(error);
    await expect(g.run({ op: "init" })).rejects.toBe(error);
    await g.close();
  });

  it("an error nothing catches in a worker breaks the group with that error and the worker's stack", async () => {
    const g = await group();
    expect(await g.run({ op: "handler", args: { mode: "throw-later", worker: 0 } })).toBe(16);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const error = await failure(g.run({ op: "init" }));
    expect(error).toBeInstanceOf(TraitsError);
    expect((error as Error).message).toMatch(
      /^EINVAL: worker 0 died: thrown from a timer \(an error nothing caught in the worker\)/,
    );
    expect((error as Error).stack).toMatch(/in worker 0[\s\S]*handler\.mjs/);
  });

  it("a handler that throws null or a string reports what it threw, and the group stays usable", async () => {
    const g = await group();
    await expect(g.run({ op: "handler", args: { mode: "throw-value", worker: 1, value: null } })).rejects.toThrow(
      /^worker 1: the handler threw null, not an Error$/,
    );
    await expect(g.run({ op: "handler", args: { mode: "throw-value", worker: 0, value: "boom" } })).rejects.toThrow(
      /^worker 0: the handler threw "boom", not an Error$/,
    );
    expect(await g.run({ op: "init" })).toBe(16);
  });

  it("a handler must return a count of successes in 0..burst.length, or nothing", async () => {
    const g = await group();
    for (const value of ["x", -1, 1.5, 5, 10n, {}]) {
      const error = await failure(g.run({ op: "handler", args: { mode: "return", value } }));
      expect(error, String(value)).toBeInstanceOf(TraitsError);
      expect((error as TraitsError).message).toMatch(
        /^EINVAL: worker \d: the handler returned .* for a burst of 4 frames; expected a count of successes \(an integer in 0\.\.4\) or nothing$/,
      );
    }
    expect(await g.run({ op: "handler", args: { mode: "return", value: 3 } })).toBe(12);
    expect(await g.run({ op: "handler", args: { mode: "return" } })).toBe(0);
  });

  it("a Node error's code that is not an errno is kept (not a TraitsError without an errno)", async () => {
    const g = await group();
    const error = await failure(g.run({ op: "handler", args: { mode: "node-error" } }));
    expect(error).not.toBeInstanceOf(TraitsError);
    expect(error).toMatchObject({
      code: "ERR_INVALID_ARG_TYPE",
      message: expect.stringMatching(/^worker \d: The first argument must be/),
    });
  });

  it("a worker that dies holding the SharedKeyRegistry lock: the group frees the lock", async () => {
    const registry = SharedKeyRegistry.create();
    const g = await group(registry);
    await expect(g.run({ op: "handler", args: { mode: "die-holding-registry-lock" } })).rejects.toThrow(
      /exited with code 9/,
    );
    await g.close();
    const started = Date.now();
    expect(registry.register("after", 4)).toBe(0);
    expect(Date.now() - started).toBeLessThan(500);
  });
});

/** Runs an ES module script with node and `flags`; returns its result (never hangs: 20 s timeout). */
function node(flags: string[], script: string) {
  return spawnSync(process.execPath, [...flags, "--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 20_000,
  });
}

describe("WorkerGroup in its process", { timeout: 60_000 }, () => {
  it("starts in a process run with flags that workers refuse (--expose-gc, --max-old-space-size, --title x)", () => {
    const script = `
      import { PacketPool, WorkerGroup } from "packet-traits";
      const pool = new PacketPool({ count: 8, memory: new WebAssembly.Memory({ initial: 1, maximum: 64, shared: true }) });
      for (let i = 0; i < 2; i++) {
        const group = new WorkerGroup(pool, { workers: 2 });
        console.log(await group.run({ op: "init" }), typeof gc);
        await group.close();
      }`;
    const r = node(["--expose-gc", "--max-old-space-size=512", "--title", "traits-test"], script);
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("8 function\n8 function\n");
  });

  it("keeps every line workers print until close() resolves", () => {
    const script = `
      import { PacketPool, WorkerGroup } from "packet-traits";
      const pool = new PacketPool({ count: 8, memory: new WebAssembly.Memory({ initial: 1, maximum: 64, shared: true }) });
      const group = new WorkerGroup(pool, { workers: 2, burst: 8, handler: ${JSON.stringify(HANDLER)} });
      await group.run({ op: "handler", args: { mode: "print", lines: 200 } });
      await group.close();
      console.log("closed");
      process.exit(0);`;
    for (let run = 0; run < 3; run++) {
      const r = node([], script);
      const lines = r.stdout.trim().split("\n");
      expect(lines.filter((line) => line.startsWith("worker ")).length, `run ${run}`).toBe(400);
      expect(lines.at(-1)).toBe("closed");
    }
  });
});
