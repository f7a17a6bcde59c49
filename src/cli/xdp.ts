/**
 * `packet-traits xdp run PROG.o IN OUT`: runs an XDP program over every packet of a capture with
 * BPF_PROG_TEST_RUN (as BPF developers unit-test programs) and writes each packet as the program
 * left it, with the traits store it left in its metadata area plus its verdict (key 58 unless told,
 * 4 bytes, named xdp_verdict), readable by `pcap show` and Wireshark. Streamed in bursts through a
 * PacketPool, in bounded memory; OUT is written through a temporary file (src/capture/io.ts).
 */
import { Errno, TraitsError, errnoName } from "../core/errors.js";
import { toProfile, type Profile } from "../core/options.js";
import { CaptureReader, READER_BYTES, type AsyncByteSource, type KeyName } from "../capture/capture.js";
import { hardwareNames } from "../capture/annotate.js";
import { transform } from "./transform.js";
import {
  BlockWriter,
  WRITER_BYTES,
  packetBlock,
  packetTicks,
  pipelineMemory,
  Pipeline,
  type ByteSink,
} from "../capture/writer.js";
import { PacketPool } from "../pool/pool.js";
import type { Burst } from "../pool/burst.js";
import { KeyRegistry } from "../registry/registry.js";
import { HARDWARE_FIRST_APP_KEY } from "../store/hardware.js";
import { TraitStore } from "../store/store.js";
import { BpfError } from "../xdp/errors.js";
import { linearLimit } from "../xdp/run.js";
import { readDeclaration } from "../xdp/declaration.js";
import { XdpProgram, xdpActionName } from "../xdp/program.js";
import { RECEIVE_KEYS, RECEIVE_PROGRAM } from "../xdp/programs.js";
import { XskGroup, rxQueues } from "../xdp/group.js";
import { UsageError, integer, parse, print, type Io } from "./args.js";
import { onStopSignals } from "./signals.js";
import { CAPTURE_SCRATCH, FLUSH_MS, type CaptureArgs, type CaptureResult } from "./xdp-capture.js";

/** The usage lines of the xdp commands (main.ts prints them with the others). */
export const XDP_USAGE = `  xdp run PROG.o IN OUT ...              run an XDP program over a capture (BPF_PROG_TEST_RUN; - for stdin/stdout)
  xdp capture --dev IF OUT ...           capture live through AF_XDP, each packet with its traits and queue (- for stdout)`;

/** The usage text of `xdp capture`. */
export const CAPTURE_USAGE = `usage: packet-traits xdp capture --dev IF [--queue Q | --queues all|LIST] [-c N] [-U] [--zero-copy] [--program P.o] [--meta-length N] [--format pcapng|parquet] [--rows-per-file N] OUT

Captures from rx queue Q (default 0), or the queues LIST (0,2,5 or 0-3) or all the queues of
interface IF, through an AF_XDP socket per queue whose frames are a PacketPool in WebAssembly memory,
until N packets (default: no limit) or SIGINT, SIGTERM or SIGHUP, and writes one pcapng (OUT, or - for
stdout): each packet with the traits store its XDP program wrote in the metadata area and the queue
it came on (epb_queue; tshark: frame.interface_queue), in arrival order per queue. The sockets are
served by a worker thread that sleeps in poll() while no packet comes. OUT is written as the packets
come (as tcpdump -w does), each at most ${FLUSH_MS} ms after it arrived: a capture that is killed leaves
a valid pcapng of all but its last ${FLUSH_MS} ms. The program (default: the shipped receive program,
bpf/receive.bpf.o) is attached once for all queues and always detached at the end. A packet whose
metadata area is not the program's store is written without traits, and said so.
  -i IF                  the same as --dev IF
  -U, --packet-buffered  write each burst out as soon as it arrives
  --zero-copy            bind in zero-copy mode (XDP_ZEROCOPY): an error where the driver has none
                         (veth); without it, copy mode (the mode in use is printed)
  --program P.o          another XDP program that writes a traits store and redirects to the
                         socket's XSKMAP
  --meta-length N        bytes of its metadata area: what it declares (TRAITS_PROGRAM in
                         bpf/traits.bpf.h; another value is an error), required if it declares none
  --format parquet       write rows as pcap export does (queue, xdp_verdict 4: the redirect), through a
                         temporary file renamed when the capture ends
  --rows-per-file N      with parquet: OUT is a folder of parts of N rows, each published
                         (part-00000.parquet, ...) as soon as it is complete`;

const CAPTURE = {
  dev: { type: "string" },
  interface: { type: "string", short: "i" },
  queue: { type: "string" },
  queues: { type: "string" },
  "zero-copy": { type: "boolean" },
  count: { type: "string", short: "c" },
  "packet-buffered": { type: "boolean", short: "U" },
  program: { type: "string" },
  "meta-length": { type: "string" },
  format: { type: "string" },
  "rows-per-file": { type: "string" },
} as const;

/** The usage text of `xdp run`. */
export const RUN_USAGE = `usage: packet-traits xdp run PROG.o IN OUT [--program NAME] [--profile v1|flags] [--registry FILE] [--verdict-key K] [-c N]

Runs the XDP program of PROG.o (BPF_PROG_TEST_RUN) over each packet of a pcap or pcapng capture (IN,
or - for stdin) and writes pcapng (OUT, or - for stdout): each packet as the program left it, with the
traits store it left in its metadata area plus its verdict, and the comments "traits: NAME=VALUE ..."
(read by wireshark/traits.lua) and "xdp: VERDICT". OUT is written through a temporary file in its
directory, renamed into place when complete: on any error it is untouched.
  --program NAME    the program in PROG.o (default: its only XDP program)
  --profile P       the profile of the program's stores: v1 or flags (default: what the program
                    declares with TRAITS_PROGRAM, else the registry's, else v1); another than the
                    program declares is an error
  --registry FILE   names of the program's keys, embedded in OUT (pcap show prints them)
  --verdict-key K   the key of the verdict, xdp_verdict (default ${HARDWARE_FIRST_APP_KEY - 1})
  -c, --count N     stop after N packets`;

const RUN = {
  program: { type: "string" },
  profile: { type: "string" },
  registry: { type: "string" },
  "verdict-key": { type: "string" },
  count: { type: "string", short: "c" },
} as const;

/**
 * Runs `packet-traits xdp ...` (argv without "xdp"); returns the exit code. A BpfError is one line on
 * stderr and exit code 1; other errors are main's to print.
 */
export function xdp(argv: string[], io: Io): number | Promise<number> {
  const [action, ...rest] = argv;
  const bpfError = (error: unknown): number => {
    if (!(error instanceof BpfError)) throw error;
    print(io.stderr, `packet-traits: ${error.message}\n`);
    return 1;
  };
  try {
    if (action === "run") {
      const code = run(rest, io);
      return typeof code === "number" ? code : code.catch(bpfError);
    }
    if (action === "capture") return capture(rest, io).catch(bpfError);
  } catch (error) {
    return bpfError(error);
  }
  if (action === "-h" || action === "--help") {
    print(io.stdout, `${RUN_USAGE}\n\n${CAPTURE_USAGE}\n`);
    return 0;
  }
  throw new UsageError(`unknown xdp action ${JSON.stringify(action ?? "")} (run, capture)`);
}

/** What xdp run needs besides the program: the profile, the verdict's key and the names written into OUT. */
interface RunOptions {
  profile: Profile;
  verdictKey: number;
  names: KeyName[];
  limit: number;
}

/** Runs `xdp run`: the exit code, or its promise once the arguments are checked (the capture is read between turns of the event loop, so that signals stop it with OUT as it was). */
function run(argv: string[], io: Io): number | Promise<number> {
  const p = parse(argv, RUN, RUN_USAGE, io);
  if (!p) return 0;
  const { values: v, positionals } = p,
    [object, input, output] = positionals;
  if (object === undefined || input === undefined || output === undefined || positionals.length > 3)
    throw new UsageError("xdp run takes PROG.o IN OUT");
  const verdictKey = integer(v["verdict-key"] ?? String(HARDWARE_FIRST_APP_KEY - 1), "--verdict-key", 0, 63);
  const registry = v.registry === undefined ? undefined : KeyRegistry.load(v.registry);
  const declared = readDeclaration(object)?.profile;
  const profile = toProfile(v.profile ?? registry?.profile ?? declared);
  if (registry && registry.profile !== profile)
    throw new UsageError(`the registry is for profile ${registry.profile}; pass --profile ${registry.profile}`);
  if (declared && declared !== profile)
    throw new UsageError(
      `${object} writes stores of profile ${declared} (its TRAITS_PROGRAM declaration), not ${profile}${registry ? "" : `: pass --profile ${declared}`}`,
    );
  const clash = registry?.entries().find((e) => e.key === verdictKey);
  if (clash)
    throw new TraitsError(
      "EBUSY",
      `${clash.name} uses key ${verdictKey}, where xdp run puts the verdict; pass --verdict-key with a free key`,
    );
  const named = new Map<number, KeyName>(
    [...hardwareNames(profile), ...(registry?.entries() ?? []), { name: "xdp_verdict", key: verdictKey, size: 4 }].map(
      (k) => [k.key, { name: k.name, key: k.key, size: k.size }],
    ),
  );
  const options: RunOptions = {
    profile,
    verdictKey,
    names: [...named.values()],
    limit: v.count === undefined ? Infinity : integer(v.count, "-c", 0, Number.MAX_SAFE_INTEGER),
  };
  return transform(input, output, io, async (source, sink, signal) => {
    const program = XdpProgram.load(object, v.program === undefined ? {} : { program: v.program });
    try {
      return await new XdpRun(program, sink, options).run(source, signal);
    } finally {
      program.close();
    }
  }).then((counts) => {
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    if (output !== "-")
      print(
        io.stdout,
        `xdp run: ${total} packets (${[...counts].map(([name, n]) => `${n} ${name}`).join(", ") || "none"}): ${output}\n`,
      );
    return 0;
  });
}

/** Frames per burst, and their size: a packet of up to 64 KiB less the headroom fits. */
const BURST = 64,
  FRAME_SIZE = 65536,
  HEADROOM = 256;
/** Room for a store with the verdict added, in the pipeline memory after the output buffer. */
const SCRATCH = HEADROOM + 16;

/**
 * The run: records are read in place (CaptureReader), copied into the frames of a PacketPool in the
 * same WebAssembly memory, run a burst at a time, and written by a BlockWriter. Returns the packets
 * per verdict name.
 */
class XdpRun {
  private readonly pool: PacketPool;
  private readonly burst: Burst;
  private readonly reader: CaptureReader;
  private readonly writer: BlockWriter;
  private readonly bytes: Uint8Array;
  private readonly scratch: number;
  private readonly encoder = new TextEncoder();
  /** The block of the packet being written: with our comment and the verdict. */
  private readonly block = { ...packetBlock(), comment: true };
  readonly counts = new Map<string, number>();
  /** The burst's packets as read: input length, original length, interface, options, drop count, timestamp ticks, byte order. */
  private readonly captured = new Int32Array(BURST);
  private readonly original = new Uint32Array(BURST);
  private readonly interfaceId = new Uint32Array(BURST);
  private readonly optionsAt = new Int32Array(BURST);
  private readonly optionsEnd = new Int32Array(BURST);
  private readonly dropCount = new Int32Array(BURST);
  private readonly ticks = new Uint32Array(2 * BURST);
  /** The program's return value for each packet of the burst. */
  private readonly verdicts = new Uint32Array(BURST);
  private littleEndian = true;
  private n = 0;
  private packets = 0;

  constructor(
    private readonly program: XdpProgram,
    sink: ByteSink,
    private readonly options: RunOptions,
  ) {
    const memory = pipelineMemory(SCRATCH);
    this.pool = new PacketPool({
      memory,
      count: BURST,
      frameSize: FRAME_SIZE,
      headroom: HEADROOM,
      profile: options.profile,
      hardwareKeys: "off",
      placement: "metadata",
    });
    this.burst = this.pool.burst(BURST);
    this.bytes = new Uint8Array(memory.buffer);
    this.scratch = READER_BYTES + WRITER_BYTES;
    this.writer = new BlockWriter(sink, this.bytes, options.profile, options.names);
    this.reader = new CaptureReader(undefined, this.bytes, 0);
  }

  /** Runs over the capture `input` gives (until `signal` aborts); resolves to the packets per verdict name. */
  async run(input: AsyncByteSource, signal: AbortSignal): Promise<Map<string, number>> {
    const stage = {
      pending: () => this.n,
      full: () => this.n === BURST,
      done: () => this.packets >= this.options.limit,
      stash: () => this.stash(),
      flushBurst: () => this.flushBurst(),
    };
    await new Pipeline(this.reader, this.writer, stage).run(input, signal);
    return this.counts;
  }

  /** Takes the current packet into frame n. */
  private stash(): void {
    const { reader, n } = this;
    if (HEADROOM + reader.captured > FRAME_SIZE)
      throw new TraitsError(
        "EMSGSIZE",
        `byte offset ${reader.offset}: packet ${reader.packet}: ${reader.captured} bytes do not fit a ${FRAME_SIZE}-byte frame after its ${HEADROOM}-byte headroom (xdp run takes packets of up to ${FRAME_SIZE - HEADROOM} bytes)`,
      );
    if (n === 0) this.littleEndian = reader.format === "pcap" || reader.littleEndian;
    this.pool.write(n, this.bytes.subarray(reader.dataAt, reader.dataAt + reader.captured));
    this.captured[n] = reader.captured;
    this.original[n] = reader.original;
    this.interfaceId[n] = reader.interfaceId;
    this.optionsAt[n] = reader.optionsAt;
    this.optionsEnd[n] = reader.optionsEnd;
    this.dropCount[n] = reader.dropCount;
    packetTicks(reader, this.ticks, 2 * n);
    this.n++;
    this.packets++;
  }

  /** Runs the program over the burst and writes its packets. */
  private flushBurst(): void {
    const { n, pool, burst } = this;
    if (n === 0) return;
    this.program.run(pool, burst.selectRange(0, n), this.verdicts);
    const status = burst.status();
    for (let i = 0; i < n; i++) {
      const index = this.packets - n + i,
        rc = status[i]!;
      if (rc < 0 && rc !== Errno.ERANGE) throw this.notRun(rc, index, this.captured[i]!);
      const verdict = this.verdicts[i]!,
        store = this.traitsOf(i, index),
        name = xdpActionName(verdict);
      store.set(this.options.verdictKey, verdict, 4);
      this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
      // What the program added to or cut from the packet, on its original length too (a u32: saturated).
      const length = pool.length(i),
        block = this.block;
      block.littleEndian = this.littleEndian;
      block.interfaceId = this.interfaceId[i]!;
      block.tsHigh = this.ticks[2 * i + 1]!;
      block.tsLow = this.ticks[2 * i]!;
      block.original = Math.min(0xffffffff, Math.max(length, this.original[i]! + length - this.captured[i]!));
      block.dataAt = pool.frameStart(i) + pool.head(i);
      block.captured = length;
      block.optionsAt = this.optionsAt[i]!;
      block.optionsEnd = this.optionsEnd[i]!;
      block.dropCount = this.dropCount[i]!;
      block.storeAt = this.scratch;
      block.storeSize = store.size;
      block.verdict = verdict;
      block.notes = [this.encoder.encode(`xdp: ${name}`)];
      this.writer.packet(block);
    }
    this.n = 0;
    this.writer.flushChunk();
  }

  /** The error for packet `index` (of `captured` bytes), which the program did not run on (status `rc`). */
  private notRun(rc: number, index: number, captured: number): TraitsError {
    const why =
      rc === Errno.EINVAL
        ? `${captured} bytes is shorter than an Ethernet header; the kernel runs XDP programs on 14 bytes or more`
        : rc === Errno.EMSGSIZE
          ? this.program.frags
            ? `${captured} bytes take more page fragments than the kernel gives a test run (MAX_SKB_FRAGS)`
            : `${captured} bytes is over the ${linearLimit()} bytes the kernel gives an XDP program in one buffer; ${this.program.name} is not loaded with frags support (SEC("xdp.frags")), so it cannot take a longer packet`
          : "the program's output does not fit a frame";
    return new TraitsError(errnoName(rc) ?? "EINVAL", `packet ${index}: ${why}`);
  }

  /**
   * The traits the program left in frame `i` (packet `index`), copied to the scratch area with room
   * for the verdict (no traits if it made no metadata area). Throws TraitsError naming the packet for
   * an area that is not a valid store, or one that already holds the verdict key.
   */
  private traitsOf(i: number, index: number): TraitStore {
    const { pool, bytes, scratch, options } = this,
      meta = pool.metaLengthOf(i);
    if (meta > 0 && meta < 16)
      throw new TraitsError(
        "ENOMEM",
        `packet ${index}: the program left a ${meta}-byte metadata area, too short for a traits store's 16-byte header`,
      );
    let used = 16;
    bytes.fill(0, scratch, scratch + 16);
    if (meta > 0) {
      const declared = this.program.declaration?.metaLength;
      if (declared && meta !== declared)
        throw new TraitsError(
          "EBADMSG",
          `packet ${index}: the program made a ${meta}-byte metadata area, where it declares ${declared} bytes (TRAITS_PROGRAM)`,
        );
      const left = pool.traits(i);
      try {
        used = left.validate();
      } catch (error) {
        const other = options.profile === "v1" ? "flags" : "v1",
          fits = TraitStore.over(bytes.slice(pool.storeStart(i), pool.storeStart(i) + meta), {
            profile: other,
            impl: "js",
          }).trySize();
        throw new TraitsError(
          "EBADMSG",
          `packet ${index}: the program's ${meta}-byte metadata area is not a traits store of profile ${options.profile} (${(error as Error).message})${fits >= 0 ? `; it is one of profile ${other}: pass --profile ${other}` : ""}`,
        );
      }
      if (left.has(options.verdictKey))
        throw new TraitsError(
          "EBUSY",
          `packet ${index}: the program's store uses key ${options.verdictKey}, where xdp run puts the verdict; pass --verdict-key with a free key`,
        );
      bytes.copyWithin(scratch, pool.storeStart(i), pool.storeStart(i) + used);
    }
    return TraitStore.over(bytes.subarray(scratch, scratch + used + 8), { profile: options.profile, impl: "js" });
  }
}

/**
 * `xdp capture`: an XskGroup over the queues asked for, with one worker (the handler in
 * xdp-capture.ts) writing every packet into OUT as it comes; the worker sleeps in poll() when no
 * packet comes, and this thread only waits for it, or for SIGINT, SIGTERM or SIGHUP to stop it.
 * Resolves to the exit code: 1 after an error (one line; what was written stays) or with packets
 * written without traits. The program is always detached.
 */
async function capture(argv: string[], io: Io): Promise<number> {
  const p = parse(argv, CAPTURE, CAPTURE_USAGE, io);
  if (!p) return 0;
  const { values: v, positionals } = p,
    [output] = positionals,
    device = v.dev ?? v.interface;
  if (output === undefined || positionals.length > 1 || device === undefined)
    throw new UsageError("xdp capture takes --dev IF (or -i IF) and OUT.pcapng (or - for stdout)");
  if (v.dev !== undefined && v.interface !== undefined) throw new UsageError("give --dev or -i, not both");
  if (v.queue !== undefined && v.queues !== undefined) throw new UsageError("give --queue or --queues, not both");
  const limit = v.count === undefined ? Infinity : integer(v.count, "-c", 0, Number.MAX_SAFE_INTEGER);
  const queues = v.queues === "all" ? "all" : queueList(v.queues ?? v.queue ?? "0"),
    program = v.program ?? RECEIVE_PROGRAM;
  const declared = readDeclaration(program),
    given = v["meta-length"] === undefined ? undefined : integer(v["meta-length"], "--meta-length", 16, 252);
  if (declared?.metaLength && given !== undefined && given !== declared.metaLength)
    throw new UsageError(
      `${program} makes a ${declared.metaLength}-byte metadata area (its TRAITS_PROGRAM declaration), not ${given}: leave out --meta-length or pass ${declared.metaLength}`,
    );
  const format = v.format ?? "pcapng",
    rowsPerFile =
      v["rows-per-file"] === undefined ? undefined : integer(v["rows-per-file"], "--rows-per-file", 1, 2 ** 53 - 1);
  if (format !== "pcapng" && format !== "parquet")
    throw new UsageError(`--format must be pcapng or parquet, not ${JSON.stringify(format)}`);
  if (rowsPerFile !== undefined && (format !== "parquet" || output === "-"))
    throw new UsageError("--rows-per-file needs --format parquet and a folder to write, not stdout (-)");
  const buffered = v["packet-buffered"] === true;
  if (buffered && format === "parquet")
    throw new UsageError("-U writes each packet out at once, which Parquet cannot (rows go out by row group)");
  const metaLength = declared?.metaLength || given;
  if (metaLength === undefined)
    throw new UsageError(
      `${program} does not declare the length of its metadata area (TRAITS_PROGRAM in bpf/traits.bpf.h): pass --meta-length N`,
    );
  if (metaLength % 4 !== 0)
    throw new UsageError(`--meta-length must be a multiple of 4 (as XDP's metadata areas), not ${metaLength}`);
  const profile = declared?.profile ?? "v1",
    queueCount = queues === "all" ? rxQueues(device).length : queues.length;
  // The writer's buffers and an empty store, then the pool (4096 frames a queue, 2048 past 4 queues).
  const scratch = READER_BYTES + WRITER_BYTES,
    memory = new WebAssembly.Memory({
      initial: Math.ceil((scratch + CAPTURE_SCRATCH) / 65536),
      maximum: 65536,
      shared: true,
    });
  const pool = new PacketPool({
    memory,
    count: queueCount * (queueCount > 4 ? 2048 : 4096),
    placement: "metadata",
    metaLength,
    profile,
    hardwareKeys: "keys",
  });
  const group = await XskGroup.open({
    pool,
    device,
    queues,
    program,
    workers: 1,
    mode: v["zero-copy"] ? "zero-copy" : "copy",
    // Beside this module: dist/cli/xdp-capture.js, from dist/cli/xdp.js and from the bundled dist/cli/bin.js alike.
    handler: new URL("./xdp-capture.js", import.meta.url),
    args: {
      output,
      stdout: io.stdout,
      stderr: io.stderr,
      profile,
      names: [...hardwareNames(profile), ...(program === RECEIVE_PROGRAM ? RECEIVE_KEYS : [])],
      metaLength,
      limit,
      buffered,
      scratch,
      format,
      rowsPerFile,
    } satisfies CaptureArgs,
  });
  const on = `${device} ${group.queues.length === 1 ? `queue ${group.queues[0]}` : `queues ${group.queues.join(",")}`}`;
  print(
    io.stderr,
    `xdp capture: listening on ${on}, ${group.mode} mode${limit < Infinity ? `, for ${limit} packets` : ""} (SIGINT, SIGTERM or SIGHUP stops)\n`,
  );
  const removeSignals = onStopSignals(() => void group.close());
  let result: CaptureResult;
  try {
    [result] = (await group.done) as [CaptureResult];
  } catch (error) {
    print(io.stderr, `packet-traits: ${(error as Error).message}\n`);
    return 1;
  } finally {
    removeSignals();
  }
  let lost = 0n,
    full = 0n;
  for (const q of group.statistics()) {
    lost += q.kernel.rxDropped + q.kernel.rxRingFull;
    full += q.kernel.rxRingFull;
  }
  print(
    io.stderr,
    `xdp capture: ${result.total} packets from ${on}: ${output === "-" ? "stdout" : output}${result.withoutTraits ? `; ${result.withoutTraits} written without traits` : ""}${lost > 0n ? `; the kernel dropped ${lost} (${full} with the rx ring full, ${lost - full} for want of a frame or too long for one)` : ""}\n`,
  );
  return result.withoutTraits ? 1 : 0;
}

/** A --queues list: "0,2,5" or ranges "0-3". Throws UsageError. */
function queueList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(",")) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range) {
      const [from, to] = [integer(range[1]!, "--queues", 0, 63), integer(range[2]!, "--queues", 0, 63)];
      if (to < from) throw new UsageError(`--queues: ${part} is an empty range`);
      for (let q = from; q <= to; q++) out.push(q);
    } else out.push(integer(part, "--queues", 0, 63));
  }
  return out;
}
