/** The entry point of a WorkerGroup's worker thread: attaches to the shared pool and runs tasks over its frames. */
import { parentPort, workerData } from "node:worker_threads";
import { PacketPool, type PoolLayout } from "../pool/pool.js";
import { Burst, type BurstLayout } from "../pool/burst.js";
import { SharedKeyRegistry } from "../registry/shared-registry.js";
import { Scratch } from "../core/abi.js";
import { wasmCoreOf } from "../core/wasm.js";
import { jsCoreOf } from "../core/select.js";
import { describe } from "../core/options.js";
import type { WorkerTask } from "./workers.js";

interface Init {
  id: number;
  pool: PoolLayout;
  impl: "wasm" | "js";
  results: BurstLayout;
  burst: number;
  scratch: number;
  handler?: string;
  registry?: SharedArrayBuffer;
  counter: Int32Array;
}

/** The argument of a handler module's `export function burst(ctx)`, called for each burst of a WorkerGroup run with op "handler". */
export interface BurstContext {
  /** The shared pool, as this worker sees it. */
  pool: PacketPool;
  /** The frames of this call, selected. */
  burst: Burst;
  /** This worker's index, 0..workers-1. */
  worker: number;
  /** The `args` of the task, as given to run() (structured-cloned). */
  args: unknown;
  /** The group's SharedKeyRegistry, if it has one. */
  registry: SharedKeyRegistry | undefined;
}

type Handler = (ctx: BurstContext) => number | undefined;

const init = workerData as Init;
const port = parentPort!;
const registry = init.registry && SharedKeyRegistry.from(init.registry);
const core = (init.impl === "wasm" && wasmCoreOf(init.pool.memory, init.scratch)) || jsCoreOf(init.pool.memory);
const pool = PacketPool.attach(init.pool, core, init.scratch + Math.ceil(Scratch.BYTES / 64) * 64, registry);
let handler: Handler | undefined;

/** The bursts of a span: views of the result arrays, `init.burst` frames each. */
function chunks(span: { offset: number; first: number; n: number; queued: boolean }): Burst[] {
  const out: Burst[] = [];
  for (let at = 0; at < span.n; at += init.burst) {
    const n = Math.min(init.burst, span.n - at),
      burst = Burst.attach(pool, init.results, span.offset + at, n);
    out.push(span.queued ? burst.selectFrames(undefined, n) : burst.selectRange(span.first + at, n));
  }
  return out;
}

function runTask(task: WorkerTask, burst: Burst): number {
  switch (task.op) {
    case "get":
      return pool.batchGet(burst, task.key);
    case "set":
      return pool.batchSet(burst, task.key, task.len, task.value);
    case "setMany":
      return pool.batchSetMany(burst, task.fields, { values: task.values, replace: task.replace ?? false });
    case "delete":
      return pool.batchDelete(burst, task.key);
    case "has":
      return pool.batchHas(burst, task.key);
    case "init":
      return pool.batchInit(burst);
    case "handler": {
      if (!handler) throw new Error("this WorkerGroup has no handler module");
      const count = handler({ pool, burst, worker: init.id, args: task.args, registry }) ?? 0;
      if (!Number.isInteger(count) || count < 0 || count > burst.length)
        throw Object.assign(
          new Error(
            `the handler returned ${describe(count)} for a burst of ${burst.length} frames; expected a count of successes (an integer in 0..${burst.length}) or nothing`,
          ),
          { code: "EINVAL" },
        );
      return count;
    }
    default:
      throw new Error(`unknown task ${JSON.stringify((task as { op: unknown }).op)}`);
  }
}

async function start(): Promise<void> {
  if (init.handler) {
    const module = (await import(init.handler)) as { burst?: Handler };
    if (typeof module.burst !== "function") throw new Error(`${init.handler} does not export a burst(ctx) function`);
    handler = module.burst;
  }
  port.on(
    "message",
    ({
      id,
      task,
      passes,
      span,
      close,
    }: {
      id: number;
      task: WorkerTask;
      passes: number;
      span: Parameters<typeof chunks>[0];
      close?: true;
    }) => {
      // Ends the thread at once, its task done: Node hands over all it printed on exit, where ending by
      // itself would wait for this process's stdout to take each batch (and for timers a handler left).
      if (close) process.exit(0);
      try {
        const bursts = chunks(span);
        let count = 0;
        for (let p = 0; p < passes; p++) for (const burst of bursts) count += runTask(task, burst);
        Atomics.add(init.counter, 0, 1); // publishes this worker's writes to the thread that reads the counter
        port.postMessage({ id, count });
      } catch (error) {
        port.postMessage({ id, error: report(error) });
      }
    },
  );
  port.postMessage({ ready: true });
}

/** What the main thread learns of anything thrown: an Error's message, stack and code, or a description of a thrown non-Error. */
function report(error: unknown): { message: string; stack: string; code?: string } {
  if (!(error instanceof Error)) return { message: `the handler threw ${describe(error)}, not an Error`, stack: "" };
  const code = (error as { code?: unknown }).code;
  return { message: error.message, stack: error.stack ?? "", ...(typeof code === "string" && { code }) };
}

start().catch((error: unknown) => port.postMessage({ error: report(error) }));
