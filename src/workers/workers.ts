/**
 * WorkerGroup: N worker_threads running batch operations, or a caller's per-burst handler, over
 * their own frames of one pool in a shared WebAssembly memory, in parallel, RSS-queue style: each
 * worker owns a range of frames (or a queue of descriptors) and no two workers touch one frame, so
 * the hot path takes no lock. Results land in one shared Burst (`results`), at each frame's position.
 */
import { once } from "node:events";
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker, type WorkerOptions } from "node:worker_threads";
import { Errno, TraitsError, type ErrnoName } from "../core/errors.js";
import { checkInteger, describe } from "../core/options.js";
import { arenaOf } from "../core/memory.js";
import type { PacketPool, Field } from "../pool/pool.js";
import type { Burst } from "../pool/burst.js";
import { SharedKeyRegistry } from "../registry/shared-registry.js";
import { Scratch } from "../core/abi.js";
import type { Key } from "../store/values.js";

/** @internal Scratch bytes of a worker: its WASM instance's, then its pool view's (XskGroup's workers take the same). */
export const WORKER_SCRATCH = Math.ceil(Scratch.BYTES / 64) * 64 + Scratch.BYTES;

/** A task every worker runs over its frames, burst by burst. */
export type WorkerTask =
  | { op: "get"; key: Key }
  | { op: "set"; key: Key; len: number; value?: number | bigint }
  | { op: "setMany"; fields: readonly Field[]; values?: ReadonlyArray<number | bigint>; replace?: boolean }
  | { op: "delete"; key: Key }
  | { op: "has"; key: Key }
  | { op: "init" }
  | { op: "handler"; args?: unknown };

/** A file URL: a WHATWG URL (new URL("./handler.mjs", import.meta.url)), or anything with its href. Declared so that the types need no DOM or Node lib. */
export interface FileUrl {
  readonly href: string;
}

/** Options of a WorkerGroup. */
export interface WorkerGroupOptions {
  /** Number of worker threads, 1 to 64. */
  workers: number;
  /** A module (path or file URL) exporting `burst(ctx)`, run for task `{ op: "handler" }`: ctx is { pool, burst, worker, args, registry }; it returns a count of successes in 0..burst.length (or nothing); anything else fails the run (EINVAL). */
  handler?: string | FileUrl;
  /** A SharedKeyRegistry every worker sees (strict stores in the workers, and ctx.registry). */
  registry?: SharedKeyRegistry;
  /** Frames per batch call in the workers (default 256). */
  burst?: number;
  /** Value slots per frame of the result burst (default 4). */
  slots?: number;
}

interface Pending {
  id: number;
  resolve(count: number): void;
  reject(error: Error): void;
  counts: number[];
  waiting: number;
}

/** A group of worker threads over one pool in a shared WebAssembly memory. */
export class WorkerGroup {
  /** Number of workers. */
  readonly size: number;
  /** The shared result arrays: frame position i (in the order of the frames the task ran over) has its status and value slots at i. */
  readonly results: Burst;
  private readonly workers: Worker[];
  /** Each worker's threadId, kept for SharedKeyRegistry.recover after it exits (Worker.threadId is -1 by then). */
  private readonly threadIds: number[];
  private readonly counter = new Int32Array(new SharedArrayBuffer(4));
  private readonly started: Promise<void>;
  private readonly scratch: number[];
  private pending: Pending | undefined;
  private closing: Promise<void> | undefined;
  /** Why the group cannot run any more (a worker died); every later run rejects with it. */
  private broken: Error | undefined;
  private next = 0;
  /** The last run started (its number and task), for the error of a worker that dies. */
  private last: { id: number; op: WorkerTask["op"] } | undefined;

  /**
   * Starts the workers; throws EINVAL if the pool's memory is not shared, or for bad options, and
   * ENOENT if the worker script is missing (packet-traits bundled without it: the message says how to fix it).
   */
  constructor(
    readonly pool: PacketPool,
    options: WorkerGroupOptions,
  ) {
    if (!(pool.memory.buffer instanceof SharedArrayBuffer))
      throw new TraitsError(
        "EINVAL",
        "a WorkerGroup needs a pool in a shared WebAssembly.Memory (new WebAssembly.Memory({ initial, maximum, shared: true }))",
      );
    this.size = checkInteger(options?.workers, "workers", 1, 64);
    const burst = checkInteger(options.burst ?? 256, "burst", 1, 2 ** 24),
      slots = checkInteger(options.slots ?? 4, "slots", 1, 64);
    if (options.registry !== undefined && !(options.registry instanceof SharedKeyRegistry))
      throw new TraitsError("EINVAL", `registry must be a SharedKeyRegistry, not ${describe(options.registry)}`);
    const given: unknown = options.handler;
    if (!(given === undefined || typeof given === "string" || typeof (given as FileUrl | null)?.href === "string"))
      throw new TraitsError("EINVAL", `handler must be a path or a file URL, not ${describe(given)}`);
    const handler =
      options.handler === undefined
        ? undefined
        : String(
            typeof options.handler === "string"
              ? new URL(options.handler, `file://${process.cwd()}/`)
              : new URL(options.handler.href),
          );
    const entry = workerScript();
    this.results = pool.burst(pool.count, { slots });
    const arena = arenaOf(pool.memory);
    // Each worker's scratch: its WASM instance's, then its pool view's; 64-byte aligned so that no two workers share a cache line.
    this.scratch = Array.from({ length: this.size }, () => arena.alloc(WORKER_SCRATCH, 64));
    this.workers = this.scratch.map((scratch, id) =>
      startWorker(entry, {
        workerData: {
          id,
          pool: pool.layout(),
          impl: pool.impl,
          results: this.results.layout(),
          burst,
          scratch,
          handler,
          registry: options.registry?.buffer,
          counter: this.counter,
        },
      }),
    );
    this.threadIds = this.workers.map((worker) => worker.threadId);
    this.workers.forEach((worker, id) => {
      let error: Error | undefined;
      worker.on("error", (thrown) => (error = thrown));
      worker.on("exit", (code) => {
        options.registry?.recover(this.threadIds[id]!);
        if (!this.closing) this.died(workerDeath(id, code, error, this.during()));
      });
    });
    this.started = Promise.all(
      this.workers.map(
        (worker, id) =>
          new Promise<void>((resolve, reject) => {
            worker.once("message", (message: { ready?: true; error?: WorkerError }) =>
              message.ready ? resolve() : reject(workerError(id, message.error!)),
            );
            worker.once("exit", () =>
              reject(this.broken ?? new TraitsError("EINVAL", "the WorkerGroup was closed before it started")),
            );
          }),
      ),
    ).then(() => {
      this.workers.forEach((worker, id) => worker.on("message", (message: Done) => this.done(id, message)));
    });
    this.started.catch(() => this.close());
  }

  /** Resolves when every worker has started (and loaded the handler); rejects with the first worker's error. */
  ready(): Promise<void> {
    return this.started;
  }

  /**
   * Runs `task` in every worker over its frames, `passes` times, and resolves to the total count of
   * successes once all are done (the completion point: every worker's writes are visible then).
   * Frames: by default worker w owns an equal range of the pool; with `queues`, worker w takes the
   * frame indices of queues[w] (no frame in two queues; at most pool.count in all). Rejects with the
   * first worker error (its stack included), or EBUSY while another run is under way. A worker that
   * dies (process.exit in a handler, an uncaught error, out of memory) rejects the run under way with
   * an EOWNERDEAD TraitsError naming it, the run and its task, and how it ended (exit code, or the error
   * it threw, as `cause`); the group is then broken: every later run rejects with that error (close it
   * and start a new group; the frames of the run that failed may be half-done).
   */
  async run(
    task: WorkerTask,
    { passes = 1, queues }: { passes?: number; queues?: ArrayLike<number>[] } = {},
  ): Promise<number> {
    await this.started;
    if (this.broken) throw this.broken;
    if (this.closing) throw new TraitsError("EINVAL", "the WorkerGroup is closed");
    if (this.pending) throw new TraitsError("EBUSY", "a run is under way: await it first");
    checkInteger(passes, "passes", 1, 2 ** 31);
    const spans = this.spans(queues);
    this.results.selectRange(
      0,
      spans.reduce((end, span) => Math.max(end, span.offset + span.n), 0),
    );
    return new Promise<number>((resolve, reject) => {
      const id = ++this.next;
      this.last = { id, op: task.op };
      this.pending = { id, resolve, reject, counts: [], waiting: this.size };
      this.workers.forEach((worker, w) => worker.postMessage({ id, task, passes, span: spans[w] }));
    });
  }

  /**
   * Stops the workers and gives back the shared arrays; resolves once every worker has ended and all
   * it printed has left this process: written to this process's stdout and stderr, which may wait for
   * a slow reader of a pipe (so that process.exit() right after loses nothing). A worker ends after the
   * task it is running (a run under way is rejected at once); one still busy after CLOSE_GRACE_MS is
   * terminated, and what it had not yet printed is then lost. Calling it again is harmless.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.fail(new TraitsError("EINVAL", "the WorkerGroup was closed during a run"));
    this.closing = Promise.all(this.workers.map((worker) => stopWorker(worker))).then(() => {
      this.results.release();
      const arena = arenaOf(this.pool.memory);
      this.scratch.forEach((at) => arena.release(at, WORKER_SCRATCH, 64));
      return Promise.all([printed(this.workers, "stdout"), printed(this.workers, "stderr")]).then(() => {});
    });
    return this.closing;
  }

  /** What the group was doing, for the error of a worker that died: the run under way, or the last one. */
  private during(): string {
    if (!this.last) return "before its first run";
    const run = `run ${this.last.id} (task "${this.last.op}")`;
    return this.pending ? `during ${run}` : `after ${run}`;
  }

  /** Each worker's frames: a range [first, first + n) of the pool, or its queue copied into the result descriptors at [offset, offset + n). */
  private spans(queues?: ArrayLike<number>[]): Array<{ offset: number; first: number; n: number; queued: boolean }> {
    if (queues === undefined) {
      return Array.from({ length: this.size }, (_, w) => {
        const first = Math.floor((w * this.pool.count) / this.size),
          end = Math.floor(((w + 1) * this.pool.count) / this.size);
        return { offset: first, first, n: end - first, queued: false };
      });
    }
    if (!Array.isArray(queues) || queues.length !== this.size)
      throw new TraitsError("EINVAL", `queues must be an array of ${this.size} frame lists, one per worker`);
    const seen = new Set<number>(),
      frames = this.results.frames();
    let offset = 0;
    return queues.map((queue, w) => {
      if (offset + queue.length > this.pool.count)
        throw new TraitsError("EINVAL", `the queues hold more than the pool's ${this.pool.count} frames`);
      for (let i = 0; i < queue.length; i++) {
        const frame = checkInteger(queue[i], `queues[${w}][${i}]`, 0, this.pool.count - 1);
        if (seen.has(frame))
          throw new TraitsError("EINVAL", `frame ${frame} is in two queues: workers must own their frames`);
        seen.add(frame);
        frames[offset + i] = frame;
      }
      const span = { offset, first: 0, n: queue.length, queued: true };
      offset += queue.length;
      return span;
    });
  }

  private done(worker: number, message: Done): void {
    const pending = this.pending;
    if (!pending || message.id !== pending.id) return; // a run that already failed
    if (message.error) {
      this.fail(workerError(worker, message.error));
      return;
    }
    Atomics.load(this.counter, 0); // pairs with the worker's Atomics.add: its writes are visible from here on
    pending.counts[worker] = message.count!;
    if (--pending.waiting === 0) {
      this.pending = undefined;
      pending.resolve(pending.counts.reduce((a, b) => a + b, 0));
    }
  }

  private fail(error: Error): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }

  /** A worker ended outside close(): the run under way and every later one fail with `error`. */
  private died(error: Error): void {
    this.broken ??= error;
    this.fail(this.broken);
  }
}

/** How long close() lets a worker finish its task before it is terminated (it then ends at once, handing over all it printed). */
const CLOSE_GRACE_MS = 5000;

/** Asks a worker to end (after its task), and resolves when it has; terminates it after CLOSE_GRACE_MS. */
function stopWorker(worker: Worker): Promise<void> {
  if (worker.threadId < 0) return Promise.resolve(); // already ended
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => void worker.terminate(), CLOSE_GRACE_MS);
    worker.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    worker.postMessage({ close: true });
  });
}

/**
 * Resolves once what `workers` printed on `name` has left this process: each one's stream (which Node
 * pipes into this process's) has ended, and this process's stream has written what it holds (a pipe
 * or socket whose reader lags holds it; process.exit() would drop it). At once if this process's
 * stream is closed (EPIPE): there is nowhere left to write.
 */
function printed(workers: Worker[], name: "stdout" | "stderr"): Promise<void> {
  const out = process[name];
  if (out.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      out.off("close", done);
      resolve();
    };
    out.once("close", done);
    void Promise.all(workers.map((worker) => worker[name].readableEnded || once(worker[name], "end"))).then(() =>
      out.writableLength > 0 ? out.write("", done) : done(),
    );
  });
}

/**
 * The worker script's URL: worker.js beside this module in the package; packet-traits-worker.js
 * beside the bundle when a bundler has moved this module (in a CommonJS bundle import.meta is empty:
 * the bundle's __filename). Throws ENOENT, saying how to make it, if it is not there.
 */
function workerScript(): URL {
  const here = new URL(import.meta.url ?? pathToFileURL(__filename).href);
  const bundled = !/\/workers\/workers\.js$/.test(here.pathname);
  const script = new URL(bundled ? "./packet-traits-worker.js" : "./worker.js", here);
  if (!existsSync(script))
    throw new TraitsError(
      "ENOENT",
      bundled
        ? `WorkerGroup cannot find its worker script ${fileURLToPath(script)}: packet-traits was bundled without it. ` +
            "Build it beside your bundle as a second entry point (esbuild app.js packet-traits-worker=node_modules/packet-traits/dist/workers/worker.js --bundle --platform=node --outdir=out), " +
            "or leave packet-traits out of the bundle (esbuild --external:packet-traits)"
        : `WorkerGroup cannot find its worker script ${fileURLToPath(script)}: the packet-traits package is incomplete (reinstall it)`,
    );
  return script;
}

interface WorkerError {
  message: string;
  stack: string;
  code?: string;
}

interface Done {
  id: number;
  count?: number;
  error?: WorkerError;
}

/**
 * Node options for the workers: the process's, without those of an inline script (--input-type,
 * -e/--eval, -p/--print and its text), and without those a worker cannot take (V8 and process-wide
 * flags such as --expose-gc, --max-old-space-size, --title: they apply to the workers anyway, or not
 * at all). Node names the ones it refuses when a Worker is created; they are learnt once per process.
 */
let workerExecArgv: string[] | undefined;

/** @internal Starts a worker with the process's options that a worker accepts (see workerExecArgv). */
export function startWorker(entry: URL, options: WorkerOptions): Worker {
  workerExecArgv ??= withoutInlineScript(process.execArgv);
  try {
    return new Worker(entry, { ...options, execArgv: workerExecArgv });
  } catch (error) {
    const refused =
      (error as { code?: string }).code === "ERR_WORKER_INVALID_EXEC_ARGV" &&
      /flags: (.+)$/.exec((error as Error).message)?.[1]?.split(", ");
    if (!refused) throw error;
    workerExecArgv = withoutFlags(workerExecArgv, refused);
    return new Worker(entry, { ...options, execArgv: workerExecArgv });
  }
}

function withoutInlineScript(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (/^(-e|--eval|-p|--print|--input-type)$/.test(arg)) i++;
    else if (!/^--(eval|print|input-type)=/.test(arg)) out.push(arg);
  }
  return out;
}

/** `argv` without the flags named (as Node names them: "--flag" or "--flag=value"), and a separate value that follows one. */
function withoutFlags(argv: string[], flags: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (!flags.includes(argv[i]!)) out.push(argv[i]!);
    else if (!argv[i]!.includes("=") && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith("-")) i++;
  }
  return out;
}

/**
 * An Error for the caller from a worker's error, with the worker's stack: a TraitsError if its code
 * is an errno name, else an Error that keeps the code (e.g. "ERR_INVALID_ARG_TYPE") as `.code`.
 */
function workerError(id: number, error: WorkerError): Error {
  const message = `worker ${id}: ${error.message.replace(/^E[A-Z]+: /, "")}`;
  const result =
    error.code && error.code in Errno
      ? new TraitsError(error.code as ErrnoName, message)
      : Object.assign(new Error(`worker ${id}: ${error.message}`), error.code ? { code: error.code } : {});
  result.stack = `${result.name}: ${result.message}\n    --- in worker ${id} ---\n${error.stack}`;
  return result;
}

/**
 * The error of a worker that ended by itself (EOWNERDEAD: the owner of frames died, and they may be
 * half-done), naming it, what the group was doing (`during`), and how it ended: its exit code (a
 * thread has no signal of its own), or what it threw that nothing caught, kept as `cause`.
 */
function workerDeath(id: number, code: number, thrown: Error | undefined, during: string): Error {
  const how = !thrown
    ? `it exited with code ${code} (process.exit in the handler, or the thread was terminated)`
    : (thrown as { code?: string }).code === "ERR_WORKER_OUT_OF_MEMORY"
      ? `it ran out of memory (${thrown.message})`
      : `${thrown.message} (an error nothing caught in the worker)`;
  const error = new TraitsError(
    "EOWNERDEAD",
    `worker ${id} died ${during}: ${how}; the WorkerGroup cannot run any more`,
  );
  if (thrown) {
    error.cause = thrown;
    error.stack = `${error.name}: ${error.message}\n    --- in worker ${id} ---\n${thrown.stack ?? ""}`;
  }
  return error;
}
