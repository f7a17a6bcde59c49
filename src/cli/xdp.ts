/**
 * `packet-traits xdp run PROG.o IN OUT`: runs an XDP program over every packet of a capture with
 * BPF_PROG_TEST_RUN (as BPF developers unit-test programs) and writes each packet as the program
 * left it, with the traits store it left in its metadata area plus its verdict (key 58 unless told,
 * 4 bytes, named xdp_verdict), readable by `pcap show` and Wireshark. Streamed in bursts through a
 * PacketPool, in bounded memory; OUT is written through a temporary file (src/capture/io.ts).
 */
import { TraitsError, errnoName } from "../core/errors.js";
import { toProfile, type Profile } from "../core/options.js";
import { CaptureReader, READER_BYTES, keysText, type AsyncByteSource, type KeyName } from "../capture/capture.js";
import { hardwareNames } from "../capture/annotate.js";
import { Output } from "../capture/io.js";
import { transform } from "./transform.js";
import { commentText, storeRows } from "../capture/rows.js";
import { PcapngWriter, WRITER_BYTES, packetTicks, pipelineMemory, Pipeline, type ByteSink } from "../capture/writer.js";
import { PacketPool } from "../pool/pool.js";
import type { Burst } from "../pool/burst.js";
import { KeyRegistry } from "../registry/registry.js";
import { HARDWARE_FIRST_APP_KEY } from "../store/hardware.js";
import { TraitStore } from "../store/store.js";
import { BpfError } from "../xdp/errors.js";
import { XdpProgram, xdpActionName } from "../xdp/program.js";
import { RECEIVE_META_LENGTH, RECEIVE_PROGRAM, XskSocket } from "../xdp/xsk.js";
import { UsageError, integer, parse, print, type Io } from "./args.js";

/** The usage lines of the xdp commands (main.ts prints them with the others). */
export const XDP_USAGE = `  xdp run PROG.o IN OUT ...              run an XDP program over a capture (BPF_PROG_TEST_RUN; - for stdin/stdout)
  xdp capture --dev IF OUT ...           capture live through AF_XDP, each packet with its traits (- for stdout)`;

/** The usage text of `xdp capture`. */
export const CAPTURE_USAGE = `usage: packet-traits xdp capture --dev IF [--queue Q] [-c N] [--program P.o] [--meta-length N] OUT

Captures from queue Q (default 0) of interface IF through an AF_XDP socket whose frames are a
PacketPool in WebAssembly memory, until N packets (default: no limit) or SIGINT, and writes pcapng
(OUT, or - for stdout): each packet with the traits store its XDP program wrote in the metadata area.
The program (default: the shipped receive program, bpf/receive.bpf.o) is always detached at the end.
OUT is written through a temporary file in its directory, renamed into place when complete.
  --program P.o      another XDP program that writes a traits store and redirects to the socket's XSKMAP
  --meta-length N    bytes of its metadata area (default 32 with --program)`;

const CAPTURE = {
  dev: { type: "string" },
  queue: { type: "string" },
  count: { type: "string", short: "c" },
  program: { type: "string" },
  "meta-length": { type: "string" },
} as const;

/** The usage text of `xdp run`. */
export const RUN_USAGE = `usage: packet-traits xdp run PROG.o IN OUT [--program NAME] [--profile v1|flags] [--registry FILE] [--verdict-key K] [-c N]

Runs the XDP program of PROG.o (BPF_PROG_TEST_RUN) over each packet of a pcap or pcapng capture (IN,
or - for stdin) and writes pcapng (OUT, or - for stdout): each packet as the program left it, with the
traits store it left in its metadata area plus its verdict, and the comments "traits: NAME=VALUE ..."
(read by wireshark/traits.lua) and "xdp: VERDICT". OUT is written through a temporary file in its
directory, renamed into place when complete: on any error it is untouched.
  --program NAME    the program in PROG.o (default: its only XDP program)
  --profile P       the profile of the program's stores: v1 (default, or the registry's) or flags
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
  const profile = toProfile(v.profile ?? registry?.profile);
  if (registry && registry.profile !== profile)
    throw new UsageError(`the registry is for profile ${registry.profile}; pass --profile ${registry.profile}`);
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
        "EINVAL",
        `byte offset ${reader.offset}: packet ${reader.packet}: ${reader.captured} bytes do not fit a ${FRAME_SIZE}-byte frame after its ${HEADROOM}-byte headroom`,
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
    this.program.run(pool, burst.selectRange(0, n));
    const status = burst.status();
    for (let i = 0; i < n; i++) {
      const index = this.packets - n + i,
        verdict = status[i]!;
      if (verdict < 0)
        throw new TraitsError(
          errnoName(verdict) ?? "EINVAL",
          `packet ${index}: ${verdict === -22 ? `${this.captured[i]} bytes is shorter than an Ethernet header; the kernel runs XDP programs on 14 bytes or more` : "the program's output does not fit a frame"}`,
        );
      const store = this.traitsOf(i, index),
        name = xdpActionName(verdict);
      store.set(this.options.verdictKey, verdict, 4);
      this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
      const comments = [
        this.encoder.encode(commentText(storeRows(store, this.names))),
        this.encoder.encode(`xdp: ${name}`),
      ];
      const length = pool.length(i),
        original = Math.max(length, this.original[i]! + length - this.captured[i]!);
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
      const left = pool.traits(i);
      try {
        used = left.validate();
      } catch (error) {
        throw new TraitsError(
          "EBADMSG",
          `packet ${index}: the program's ${meta}-byte metadata area is not a traits store of profile ${options.profile} (${(error as Error).message})`,
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
 * `xdp capture`: receives bursts from an XskSocket until -c packets or SIGINT and writes each packet
 * with its store in the traits option, through a PcapngWriter (bounded memory). Returns 0 once started;
 * it runs on timers: an error after the start prints one line and sets the exit code 1. The program
 * is always detached, the output committed only when complete.
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
    device = v.dev;
  const metaLength = integer(
    v["meta-length"] ?? String(v.program === undefined ? RECEIVE_META_LENGTH : 32),
    "--meta-length",
    16,
    252,
  );
  const memory = pipelineMemory();
  const pool = new PacketPool({ memory, count: 4096, placement: "metadata", metaLength, hardwareKeys: "keys" });
  const names = hardwareNames("v1");
  const sink = Output.open(output, io.stdout);
  let socket: XskSocket;
  try {
    socket = XskSocket.open({ pool, device, queue, program: v.program ?? RECEIVE_PROGRAM });
  } catch (error) {
    sink.abort();
    throw error;
  }
  // The pool and the socket grew the memory: the writer's view is taken after them.
  const writer = new PcapngWriter(sink, new Uint8Array(memory.buffer), new TextEncoder().encode(keysText("v1", names)));
  writer.pcapHeader({ interfaces: [{ linkType: 1 }], snapLength: 65535, nanoseconds: true, fcsBytes: -1 });
  const burst = pool.burst(256),
    ticks = new Uint32Array(2);
  print(
    io.stderr,
    `xdp capture: listening on ${device} queue ${queue}${limit < Infinity ? ` for ${limit} packets` : ""} (SIGINT stops)\n`,
  );
  let total = 0,
    stop = false;
  const interrupt = () => {
    stop = true;
  };
  process.once("SIGINT", interrupt);
  const finish = (error?: unknown) => {
    process.removeListener("SIGINT", interrupt);
    socket.close();
    try {
      if (error !== undefined) throw error;
      writer.flush();
      sink.commit();
      print(
        io.stderr,
        `xdp capture: ${total} packets from ${device} queue ${queue}: ${output === "-" ? "stdout" : output}\n`,
      );
    } catch (failure) {
      sink.abort();
      print(io.stderr, `packet-traits: ${(failure as Error).message}\n`);
      process.exitCode = 1;
    }
  };
  const step = () => {
    try {
      const n = stop ? 0 : socket.receive(burst, Math.min(burst.capacity, limit - total));
      const frames = burst.frames(),
        now = BigInt(Date.now()) * 1_000_000n;
      for (let i = 0; i < n; i++) {
        const frame = frames[i]!,
          traits = pool.traits(frame),
          length = pool.length(frame);
        // The receive program's timestamp (key 63), else the time of the burst.
        const stamp = traits.has(63) ? (traits.get(63) as bigint) : now;
        ticks[0] = Number(stamp & 0xffffffffn);
        ticks[1] = Number(stamp >> 32n);
        writer.packet(
          true,
          0,
          ticks[1]!,
          ticks[0]!,
          length,
          pool.frameStart(frame) + pool.head(frame),
          length,
          0,
          0,
          pool.storeStart(frame),
          traits.size,
          [],
        );
      }
      if (n > 0) {
        socket.release(burst);
        writer.flushChunk();
        total += n;
      }
      if (stop || total >= limit) return finish();
      setTimeout(step, n > 0 ? 0 : 1);
    } catch (error) {
      finish(error);
    }
  };
  step();
  return 0;
}
