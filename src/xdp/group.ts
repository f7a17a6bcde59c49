/**
 * XskGroup: every queue of an interface in its own AF_XDP socket, each socket's receive -> handler ->
 * release (or transmit) loop in a worker thread, all of them over one PacketPool in a shared
 * WebAssembly memory. Each socket owns a range of the pool's frames (its own UMEM over them, or one
 * UMEM shared with XDP_SHARED_UMEM); one XDP program, attached once, redirects every queue to its
 * socket through its XSKMAP. An idle worker sleeps in poll(); the main thread never blocks.
 */
import { readdirSync, writeSync } from "node:fs";
import { FileError } from "../capture/io.js";
import type { Worker } from "node:worker_threads";
import { Errno, TraitsError, type ErrnoName } from "../core/errors.js";
import { checkInteger, describe } from "../core/options.js";
import { arenaOf } from "../core/memory.js";
import type { Burst, BurstLayout } from "../pool/burst.js";
import { PacketPool } from "../pool/pool.js";
import { SharedKeyRegistry } from "../registry/shared-registry.js";
import { WORKER_SCRATCH, startWorker, type FileUrl } from "../workers/workers.js";
import { XskProgram } from "./attach.js";
import { BpfError } from "./errors.js";
import { getNative } from "./ffi.js";
import { RECEIVE_PROGRAM } from "./programs.js";
import { checkDeclaration, readStatistics, type XskMode, type XskStatistics } from "./xsk.js";

/** Options of XskGroup.open. */
export interface XskGroupOptions {
  /** Interface name. */
  device: string;
  /** The rx queues to serve: "all" (default: every rx queue the interface has) or a list. */
  queues?: "all" | readonly number[];
  /**
   * The pool, in a shared WebAssembly memory, whose frames are the UMEM: placement "metadata" (its
   * metaLength = what the program makes), frameSize 2048 or 4096. Each queue gets an equal range of
   * its frames (an even number of 2048-byte frames, so that each range starts a page).
   */
  pool: PacketPool;
  /**
   * A module (path or file URL) exporting `burst(ctx)`, called in the queue's worker for every burst
   * received (see XskContext); optionally `open(ctx)`, called once in each worker before open()
   * resolves (an error there fails open(), with nothing attached), `idle(ctx)`, called when the
   * worker's queues have nothing, before it sleeps, and `close(ctx)`, called once at the end, whose
   * return value (structured-cloned) is the worker's entry in what close() resolves to.
   */
  handler: string | FileUrl;
  /** Given to the handler as ctx.args (structured-cloned). */
  args?: unknown;
  /** Worker threads, 1 to the number of queues (default: one per queue); queue i goes to worker i % workers. */
  workers?: number;
  /** The XDP object (default the shipped receive program): device-bound, its XSKMAP `xsks` gets every socket. */
  program?: string;
  /** "copy" (default) or "zero-copy", asked for explicitly: never a fallback (BpfError EOPNOTSUPP where the driver has none). */
  mode?: XskMode;
  /**
   * "separate" (default): each socket registers its own frames as its UMEM; "shared": the first socket
   * registers the whole pool and the others bind to it with XDP_SHARED_UMEM. Measured the same in copy
   * mode (BENCHMARKS.md); "separate" pins and maps each range once.
   */
  umem?: "separate" | "shared";
  /** Entries of each ring: a power of two up to a queue's frames (rounded up); default 2048 or that bound. */
  ringSize?: number;
  /** Most frames per receive (and per handler call), 1 to 4096; default 256. */
  burst?: number;
  /** Value slots per frame of the handler's burst (default 4). */
  slots?: number;
  /** A SharedKeyRegistry every worker sees (ctx.registry, strict stores). */
  registry?: SharedKeyRegistry;
}

/** What a queue of an XskGroup did. */
export interface XskQueueStatistics {
  queue: number;
  /** Packets received (handed to the handler). */
  received: number;
  /** Frames given back to the fill ring after the handler (verdict XDP_DROP). */
  dropped: number;
  /** Frames transmitted (verdict XDP_TX) and taken back off the completion ring. */
  transmitted: number;
  /** Frames that went to the tx ring and found no room there after retries: given back to the fill ring. */
  txFailed: number;
  /** Frames the kernel did not hold for filling when the worker ended (0: none leaked); -1 while running. */
  held: number;
  /** The kernel's counters of the socket (XDP_STATISTICS): at the end, or live while running. */
  kernel: XskStatistics;
}

/** @internal Where each queue's counters are in the shared statistics (a Float64Array): queue i's at SIZE * i + the counter. */
export const Counter = { RECEIVED: 0, DROPPED: 1, TRANSMITTED: 2, TX_FAILED: 3, HELD: 4, SIZE: 5 } as const;

/** @internal What a worker of an XskGroup is told at start (workerData). */
export interface XskWorkerInit {
  worker: number;
  pool: ReturnType<PacketPool["layout"]>;
  impl: "wasm" | "js";
  scratch: number;
  handler: string;
  args: unknown;
  registry: SharedArrayBuffer | undefined;
  /** Its queues: queue number, frames, index in the statistics, its bursts (rx, tx, completions). */
  queues: Array<{
    queue: number;
    index: number;
    first: number;
    count: number;
    rx: BurstLayout;
    tx: BurstLayout;
    completion: BurstLayout;
  }>;
  device: string;
  mode: XskMode;
  umem: "separate" | "shared";
  /** With umem "shared": the fd of the socket that registered the pool as the UMEM (-1: this worker's first socket does). */
  shareWith: number;
  ringSize: number | undefined;
  /** [stop flag]: set by close() or a handler's ctx.stop(). */
  control: Int32Array;
  /** The eventfd that wakes sleeping workers when the stop flag is set. */
  wake: number;
  statistics: Float64Array;
}

/** @internal Messages of an XskGroup's worker. */
export type XskWorkerMessage =
  | { opened: Array<{ queue: number; fd: number }> }
  | { stopped: true; result: unknown; kernel: Array<{ index: number; counters: XskStatistics }> }
  | { error: { name: string; message: string; code?: string; errno?: number; stack: string } };

/** How long a worker may take to end (drain its tx, run close(ctx)) once stopped, before it is terminated. */
const CLOSE_GRACE_MS = 5000;

/** What a worker left at its end: its handler's close(ctx) result and its sockets' last kernel counters. */
interface Ended {
  result: unknown;
  kernel: Array<{ index: number; counters: XskStatistics }>;
}

/**
 * AF_XDP sockets on several queues of an interface, each served by a worker thread running a
 * handler over the bursts it receives, over one pool in a shared WebAssembly memory.
 */
export class XskGroup {
  /** The queues served, in the order of the statistics. */
  readonly queues: readonly number[];
  readonly device: string;
  /** "copy" or "zero-copy", as asked for (there is no fallback). */
  readonly mode: XskMode;
  /**
   * Resolves once every worker has ended (after close(), or a handler's ctx.stop()), to each worker's
   * close(ctx) result; rejects with the first worker error (the other workers are then stopped). The
   * program is detached and the sockets closed either way.
   */
  readonly done: Promise<unknown[]>;
  readonly #native = getNative();
  readonly #workers: Worker[] = [];
  readonly #control = new Int32Array(new SharedArrayBuffer(4));
  readonly #statistics: Float64Array;
  readonly #wake: number;
  /** Each queue's socket fd (while running), and its last kernel counters (once ended). */
  readonly #fds: number[] = [];
  #final: XskStatistics[] | undefined;
  #program: XskProgram | undefined;
  #ended: Array<Promise<Ended>> = [];
  #release: () => void = () => {};
  #timer: ReturnType<typeof setTimeout> | undefined;

  private constructor(queues: number[], device: string, mode: XskMode) {
    this.queues = queues;
    this.device = device;
    this.mode = mode;
    this.#statistics = new Float64Array(new SharedArrayBuffer(8 * Counter.SIZE * queues.length));
    this.#wake = this.#native.eventfd();
    if (this.#wake < 0) throw new BpfError(this.#native.errno(), "eventfd() for the workers' wakeups");
    this.done = new Promise<unknown[]>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    this.done.catch(() => {});
  }

  #settle!: { resolve(results: unknown[]): void; reject(error: Error): void };

  /**
   * Opens a socket per queue (each over its range of the pool's frames), starts the workers and their
   * handlers, attaches the program once for all queues, and resolves when packets flow. Rejects with
   * TraitsError EINVAL for bad options (a pool not in shared memory or too small for the queues, a
   * queue the interface does not have, a metadata length or profile other than the program declares),
   * BpfError for what the kernel refuses (as XskSocket.open: EPERM, ENODEV, EBUSY, EOPNOTSUPP for
   * zero-copy on a driver without it), or a handler module's load error. On error nothing is left
   * open, attached or running.
   */
  static async open(options: XskGroupOptions): Promise<XskGroup> {
    const { pool, device, mode = "copy", umem = "separate", program = RECEIVE_PROGRAM } = options ?? {};
    if (!(pool instanceof PacketPool) || !(pool.memory.buffer instanceof SharedArrayBuffer))
      throw new TraitsError(
        "EINVAL",
        "an XskGroup needs a PacketPool in a shared WebAssembly.Memory (new WebAssembly.Memory({ initial, maximum, shared: true }))",
      );
    if (typeof device !== "string" || device === "")
      throw new TraitsError("EINVAL", `device must be an interface name, not ${describe(device)}`);
    if (umem !== "separate" && umem !== "shared")
      throw new TraitsError("EINVAL", `umem must be "separate" or "shared", not ${describe(umem)}`);
    if (mode !== "copy" && mode !== "zero-copy")
      throw new TraitsError("EINVAL", `mode must be "copy" or "zero-copy", not ${describe(mode)}`);
    const queues = pickQueues(device, options.queues ?? "all");
    const workers = checkInteger(options.workers ?? queues.length, "workers", 1, queues.length),
      burst = checkInteger(options.burst ?? 256, "burst", 1, 4096),
      slots = checkInteger(options.slots ?? 4, "slots", 1, 64);
    if (options.registry !== undefined && !(options.registry instanceof SharedKeyRegistry))
      throw new TraitsError("EINVAL", `registry must be a SharedKeyRegistry, not ${describe(options.registry)}`);
    const handler = handlerUrl(options.handler);
    // Equal ranges of frames; an even number of 2048-byte frames keeps each range on a page boundary.
    const per = Math.floor(pool.count / queues.length) & (pool.frameSize < 4096 ? ~1 : ~0);
    if (per < 2)
      throw new TraitsError(
        "EINVAL",
        `the pool's ${pool.count} frames are too few for ${queues.length} queues (2 or more each)`,
      );
    checkDeclaration(program, pool);
    const group = new XskGroup(queues, device, mode),
      arena = arenaOf(pool.memory),
      bursts: Burst[] = [],
      scratch: number[] = [];
    group.#release = () => {
      for (const b of bursts) b.release();
      for (const at of scratch) arena.release(at, WORKER_SCRATCH, 64);
      group.#native.closeFd(group.#wake);
    };
    const burstOf = (n: number, s: number) => {
      const b = pool.burst(n, { slots: s });
      bursts.push(b);
      return b.layout();
    };
    const inits: XskWorkerInit[] = Array.from({ length: workers }, (_, w) => {
      scratch.push(arena.alloc(WORKER_SCRATCH, 64));
      return {
        worker: w,
        pool: pool.layout(),
        impl: pool.impl,
        scratch: scratch[w]!,
        handler,
        args: options.args,
        registry: options.registry?.buffer,
        queues: [],
        device,
        mode,
        umem,
        shareWith: -1,
        ringSize: options.ringSize,
        control: group.#control,
        wake: group.#wake,
        statistics: group.#statistics,
      };
    });
    queues.forEach((queue, index) =>
      inits[index % workers]!.queues.push({
        queue,
        index,
        first: index * per,
        count: per,
        rx: burstOf(burst, slots),
        tx: burstOf(burst, 1),
        completion: burstOf(burst, 1),
      }),
    );
    const sockets: Array<{ queue: number; fd: number }> = [];
    try {
      // One worker at a time: with a shared UMEM, the first socket registers it before the others bind to it.
      for (const init of inits) {
        if (umem === "shared" && init.worker > 0) init.shareWith = sockets[0]!.fd;
        const worker = startWorker(workerEntry(), { workerData: init });
        group.#workers.push(worker);
        const { opened, ended } = follow(worker, init.worker);
        group.#ended.push(ended);
        sockets.push(...(await opened));
      }
      for (const queue of queues) group.#fds.push(sockets.find((s) => s.queue === queue)!.fd);
      group.#program = XskProgram.attach(program, device, getNative().ifIndex(device), sockets);
    } catch (error) {
      group.stop();
      await group.watch();
      throw error;
    }
    void group.watch();
    for (const worker of group.#workers) worker.postMessage({ go: true });
    return group;
  }

  /** Settles `done` once every worker has ended: detaches the program, keeps the last counters, gives back the shared arrays. */
  private async watch(): Promise<void> {
    const ended = await Promise.allSettled(this.#ended);
    this.#program?.close();
    this.#program = undefined;
    clearTimeout(this.#timer);
    const final = this.queues.map((_, i) => this.#lastKernel[i] ?? ZERO);
    for (const e of ended) if (e.status === "fulfilled") for (const k of e.value.kernel) final[k.index] = k.counters;
    this.#final = final;
    this.#release();
    const failed = ended.find((e) => e.status === "rejected");
    if (failed) this.#settle.reject(failed.reason as Error);
    else this.#settle.resolve(ended.map((e) => (e as PromiseFulfilledResult<Ended>).value.result));
  }

  /** What each queue did so far (in the order of `queues`); the kernel's counters are read live while the group runs. */
  statistics(): XskQueueStatistics[] {
    const s = this.#statistics;
    return this.queues.map((queue, i) => ({
      queue,
      received: s[Counter.SIZE * i + Counter.RECEIVED]!,
      dropped: s[Counter.SIZE * i + Counter.DROPPED]!,
      transmitted: s[Counter.SIZE * i + Counter.TRANSMITTED]!,
      txFailed: s[Counter.SIZE * i + Counter.TX_FAILED]!,
      held: this.#final ? s[Counter.SIZE * i + Counter.HELD]! : -1,
      kernel: this.#final?.[i] ?? this.liveKernel(i),
    }));
  }

  /**
   * Queue i's kernel counters, read from its socket while the group runs; once it is stopping (its
   * worker may be closing the socket: the flag is set before), the last read.
   */
  private liveKernel(i: number): XskStatistics {
    try {
      if (Atomics.load(this.#control, 0) === 0)
        this.#lastKernel[i] = readStatistics(this.#native, this.#fds[i]!, `${this.device} queue ${this.queues[i]}`);
    } catch (error) {
      if (Atomics.load(this.#control, 0) === 0) throw error; // closed under the read: the group is stopping
    }
    return this.#lastKernel[i] ?? ZERO;
  }
  #lastKernel: XskStatistics[] = [];

  /**
   * Stops: detaches the program, then every worker ends its loop (transmissions drained, frames back
   * in the fill ring), runs the handler's close(ctx) and closes its sockets. Resolves as `done` does.
   * Safe to call twice.
   */
  close(): Promise<unknown[]> {
    this.stop();
    return this.done;
  }

  /** Sets the stop flag and wakes the workers; one still running CLOSE_GRACE_MS later is terminated. */
  private stop(): void {
    this.#program?.close();
    this.#program = undefined;
    Atomics.store(this.#control, 0, 1);
    if (this.#timer || this.#final) return;
    writeSync(this.#wake, WAKE);
    for (const worker of this.#workers) worker.postMessage({ go: false });
    this.#timer = setTimeout(() => {
      for (const worker of this.#workers) void worker.terminate();
    }, CLOSE_GRACE_MS);
  }
}

/** Kernel counters before any was read. */
const ZERO: XskStatistics = { rxDropped: 0n, rxInvalid: 0n, txInvalid: 0n, rxRingFull: 0n, fillRingEmpty: 0n };

/** What a write to the eventfd adds to its counter: makes it readable, which wakes every poll() on it. */
const WAKE = new BigUint64Array([1n]);

/**
 * The rx queues of `device` (0, 1, ...), from /sys/class/net/DEVICE/queues (in the caller's network
 * namespace). Throws BpfError ENODEV if there is no such interface.
 */
export function rxQueues(device: string): number[] {
  try {
    return readdirSync(`/sys/class/net/${device}/queues`)
      .filter((name) => name.startsWith("rx-"))
      .map((name) => Number(name.slice(3)))
      .sort((a, b) => a - b);
  } catch {
    throw new BpfError(19, `no interface ${device}`);
  }
}

/** The rx queues `queues` names on `device` ("all": every one it has). Throws EINVAL for a queue it does not have. */
function pickQueues(device: string, queues: "all" | readonly number[]): number[] {
  const have = rxQueues(device),
    list = queues === "all" ? have : queues;
  if (!Array.isArray(list) || list.length === 0 || list.length > 64)
    throw new TraitsError("EINVAL", `queues must be "all" or a list of 1 to 64 queue numbers, not ${describe(queues)}`);
  const seen = new Set<number>();
  for (const q of list) {
    checkInteger(q, "queue", 0, 63);
    if (seen.has(q)) throw new TraitsError("EINVAL", `queue ${q} is listed twice`);
    if (!have.includes(q))
      throw new TraitsError("EINVAL", `${device} has no rx queue ${q} (it has ${have.length}: 0-${have.length - 1})`);
    seen.add(q);
  }
  return [...list];
}

function handlerUrl(given: unknown): string {
  if (typeof given === "string") return String(new URL(given, `file://${process.cwd()}/`));
  if (typeof (given as FileUrl | null)?.href === "string") return String(new URL((given as FileUrl).href));
  throw new TraitsError("EINVAL", `handler must be a path or a file URL, not ${describe(given)}`);
}

/** The worker module: xsk-worker.js in dist/xdp/ (beside this module, or, from the bundled dist/cli/bin.js, in ../xdp/). */
function workerEntry(): URL {
  return new URL("../xdp/xsk-worker.js", import.meta.url);
}

/**
 * Follows a worker: `opened` resolves to its sockets' fds (rejects with its error), `ended` to what it
 * left once it stopped (rejects with its error, or how it died).
 */
function follow(
  worker: Worker,
  id: number,
): { opened: Promise<Array<{ queue: number; fd: number }>>; ended: Promise<Ended> } {
  let open!: (fds: Array<{ queue: number; fd: number }>) => void, fail!: (error: Error) => void;
  const opened = new Promise<Array<{ queue: number; fd: number }>>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  const ended = new Promise<Ended>((resolve, reject) => {
    let error: Error | undefined, stopped: Ended | undefined;
    worker.on("message", (message: XskWorkerMessage) => {
      if ("opened" in message) open(message.opened);
      else if ("stopped" in message) stopped = { result: message.result, kernel: message.kernel };
      else error ??= fromWorker(id, message.error);
    });
    worker.on("error", (thrown) => {
      error ??= new TraitsError("EINVAL", `worker ${id} died: ${thrown.message} (an error nothing caught)`);
    });
    worker.on("exit", (code) => {
      error ??= stopped
        ? undefined
        : new TraitsError("EINVAL", `worker ${id} exited (code ${code}) before its loop ended`);
      if (error) {
        fail(error);
        reject(error);
      } else resolve(stopped!);
    });
  });
  opened.catch(() => {});
  ended.catch(() => {});
  return { opened, ended };
}

/**
 * The caller's error for a worker's, with the worker's stack: a BpfError or FileError as it was (one
 * line about the kernel or the user's file, as on the main thread), a TraitsError (errno names) or an
 * Error keeping its code, naming the worker.
 */
function fromWorker(
  id: number,
  e: { name: string; message: string; code?: string; errno?: number; stack: string },
): Error {
  const message = e.message.replace(/^E[A-Z0-9]+: /, "");
  const error =
    e.name === "BpfError" && e.errno !== undefined
      ? new BpfError(e.errno, message)
      : e.name === "FileError" && e.code
        ? new FileError(e.code, message)
        : e.code && e.code in Errno
          ? new TraitsError(e.code as ErrnoName, `worker ${id}: ${message}`)
          : Object.assign(new Error(`worker ${id}: ${e.message}`), e.code ? { code: e.code } : {});
  error.stack = `${error.name}: ${error.message}\n    --- in worker ${id} ---\n${e.stack}`;
  return error;
}
