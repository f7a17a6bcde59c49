// The fuzz targets by name, and the watchdog that runs them: each target runs in a worker thread,
// one chunk (a seed and a number of ops) at a time, and a chunk that gives no result within its
// time limit is a failure naming the target and the seed (a hang, even one that never yields, such
// as an Atomics.wait or an endless loop). Used by fuzz/run.js and test/fuzz/fuzz.test.ts.
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";

/**
 * Each target: its module and export; `share`, its ops per op of `--ops` (the decoders and round
 * trips are slower per input, a worker task runs thousands of frame ops); `chunk`, its ops per seed
 * (each chunk starts afresh from seed + k); `limitMs`, the watchdog's limit per chunk (about ten
 * times the time a chunk takes on a busy 2-core machine). `--target all` runs them in this order.
 */
export const TARGETS = {
  pools: { module: "./surfaces.js", fn: "fuzzPools", share: 1, chunk: 10_000, limitMs: 120_000 },
  shared: { module: "./surfaces.js", fn: "fuzzShared", share: 1, chunk: 10_000, limitMs: 120_000 },
  lifecycle: { module: "./lifecycle.js", fn: "fuzzLifecycle", share: 1, chunk: 10_000, limitMs: 120_000 },
  workers: { module: "./surfaces.js", fn: "fuzzWorkers", share: 0.0001, chunk: 20, limitMs: 60_000 },
  roundtrip: { module: "./roundtrip.js", fn: "fuzzRoundTrips", share: 0.1, chunk: 10_000, limitMs: 120_000 },
  codec: { module: "./targets.js", fn: "fuzzCodec", share: 1, chunk: 100_000, limitMs: 600_000 },
  decoders: { module: "./targets.js", fn: "fuzzDecoders", share: 0.1, chunk: 100_000, limitMs: 300_000, samples: true },
};

/**
 * A target running in a worker thread: `run(seed, ops)` resolves to the ops run, or rejects with the
 * target's error, or, after `limitMs` without a result, terminates the thread and rejects naming the
 * seed. `close()` ends the thread. `spec` ({ module: a URL, fn }) runs another function (tests).
 */
export class Watched {
  constructor(name, limitMs = TARGETS[name]?.limitMs, spec = TARGETS[name]) {
    if (!spec) throw new Error(`no fuzz target ${name} (targets: ${Object.keys(TARGETS).join(", ")})`);
    this.name = name;
    this.limitMs = limitMs;
    this.spec = { ...spec, module: new URL(spec.module, import.meta.url).href };
    this.worker = undefined;
  }

  run(seed, ops) {
    this.worker ??= new Worker(new URL(import.meta.url), { workerData: { spec: this.spec } });
    const worker = this.worker;
    return new Promise((resolve, reject) => {
      const done = (fn, value) => {
        clearTimeout(timer);
        worker.off("message", onMessage).off("error", onError).off("exit", onExit);
        fn(value);
      };
      const timer = setTimeout(() => {
        this.worker = undefined;
        worker.terminate();
        done(
          reject,
          new Error(
            `${this.name}: seed ${seed}: no result after ${this.limitMs / 1000} s (${ops} ops): a hang, stopped by the watchdog`,
          ),
        );
      }, this.limitMs);
      const onMessage = (message) =>
        message.error ? done(reject, new Error(message.error)) : done(resolve, message.ops);
      const onError = (error) => {
        this.worker = undefined;
        done(reject, new Error(`${this.name}: seed ${seed}: the target's thread died: ${error?.stack ?? error}`));
      };
      const onExit = (code) => {
        this.worker = undefined;
        done(reject, new Error(`${this.name}: seed ${seed}: the target's thread exited with code ${code}`));
      };
      worker.on("message", onMessage).on("error", onError).on("exit", onExit);
      worker.postMessage({ seed, ops });
    });
  }

  async close() {
    await this.worker?.terminate();
    this.worker = undefined;
  }
}

// In the worker thread: run chunks as the main thread asks.
if (!isMainThread && workerData?.spec) {
  const { spec } = workerData;
  const module = await import(spec.module);
  const samples = spec.samples ? (await import("./targets.js")).captureSamples() : undefined;
  parentPort.on("message", async ({ seed, ops }) => {
    try {
      parentPort.postMessage({ ops: await module[spec.fn](seed, ops, ...(samples ? [samples] : [])) });
    } catch (error) {
      parentPort.postMessage({
        error:
          error instanceof Error
            ? `${error.message}\n${(error.stack ?? "").split("\n").slice(1, 6).join("\n")}`
            : String(error),
      });
    }
  });
}
