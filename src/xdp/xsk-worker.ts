/**
 * The entry point of an XskGroup's worker thread: attaches to the shared pool, opens an AF_XDP socket
 * for each of its queues, then runs receive -> handler -> release/transmit until the group stops,
 * sleeping in poll() whenever its sockets have nothing.
 */
import { writeSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { Scratch } from "../core/abi.js";
import { describe } from "../core/options.js";
import { jsCoreOf } from "../core/select.js";
import { wasmCoreOf } from "../core/wasm.js";
import { Burst } from "../pool/burst.js";
import { PacketPool } from "../pool/pool.js";
import { SharedKeyRegistry } from "../registry/shared-registry.js";
import { Counter, type XskWorkerInit, type XskWorkerMessage } from "./group.js";
import { XdpAction } from "./program.js";
import { XskSocket, XskWaiter } from "./xsk.js";

/** The argument of an XskGroup handler's `burst(ctx)` (and of its optional `open(ctx)`, `idle(ctx)` and `close(ctx)`). */
export interface XskContext {
  /** The shared pool, as this worker sees it. */
  pool: PacketPool;
  /** The frames just received on `queue`, selected (empty in open(), idle() and close()). */
  burst: Burst;
  /**
   * What happens to each frame of the burst after burst(ctx) returns: verdicts[i] is XdpAction.DROP
   * (1, preset: the frame goes back to the fill ring) or XdpAction.TX (3: its packet, [head, head +
   * length) as the handler left it, is transmitted on the same socket, with no copy; the frame comes
   * back through the completion ring). Any other value fails the group (EINVAL).
   */
  verdicts: Uint8Array;
  /** The queue the burst came from, and its socket. */
  queue: number;
  socket: XskSocket;
  /** This worker's index, 0..workers-1. */
  worker: number;
  /** The `args` of XskGroup.open (structured-cloned). */
  args: unknown;
  /** The group's SharedKeyRegistry, if it has one. */
  registry: SharedKeyRegistry | undefined;
  /** Stops the whole group (every worker ends its loop after its current burst). */
  stop(): void;
}

type Hook = (ctx: XskContext) => unknown;

/** Empty receives in a row before a worker sleeps in poll(): a short spin keeps a busy queue off the syscall. */
const SPINS = 64;
/** How long a worker sleeps at most in poll() (the eventfd wakes it at once on stop). */
const SLEEP_MS = 1000;
/** How many times a transmission that found the tx ring full is retried (reclaiming in between) before its frames are dropped. */
const TX_RETRIES = 64;

const init = workerData as XskWorkerInit;
const port = parentPort!;
const registry = init.registry && SharedKeyRegistry.from(init.registry);
const core = (init.impl === "wasm" && wasmCoreOf(init.pool.memory, init.scratch)) || jsCoreOf(init.pool.memory);
const pool = PacketPool.attach(init.pool, core, init.scratch + Math.ceil(Scratch.BYTES / 64) * 64, registry);
const { control, statistics } = init;

/** One of this worker's queues: its socket, bursts and place in the statistics. */
interface Queue {
  queue: number;
  at: number;
  socket: XskSocket;
  rx: Burst;
  tx: Burst;
  completion: Burst;
  /** Frames on the tx ring not yet taken back. */
  inFlight: number;
}

const stop = () => {
  Atomics.store(control, 0, 1);
  writeSync(init.wake, new BigUint64Array([1n]));
};

async function main(): Promise<void> {
  const module = (await import(init.handler)) as { open?: Hook; burst?: Hook; idle?: Hook; close?: Hook };
  if (typeof module.burst !== "function") throw new Error(`${init.handler} does not export a burst(ctx) function`);
  const queues: Queue[] = [];
  try {
    for (const q of init.queues) {
      const socket = XskSocket.bind({
        pool,
        device: init.device,
        queue: q.queue,
        mode: init.mode,
        ringSize: init.ringSize,
        frames: { first: q.first, count: q.count },
        umem: init.umem === "separate" ? "frames" : init.shareWith < 0 ? "pool" : { shareWith: init.shareWith },
      });
      if (init.shareWith < 0 && init.umem === "shared") init.shareWith = socket.fd;
      queues.push({
        queue: q.queue,
        at: Counter.SIZE * q.index,
        socket,
        rx: Burst.attach(pool, q.rx),
        tx: Burst.attach(pool, q.tx),
        completion: Burst.attach(pool, q.completion),
        inFlight: 0,
      });
    }
    const ctx: XskContext = {
      pool,
      burst: queues[0]!.rx,
      verdicts: new Uint8Array(queues[0]!.rx.capacity),
      queue: queues[0]!.queue,
      socket: queues[0]!.socket,
      worker: init.worker,
      args: init.args,
      registry,
      stop,
    };
    ctx.burst.selectFrames(undefined, 0);
    module.open?.(ctx); // before XskGroup.open resolves: an error here fails it, with nothing attached
    port.postMessage({ opened: queues.map((q) => ({ queue: q.queue, fd: q.socket.fd })) } satisfies XskWorkerMessage);
    if (!(await go())) return;
    let result: unknown;
    try {
      loop(queues, ctx, module.burst, module.idle);
    } catch (error) {
      stop(); // the whole group, before this worker's sockets close
      throw error;
    } finally {
      // Even after an error: what the handler holds (a capture's buffered packets) is written out.
      for (const q of queues) drain(q);
      for (const q of queues) statistics[q.at + Counter.HELD] = q.socket.held;
      ctx.burst.selectFrames(undefined, 0);
      result = module.close?.(ctx);
    }
    port.postMessage({
      stopped: true,
      result,
      kernel: queues.map((q) => ({ index: q.at / Counter.SIZE, counters: q.socket.statistics() })),
    } satisfies XskWorkerMessage);
  } finally {
    for (const q of queues) q.socket.close();
  }
}

/** Waits for the group's word: true to start, false to end (the group failed to open, or was closed). */
function go(): Promise<boolean> {
  return new Promise((resolve) => port.once("message", (message: { go: boolean }) => resolve(message.go)));
}

/** Receives, hands each burst to the handler and carries out its verdicts, until the stop flag is set. */
function loop(queues: Queue[], ctx: XskContext, burst: Hook, idle: Hook | undefined): void {
  const waiter = new XskWaiter(
    queues.map((q) => q.socket),
    init.wake,
  );
  const zeroCopy = init.mode === "zero-copy";
  let empty = 0;
  while (Atomics.load(control, 0) === 0) {
    let got = 0;
    for (const q of queues) {
      if (q.inFlight > 0) reclaim(q);
      const n = q.socket.receive(q.rx);
      if (n === 0) continue;
      got += n;
      statistics[q.at + Counter.RECEIVED]! += n;
      ctx.burst = q.rx;
      ctx.queue = q.queue;
      ctx.socket = q.socket;
      ctx.verdicts.fill(XdpAction.DROP, 0, n);
      burst(ctx);
      carryOut(q, ctx.verdicts, n);
      // A zero-copy driver that ran out of frames asks for a wakeup to go on filling: poll() gives it.
      if (zeroCopy && q.socket.needsWakeup) waiter.wait(0);
    }
    if (got > 0) empty = 0;
    else if (++empty >= SPINS) {
      empty = 0;
      ctx.burst.selectFrames(undefined, 0);
      idle?.(ctx);
      waiter.wait(SLEEP_MS);
    }
  }
}

/** Releases the frames of verdict DROP to the fill ring and transmits those of verdict TX. */
function carryOut(q: Queue, verdicts: Uint8Array, n: number): void {
  const frames = q.rx.frames(),
    out = q.tx.frames();
  for (let i = 0; i < n; i++)
    if (verdicts[i] !== XdpAction.DROP && verdicts[i] !== XdpAction.TX)
      throw Object.assign(
        new Error(
          `the handler left verdict ${describe(verdicts[i])} for frame ${frames[i]} of queue ${q.queue}: XdpAction.DROP (1) or XdpAction.TX (3)`,
        ),
        { code: "EINVAL" },
      );
  let kept = 0,
    sent = 0;
  for (let i = 0; i < n; i++) {
    if (verdicts[i] === XdpAction.TX) out[sent++] = frames[i]!;
    else frames[kept++] = frames[i]!;
  }
  if (kept > 0) {
    q.socket.release(q.rx.selectFrames(undefined, kept));
    statistics[q.at + Counter.DROPPED]! += kept;
  }
  if (sent > 0) transmit(q, sent);
}

/** Puts the first n frames of q.tx on the tx ring; a full ring is retried, reclaiming between, then its rest dropped. */
function transmit(q: Queue, n: number): void {
  const out = q.tx.frames();
  for (let tries = 0; n > 0; tries++) {
    const queued = q.socket.send(q.tx.selectFrames(undefined, n));
    q.inFlight += queued;
    n -= queued;
    if (n === 0) return;
    out.copyWithin(0, queued, queued + n);
    if (tries === TX_RETRIES) break;
    reclaim(q);
  }
  q.socket.release(q.tx.selectFrames(undefined, n));
  statistics[q.at + Counter.TX_FAILED]! += n;
}

/** Takes transmitted frames off the completion ring, back to the fill ring. */
function reclaim(q: Queue): void {
  const n = q.socket.reclaim(q.completion);
  if (n === 0) return;
  q.socket.release(q.completion);
  q.inFlight -= n;
  statistics[q.at + Counter.TRANSMITTED]! += n;
}

/** At the end: waits (up to a second) for the frames still on the tx ring, and takes them back. */
function drain(q: Queue): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; q.inFlight > 0 && waited < 1000; waited++) {
    q.socket.send(q.tx.selectFrames(undefined, 0)); // a wakeup for what is still on the ring
    reclaim(q);
    if (q.inFlight > 0) Atomics.wait(pause, 0, 0, 1);
  }
}

/** What the main thread learns of anything thrown. */
function report(error: unknown): Extract<XskWorkerMessage, { error: unknown }>["error"] {
  if (!(error instanceof Error))
    return { name: "Error", message: `the handler threw ${describe(error)}, not an Error`, stack: "" };
  const { code, errno } = error as { code?: unknown; errno?: unknown };
  return {
    name: error.name,
    message: error.message,
    stack: error.stack ?? "",
    ...(typeof code === "string" && { code }),
    ...(typeof errno === "number" && { errno }),
  };
}

main()
  .catch((error: unknown) => {
    Atomics.store(control, 0, 1);
    try {
      writeSync(init.wake, new BigUint64Array([1n]));
    } catch {
      // The group closed the eventfd already: nobody is waiting.
    }
    port.postMessage({ error: report(error) } satisfies XskWorkerMessage);
  })
  .finally(() => port.close());
