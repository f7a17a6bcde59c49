/**
 * `packet-traits xdp run PROG.o IN OUT.pcapng`: runs an XDP program over every packet of a capture
 * with BPF_PROG_TEST_RUN (as BPF developers unit-test programs) and writes each packet as the
 * program left it, with the traits store it left in its metadata area plus its verdict (key 58,
 * 4 bytes, in the traits option; by name in a comment), readable by `pcap show`.
 * `packet-traits xdp capture --dev IF [--queue Q] [-c N] [--program P.o] OUT.pcapng|-`: live capture
 * through an XskSocket, each packet with the traits its XDP program wrote, until N packets or SIGINT.
 */
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { TraitsError, errnoName } from "../core/errors.js";
import { toProfile } from "../core/options.js";
import { commentOption, readCapture, traitsOptionFor, writePcapng, type CapturedPacket } from "./xdp-capture.js";
import { PacketPool } from "../pool/pool.js";
import { HARDWARE_FIRST_APP_KEY, HARDWARE_NAMES } from "../store/hardware.js";
import { TraitStore } from "../store/store.js";
import { BpfError } from "../xdp/errors.js";
import { XdpProgram, xdpActionName } from "../xdp/program.js";
import { RECEIVE_META_LENGTH, RECEIVE_PROGRAM, XskSocket } from "../xdp/xsk.js";

/** The usage lines of the xdp commands (main.ts prints them with the others). */
export const XDP_USAGE = `  xdp run PROG.o IN OUT.pcapng ...        run an XDP program over a capture (BPF_PROG_TEST_RUN)
  xdp capture --dev IF OUT.pcapng|- ...   capture live through AF_XDP with each packet's traits`;

/** Where `xdp run` puts each packet's verdict unless told otherwise: the key below the hardware keys. */
const VERDICT_KEY = HARDWARE_FIRST_APP_KEY - 1;

/** A command-line mistake: exit code 2. */
class XdpUsageError extends Error {}

/**
 * Runs `packet-traits xdp ...` (argv without "xdp"). Returns the exit code: 0, 1 for a kernel error
 * (one line on stderr), 2 for a usage error. Throws TraitsError for bad input (main prints it).
 */
export function xdp(argv: string[]): number {
  try {
    const [action, ...rest] = argv;
    if (action === "run") run(rest);
    else if (action === "capture") capture(rest);
    else throw new XdpUsageError(`unknown xdp action ${JSON.stringify(action ?? "")} (run, capture)`);
    return 0;
  } catch (error) {
    if (error instanceof XdpUsageError) {
      console.error(`packet-traits: ${error.message} (see packet-traits --help)`);
      return 2;
    }
    if (error instanceof BpfError) {
      console.error(`packet-traits: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

/** The arguments of an xdp action: positionals and the valued options it takes ("-" alone is a positional). */
function parse(argv: string[], valued = ["--program", "--profile", "--verdict-key"]): { positional: string[]; flags: Map<string, string> } {
  const positional: string[] = [], flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("-") || arg === "-") positional.push(arg);
    else if (valued.includes(arg)) {
      const value = argv[++i];
      if (value === undefined) throw new XdpUsageError(`${arg} needs a value`);
      flags.set(arg.replace(/^--?/, ""), value);
    } else throw new XdpUsageError(`unknown option ${arg}`);
  }
  return { positional, flags };
}

function run(argv: string[]): void {
  const { positional, flags } = parse(argv);
  const [object, input, output] = positional;
  if (object === undefined || input === undefined || output === undefined || positional.length > 3) throw new XdpUsageError("xdp run takes PROG.o IN OUT.pcapng");
  const profile = toProfile(flags.get("profile"));
  const verdictText = flags.get("verdict-key") ?? String(VERDICT_KEY), verdictKey = Number(verdictText);
  if (!/^\d+$/.test(verdictText) || verdictKey > 63) throw new XdpUsageError(`--verdict-key must be a key in 0..63, not ${JSON.stringify(verdictText)}`);
  const capture = readCapture(new Uint8Array(readFileSync(input)));
  const program = XdpProgram.load(object, flags.has("program") ? { program: flags.get("program")! } : {});
  const names = new Map<number, string>([[verdictKey, "xdp_verdict"], ...HARDWARE_NAMES.map((name, h) => [HARDWARE_FIRST_APP_KEY + h, name] as const)]);
  const stores: Uint8Array[] = [], comments: string[] = [], counts = new Map<string, number>();
  try {
    const packets = capture.packets, ring = Math.max(1, Math.min(256, packets.length));
    const longest = packets.reduce((n, q) => Math.max(n, q.data.length), 0);
    const frameSize = Math.min(65536, Math.max(2048, Math.ceil((256 + longest) / 8) * 8));
    const pool = new PacketPool({ count: ring, frameSize, profile, hardwareKeys: "off", placement: "metadata" });
    const burst = pool.burst(ring);
    for (let first = 0; first < packets.length; first += ring) {
      const n = Math.min(ring, packets.length - first);
      for (let i = 0; i < n; i++) {
        pool.reset(i);
        pool.write(i, packets[first + i]!.data);
      }
      program.run(pool, burst.selectRange(0, n));
      const status = burst.status();
      for (let i = 0; i < n; i++) {
        const index = first + i, packet = packets[index]!, verdict = status[i]!;
        if (verdict < 0) throw new TraitsError(errnoName(verdict) ?? "EINVAL", `packet ${index}: ${verdict === -22 ? `${packet.data.length} bytes is shorter than an Ethernet header; the kernel runs XDP programs on 14 bytes or more` : "the program's output does not fit a frame"}`);
        const store = traitsOf(pool, i, index, profile, verdictKey);
        store.set(verdictKey, verdict, 4);
        stores.push(store.toBytes());
        const name = xdpActionName(verdict);
        counts.set(name, (counts.get(name) ?? 0) + 1);
        comments.push(`xdp: ${name}; traits: ${store.keys().map((k) => `${names.get(k) ?? k}=${format(store.getBytes(k)!)}`).join(" ")}`);
        const data = pool.data(i).slice();
        packet.originalLength = Math.max(data.length, packet.originalLength + data.length - packet.data.length);
        packet.data = data;
      }
    }
  } finally {
    program.close();
  }
  const bytes = writePcapng(capture, (packet, i) => {
    const le = packet.block < 0 || capture.blocks[packet.block]!.littleEndian;
    return [traitsOptionFor(stores[i]!, le), commentOption(comments[i]!)];
  });
  const temporary = `${output}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, bytes);
    renameSync(temporary, output);
  } finally {
    rmSync(temporary, { force: true });
  }
  console.log(`xdp run: ${capture.packets.length} packets (${[...counts].map(([name, n]) => `${n} ${name}`).join(", ") || "none"}): ${output}`);
}

/** A non-negative integer option, or its default; throws a usage error. */
function count(flags: Map<string, string>, name: string, fallback: number, max: number): number {
  const text = flags.get(name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) > max) throw new XdpUsageError(`${name} must be an integer in 0..${max}, not ${JSON.stringify(text)}`);
  return Number(text);
}

/**
 * Captures from an interface queue through an XskSocket until -c packets (0: no limit) or SIGINT,
 * writing each packet with its store in the traits option; a pcapng section per flush of up to 256
 * packets, so memory stays bounded. Output to a file goes to a temporary file renamed at the end;
 * "-" writes to stdout. The program is always detached (BPF link). Runs asynchronously: errors
 * after the start print one line and set the exit code 1.
 */
function capture(argv: string[]): void {
  const { positional, flags } = parse(argv, ["--dev", "--queue", "-c", "--program", "--meta-length"]);
  const [output] = positional;
  const device = flags.get("dev");
  if (output === undefined || positional.length > 1 || device === undefined) throw new XdpUsageError("xdp capture takes --dev IF and OUT.pcapng (or - for stdout)");
  const limit = count(flags, "c", 0, 2 ** 53 - 1), queue = count(flags, "queue", 0, 1023);
  const program = flags.get("program") ?? RECEIVE_PROGRAM, metaLength = count(flags, "meta-length", flags.has("program") ? 32 : RECEIVE_META_LENGTH, 252);
  const pool = new PacketPool({ count: 4096, placement: "metadata", metaLength, hardwareKeys: "keys" });
  const temporary = output === "-" ? undefined : `${output}.${process.pid}.tmp`;
  const fd = temporary === undefined ? 1 : openSync(temporary, "w");
  let socket: XskSocket;
  try {
    socket = XskSocket.open({ pool, device, queue, program });
  } catch (error) {
    if (temporary !== undefined) {
      closeSync(fd);
      rmSync(temporary, { force: true });
    }
    throw error;
  }
  const burst = pool.burst(256);
  console.error(`xdp capture: listening on ${device} queue ${queue}${limit ? ` for ${limit} packets` : ""} (SIGINT stops)`);
  let total = 0, stop = false;
  const interrupt = () => { stop = true; };
  process.once("SIGINT", interrupt);
  const finish = (error?: unknown) => {
    process.removeListener("SIGINT", interrupt);
    socket.close();
    if (temporary !== undefined) {
      closeSync(fd);
      if (error === undefined) renameSync(temporary, output);
      else rmSync(temporary, { force: true });
    }
    if (error !== undefined) {
      console.error(`packet-traits: ${(error as Error).message}`);
      process.exitCode = 1;
    } else console.error(`xdp capture: ${total} packets from ${device} queue ${queue}: ${output === "-" ? "stdout" : output}`);
  };
  const step = () => {
    try {
      const n = stop ? 0 : socket.receive(burst, limit === 0 ? burst.capacity : Math.min(burst.capacity, limit - total));
      if (n > 0) {
        const packets: CapturedPacket[] = [], stores: Uint8Array[] = [], now = BigInt(Date.now()) * 1_000_000n;
        for (let i = 0; i < n; i++) {
          const frame = burst.frames()[i]!, traits = pool.traits(frame), data = pool.data(frame).slice();
          const stamp = traits.has(63) ? (traits.get(63) as bigint) : now;
          packets.push({ block: -1, interfaceId: 0, linkType: 1, timestampNs: stamp, data, originalLength: data.length, options: [] });
          stores.push(traits.toBytes());
        }
        socket.release(burst);
        writeSync(fd, writePcapng({ format: "pcap", blocks: [], packets, pcap: { linkType: 1, snapLength: 65535, nanoseconds: true } }, (_, i) => [traitsOptionFor(stores[i]!)]));
        total += n;
      }
      if (stop || (limit !== 0 && total >= limit)) return finish();
      setTimeout(step, n > 0 ? 0 : 1);
    } catch (error) {
      finish(error);
    }
  };
  step();
}

/**
 * The traits a program left in frame `i` (packet `index`), in a store with room for the verdict
 * (no traits if it made no metadata area). Throws TraitsError naming the packet for an area that is
 * not a valid store, or one that already holds the verdict key.
 */
function traitsOf(pool: PacketPool, i: number, index: number, profile: "v1" | "flags", verdictKey: number): TraitStore {
  const meta = pool.metaLengthOf(i);
  if (meta > 0 && meta < 16) throw new TraitsError("ENOMEM", `packet ${index}: the program left a ${meta}-byte metadata area, too short for a traits store's 16-byte header`);
  let used: Uint8Array = new Uint8Array(16);
  if (meta > 0) {
    const left = pool.traits(i);
    try {
      left.validate();
    } catch (error) {
      throw new TraitsError("EBADMSG", `packet ${index}: the program's ${meta}-byte metadata area is not a traits store of profile ${profile} (${(error as Error).message})`);
    }
    if (left.has(verdictKey)) throw new TraitsError("EBUSY", `packet ${index}: the program's store uses key ${verdictKey}, where xdp run puts the verdict; pass --verdict-key with a free key`);
    used = left.toBytes();
  }
  const bytes = new Uint8Array(used.length + 8);
  bytes.set(used);
  return TraitStore.over(bytes, { profile, impl: "js" });
}

/** A value for a comment: 0x-hex for 2 and 4 bytes, decimal for 8, "set" for a flag. */
function format(bytes: Uint8Array): string {
  if (bytes.length === 0) return "set";
  const value = bytes.slice().reverse().reduce((v, b) => (v << 8n) | BigInt(b), 0n);
  return bytes.length === 8 ? String(value) : `0x${value.toString(16)}`;
}
