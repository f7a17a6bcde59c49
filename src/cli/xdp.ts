/**
 * `packet-traits xdp run PROG.o IN OUT`: runs an XDP program over every packet of a capture with
 * BPF_PROG_TEST_RUN (as BPF developers unit-test programs) and writes each packet as the program
 * left it, with the traits store it left in its metadata area plus its verdict (key 58 unless told,
 * 4 bytes, named xdp_verdict), readable by `pcap show` and Wireshark. Streamed in bursts through a
 * PacketPool, in bounded memory; OUT is written through a temporary file (src/capture/io.ts).
 */
import { Errno, TraitsError, errnoName } from "../core/errors.js";
import { toProfile, type Profile } from "../core/options.js";
import { CaptureReader, READER_BYTES, keysText, type AsyncByteSource, type KeyName } from "../capture/capture.js";
import { hardwareNames } from "../capture/annotate.js";
import { Output } from "../capture/io.js";
import { LiveParquetWriter } from "../export/live.js";
import { transform } from "./transform.js";
import { commentText, storeRows } from "../capture/rows.js";
import { PcapngWriter, WRITER_BYTES, packetTicks, pipelineMemory, Pipeline, type ByteSink } from "../capture/writer.js";
import { PacketPool } from "../pool/pool.js";
import type { Burst } from "../pool/burst.js";
import { KeyRegistry } from "../registry/registry.js";
import { HARDWARE_FIRST_APP_KEY } from "../store/hardware.js";
import { TraitStore } from "../store/store.js";
import { BpfError } from "../xdp/errors.js";
import { linearLimit } from "../xdp/run.js";
import { readDeclaration } from "../xdp/declaration.js";
import { XdpProgram, xdpActionName } from "../xdp/program.js";
import { RECEIVE_PROGRAM } from "../xdp/programs.js";
import { XskSocket } from "../xdp/xsk.js";
import { UsageError, integer, parse, print, type Io } from "./args.js";
import { onStopSignals } from "./signals.js";

/** The usage lines of the xdp commands (main.ts prints them with the others). */
export const XDP_USAGE = `  xdp run PROG.o IN OUT ...              run an XDP program over a capture (BPF_PROG_TEST_RUN; - for stdin/stdout)
  xdp capture --dev IF OUT ...           capture live through AF_XDP, each packet with its traits (- for stdout)`;

/** A live capture's output is written at most this long after a packet arrives. */
const FLUSH_MS = 100;

/** The usage text of `xdp capture`. */
export const CAPTURE_USAGE = `usage: packet-traits xdp capture --dev IF [--queue Q] [-c N] [-U] [--program P.o] [--meta-length N] [--format pcapng|parquet] [--rows-per-file N] OUT

Captures from queue Q (default 0) of interface IF through an AF_XDP socket whose frames are a
PacketPool in WebAssembly memory, until N packets (default: no limit) or SIGINT, SIGTERM or SIGHUP,
and writes pcapng (OUT, or - for stdout): each packet with the traits store its XDP program wrote in
the metadata area. OUT is written as the packets come (as tcpdump -w does), each at most ${FLUSH_MS} ms
after it arrived: a capture that is killed leaves a valid pcapng of all but its last ${FLUSH_MS} ms.
The program (default: the shipped receive program, bpf/receive.bpf.o) is always detached at the end.
A packet whose metadata area is not the program's store is written without traits, and said so.
  -U, --packet-buffered  write each packet out as soon as it arrives
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
  queue: { type: "string" },
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
    if (action === "capture") return capture(rest, io);
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
 * same WebAssembly memory, run a burst at a time, and written by a PcapngWriter. Returns the packets
 * per verdict name.
 */
class XdpRun {
  private readonly pool: PacketPool;
  private readonly burst: Burst;
  private readonly reader: CaptureReader;
  private readonly writer: PcapngWriter;
  private readonly bytes: Uint8Array;
  private readonly scratch: number;
  private readonly names: Map<number, string>;
  private readonly encoder = new TextEncoder();
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
    this.names = new Map(options.names.map((k) => [k.key, k.name]));
    this.writer = new PcapngWriter(sink, this.bytes, this.encoder.encode(keysText(options.profile, options.names)));
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
      const comments = [
        this.encoder.encode(commentText(storeRows(store, this.names))),
        this.encoder.encode(`xdp: ${name}`),
      ];
      // What the program added to or cut from the packet, on its original length too (a u32: saturated).
      const length = pool.length(i),
        original = Math.min(0xffffffff, Math.max(length, this.original[i]! + length - this.captured[i]!));
      this.writer.packet(
        this.littleEndian,
        this.interfaceId[i]!,
        this.ticks[2 * i + 1]!,
        this.ticks[2 * i]!,
        original,
        pool.frameStart(i) + pool.head(i),
        length,
        this.optionsAt[i]!,
        this.optionsEnd[i]!,
        this.scratch,
        store.size,
        comments,
        this.dropCount[i],
      );
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
 * `xdp capture`: receives bursts from an XskSocket until -c packets or a stop signal (SIGINT, SIGTERM,
 * SIGHUP) and writes each packet with its store in the traits option, through a PcapngWriter
 * (bounded memory) straight into OUT, at most FLUSH_MS after each packet (at once with -U). Returns 0
 * once started; it runs on timers: an error after the start prints one line and sets the exit code
 * 1, keeping what was written. The program is always detached.
 */
function capture(argv: string[], io: Io): number {
  const p = parse(argv, CAPTURE, CAPTURE_USAGE, io);
  if (!p) return 0;
  const { values: v, positionals } = p,
    [output] = positionals;
  if (output === undefined || positionals.length > 1 || v.dev === undefined)
    throw new UsageError("xdp capture takes --dev IF and OUT.pcapng (or - for stdout)");
  const limit = v.count === undefined ? Infinity : integer(v.count, "-c", 0, Number.MAX_SAFE_INTEGER);
  const queue = integer(v.queue ?? "0", "--queue", 0, 1023),
    device = v.dev,
    program = v.program ?? RECEIVE_PROGRAM,
    buffered = v["packet-buffered"] === true;
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
    names = hardwareNames(profile);
  // An empty store (16 zero bytes) for the packets written without traits, then the pool.
  const memory = pipelineMemory(16),
    emptyStore = READER_BYTES + WRITER_BYTES;
  const pool = new PacketPool({
    memory,
    count: 4096,
    placement: "metadata",
    metaLength,
    profile,
    hardwareKeys: "keys",
  });
  const socket = XskSocket.open({ pool, device, queue, program });
  let sink: Output | LiveParquetWriter;
  try {
    sink =
      format === "parquet"
        ? new LiveParquetWriter(output, { names, profile, queue, rowsPerFile, stdout: io.stdout })
        : Output.live(output, io.stdout);
  } catch (error) {
    socket.close();
    throw error;
  }
  // The pool and the socket grew the memory: the writer's view is taken after them.
  const bytes = new Uint8Array(memory.buffer),
    parquet = sink instanceof LiveParquetWriter ? sink : undefined,
    encoder = new TextEncoder(),
    writer =
      sink instanceof Output ? new PcapngWriter(sink, bytes, encoder.encode(keysText(profile, names))) : undefined;
  writer?.pcapHeader({ interfaces: [{ linkType: 1 }], snapLength: 65535, nanoseconds: true, fcsBytes: -1 });
  writer?.flush();
  const burst = pool.burst(256),
    ticks = new Uint32Array(2),
    noTraits = [
      encoder.encode(`xdp: no traits: the metadata area is not a ${metaLength}-byte store of profile ${profile}`),
    ];
  print(
    io.stderr,
    `xdp capture: listening on ${device} queue ${queue}${limit < Infinity ? ` for ${limit} packets` : ""} (SIGINT, SIGTERM or SIGHUP stops)\n`,
  );
  let total = 0,
    withoutTraits = 0,
    stop = false,
    /** When the oldest packet not yet written out arrived (0: none waiting). */
    waitingSince = 0;
  const removeSignals = onStopSignals(() => {
    stop = true;
  });
  const finish = (error?: unknown) => {
    removeSignals();
    let dropped = "";
    try {
      const s = socket.statistics(),
        lost = s.rxDropped + s.rxRingFull;
      if (lost > 0n)
        dropped = `; the kernel dropped ${lost} (${s.rxRingFull} with the rx ring full, ${s.rxDropped} for want of a frame or too long for one)`;
    } catch {
      // The counters are a report: without them the capture is still what it is.
    }
    socket.close();
    try {
      if (error !== undefined) throw error;
      writer?.flush();
      if (parquet) parquet.close();
      else (sink as Output).commit();
      print(
        io.stderr,
        `xdp capture: ${total} packets from ${device} queue ${queue}: ${output === "-" ? "stdout" : output}${withoutTraits ? `; ${withoutTraits} written without traits` : ""}${dropped}\n`,
      );
      if (withoutTraits) process.exitCode = 1;
    } catch (failure) {
      try {
        writer?.flush(); // what was received is kept, as far as the output takes it
      } catch {
        // The output itself failed: what is on disk stays.
      }
      sink.abort();
      print(io.stderr, `packet-traits: ${(failure as Error).message}\n`);
      process.exitCode = 1;
    }
  };
  const step = () => {
    try {
      const n = stop ? 0 : socket.receive(burst, Math.min(burst.capacity, limit - total));
      const frames = burst.frames(),
        status = burst.status(),
        clock = Date.now(),
        now = BigInt(clock) * 1_000_000n;
      for (let i = 0; i < n; i++) {
        const frame = frames[i]!,
          traits = pool.traits(frame),
          length = pool.length(frame),
          size = status[i] === 0 ? traits.trySize() : -1;
        if (size < 0 && withoutTraits++ === 0)
          print(
            io.stderr,
            `xdp capture: packet ${total + i}: the program's metadata area is not a ${metaLength}-byte traits store of profile ${profile}${status[i] === 0 ? "" : " (the program made an area of another length)"}: written without traits\n`,
          );
        // The receive program's timestamp (key 63), else the time of the burst.
        const stamp = size >= 0 && traits.has(63) ? (traits.get(63) as bigint) : now;
        if (parquet) {
          parquet.packet(bytes, pool.frameStart(frame) + pool.head(frame), length, stamp, pool.storeStart(frame), size);
          continue;
        }
        ticks[0] = Number(stamp & 0xffffffffn);
        ticks[1] = Number(stamp >> 32n);
        writer!.packet(
          true,
          0,
          ticks[1]!,
          ticks[0]!,
          length,
          pool.frameStart(frame) + pool.head(frame),
          length,
          0,
          0,
          size < 0 ? emptyStore : pool.storeStart(frame),
          size < 0 ? 16 : size,
          size < 0 ? noTraits : [],
        );
      }
      if (n > 0) {
        socket.release(burst);
        total += n;
        waitingSince ||= clock;
      }
      // Out as the packets come: each at once with -U, else when the traffic pauses, or FLUSH_MS after it arrived.
      if (waitingSince && (buffered || n === 0 || clock - waitingSince >= FLUSH_MS)) {
        writer?.flush();
        waitingSince = 0;
      } else writer?.flushChunk();
      if (stop || total >= limit) return finish();
      setTimeout(step, n > 0 ? 0 : 1);
    } catch (error) {
      finish(error);
    }
  };
  step();
  return 0;
}
