/**
 * The XskGroup handler of `packet-traits xdp capture` (run in the group's one worker): writes every
 * packet of every queue, as it arrives, into one pcapng through a BlockWriter in the shared memory,
 * with its store in the traits option, its queue as epb_queue, the redirect that brought it as
 * epb_verdict (XDP_REDIRECT), our comment, and its rx timestamp as the packet time.
 * The header goes out at once, a packet at most FLUSH_MS after it arrived (when traffic pauses, at
 * once; with -U each burst at once). With --format parquet, rows go to a LiveParquetWriter instead
 * (each part of --rows-per-file published as soon as it is complete).
 */
import type { KeyName } from "../capture/capture.js";
import { Output } from "../capture/io.js";
import { BlockWriter, packetBlock } from "../capture/writer.js";
import type { Profile } from "../core/options.js";
import { LiveParquetWriter } from "../export/live.js";
import type { XskContext } from "../xdp/xsk-worker.js";
import { print } from "./args.js";

/** A live capture's output is written at most this long after a packet arrives. */
export const FLUSH_MS = 100;

/** What xdp capture tells its handler (XskGroup's args). */
export interface CaptureArgs {
  /** OUT, or "-" for `stdout`. */
  output: string;
  stdout: number;
  stderr: number;
  profile: Profile;
  names: KeyName[];
  metaLength: number;
  /** Packets to write before stopping (Infinity: no limit). */
  limit: number;
  /** -U: each burst out at once. */
  buffered: boolean;
  /** Where in the shared memory CAPTURE_SCRATCH bytes are the handler's: an empty store (16 zero bytes) for the packets without traits. */
  scratch: number;
  /** pcapng, or parquet: rows as pcap export writes them. */
  format: "pcapng" | "parquet";
  /** With parquet: OUT is a folder of parts of this many rows. */
  rowsPerFile: number | undefined;
}

/** Bytes of the handler's scratch (CaptureArgs.scratch): an empty store. */
export const CAPTURE_SCRATCH = 16;

/** What the handler returns at the end: packets written, of them without traits. */
export interface CaptureResult {
  total: number;
  withoutTraits: number;
}

let writer: BlockWriter | undefined,
  parquet: LiveParquetWriter | undefined,
  bytes: Uint8Array,
  sink: Output | undefined,
  noTraits: Uint8Array[] = [],
  total = 0,
  withoutTraits = 0,
  /** When the oldest packet not yet written out arrived (0: none waiting). */
  waitingSince = 0,
  failed = false;
const ticks = new Uint32Array(2),
  /** Each packet: the queue (set per burst), the redirect that brought it (XDP_REDIRECT), our comment (for the Wireshark plugin). */
  block = { ...packetBlock(), verdict: 4, comment: true };

/**
 * Before the group starts (XskGroup calls open(ctx) before it attaches the program): opens stdout or
 * the Parquet rows' writer (which writes beside OUT until it renames), writing the header; a pcapng
 * file is only checked, not opened (a capture that cannot start, say for a program that does not
 * load, leaves an old file as it was): its header is written once the capture runs.
 */
export function open(ctx: XskContext): void {
  const args = ctx.args as CaptureArgs;
  if (args.format === "pcapng" && args.output !== "-") Output.checkLive(args.output);
  else start(ctx);
}

/** Opens OUT at the first call (the first once the capture runs): a pcapng with its header written out, or the Parquet rows' writer. */
function start(ctx: XskContext): void {
  if (writer || parquet) return;
  const args = ctx.args as CaptureArgs,
    encoder = new TextEncoder();
  bytes = new Uint8Array(ctx.pool.memory.buffer);
  bytes.fill(0, args.scratch, args.scratch + CAPTURE_SCRATCH);
  noTraits = [
    encoder.encode(
      `xdp: no traits: the metadata area is not a ${args.metaLength}-byte store of profile ${args.profile}`,
    ),
  ];
  if (args.format === "parquet") {
    parquet = new LiveParquetWriter(args.output, {
      names: args.names,
      profile: args.profile,
      rowsPerFile: args.rowsPerFile,
      stdout: args.stdout,
    });
    return;
  }
  sink = Output.live(args.output, args.stdout);
  writer = new BlockWriter(sink, bytes, args.profile, args.names);
  writer.pcapHeader({ interfaces: [{ linkType: 1 }], snapLength: 65535, nanoseconds: true, fcsBytes: -1 });
  writer.flush();
}

/** Writes the burst's packets (up to the limit, then stops the group). */
export function burst(ctx: XskContext): void {
  start(ctx);
  const args = ctx.args as CaptureArgs,
    { pool, burst } = ctx,
    frames = burst.frames(),
    status = burst.status(),
    clock = Date.now(),
    now = BigInt(clock) * 1_000_000n,
    n = Math.min(burst.length, args.limit - total);
  block.queue = ctx.queue;
  for (let i = 0; i < n; i++) {
    const frame = frames[i]!,
      traits = pool.traits(frame),
      length = pool.length(frame),
      dataAt = pool.frameStart(frame) + pool.head(frame),
      size = status[i] === 0 ? traits.trySize() : -1;
    if (size < 0 && withoutTraits++ === 0)
      print(
        args.stderr,
        `xdp capture: packet ${total + i} (queue ${ctx.queue}): the program's metadata area is not a ${args.metaLength}-byte traits store of profile ${args.profile}${status[i] === 0 ? "" : " (the program made an area of another length)"}: written without traits\n`,
      );
    // The receive program's timestamp (key 63), else the time of the burst.
    const stamp = size >= 0 && traits.has(63) ? (traits.get(63) as bigint) : now;
    if (parquet) {
      parquet.packet(ctx.queue, bytes, dataAt, length, stamp, pool.storeStart(frame), size);
      continue;
    }
    ticks[0] = Number(stamp & 0xffffffffn);
    ticks[1] = Number(stamp >> 32n);
    block.tsHigh = ticks[1]!;
    block.tsLow = ticks[0]!;
    block.original = block.captured = length;
    block.dataAt = dataAt;
    block.storeAt = size < 0 ? args.scratch : pool.storeStart(frame);
    block.storeSize = size < 0 ? 16 : size;
    block.notes = size < 0 ? noTraits : [];
    writer!.packet(block);
  }
  total += n;
  if (writer) {
    if (n > 0) waitingSince ||= clock;
    // Out as the packets come: each burst at once with -U, else FLUSH_MS after the oldest arrived (idle() flushes when traffic pauses).
    if (waitingSince && (args.buffered || clock - waitingSince >= FLUSH_MS)) flush(writer);
    else writer.flushChunk();
  }
  if (total >= args.limit) ctx.stop();
}

/** Traffic paused: what is buffered goes out now (and -c 0 ends here, with no packet). */
export function idle(ctx: XskContext): void {
  start(ctx);
  if (writer && waitingSince) flush(writer);
  if (total >= (ctx.args as CaptureArgs).limit) ctx.stop();
}

function flush(out: BlockWriter): void {
  try {
    out.flush();
  } catch (error) {
    failed = true;
    throw error;
  }
  waitingSince = 0;
}

/**
 * The end: writes out what is buffered (unless the output already failed) and closes OUT; Parquet's
 * last rows are written and its file renamed into place (if that fails, the parts published stay and
 * the one being written is removed).
 */
export function close(ctx: XskContext): CaptureResult {
  start(ctx);
  if (parquet) {
    try {
      parquet.close();
    } catch (error) {
      parquet.abort();
      throw error;
    }
    return { total, withoutTraits };
  }
  try {
    if (!failed) writer!.flush();
  } finally {
    sink!.commit();
  }
  return { total, withoutTraits };
}
