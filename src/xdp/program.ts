/**
 * XdpProgram: an XDP program run over a burst of a PacketPool's frames with BPF_PROG_TEST_RUN, the
 * packet taken from each frame and the result written back into it: what the program left in its
 * metadata area becomes the frame's store (pool placement "metadata"), its verdict the status.
 */
import { Errno, TraitsError } from "../core/errors.js";
import type { Burst } from "../pool/burst.js";
import { PacketPool } from "../pool/pool.js";
import { BpfError } from "./errors.js";
import { getNative } from "./ffi.js";
import { BpfObject } from "./object.js";
import { type TraitsDeclaration, readDeclaration } from "./declaration.js";
import { linearLimit, testRunAt } from "./run.js";

/** XDP verdicts, as an XDP program returns them (enum xdp_action). */
export const XdpAction = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;

/**
 * The name of an XDP verdict ("XDP_PASS"), or "unknown verdict N" for any other value (N as the
 * u32 the program returned; the kernel drops such packets, warning once).
 */
export function xdpActionName(verdict: number): string {
  const name = Object.entries(XdpAction).find(([, value]) => value === verdict)?.[0];
  return name === undefined ? `unknown verdict ${verdict >>> 0}` : `XDP_${name}`;
}

/** Bytes of struct xdp_md (data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex). */
const XDP_MD = 24;
/** The shortest packet BPF_PROG_TEST_RUN takes for XDP: an Ethernet header. */
const ETH_HLEN = 14;

/** Options of XdpProgram.load. */
export interface XdpProgramOptions {
  /** The program to run, by its C function name; default the object's only program. */
  program?: string;
}

/**
 * One XDP program of a BPF object, loaded into the kernel. Close it (or `using` it) to unload it
 * and its maps.
 */
export class XdpProgram {
  readonly #object: BpfObject;
  readonly #fd: number;
  readonly #ctx = new Uint8Array(2 * XDP_MD);
  readonly #md = new DataView(this.#ctx.buffer);
  /** Where the kernel writes a run's output (metadata, then packet), copied into the frame once it is known to fit: a frame's bytes outside its new store and packet never change. */
  #out = new Uint8Array(0);

  private constructor(
    object: BpfObject,
    fd: number,
    readonly name: string,
    /** True if the program takes packets in several buffers (SEC("xdp.frags")). */
    readonly frags: boolean,
    /** What the object declares with TRAITS_PROGRAM (bpf/traits.bpf.h): its stores' profile and metadata length. */
    readonly declaration: TraitsDeclaration | undefined,
  ) {
    this.#object = object;
    this.#fd = fd;
    Object.freeze(this);
  }

  /**
   * Loads the XDP program `program` (default: the only one) of the BPF object at `path`.
   * Throws BpfError as BpfObject.load and programFd (EINVAL also for a malformed TRAITS_PROGRAM declaration); a program that calls the rx-metadata kfuncs
   * (bpf_xdp_metadata_rx_hash and friends) gets EINVAL saying that those load only into a
   * device-bound program, which BPF_PROG_TEST_RUN cannot run.
   */
  static load(path: string, { program }: XdpProgramOptions = {}): XdpProgram {
    const declaration = readDeclaration(path);
    let object: BpfObject;
    try {
      object = BpfObject.load(path);
    } catch (error) {
      if (error instanceof BpfError && /device-bound/.test(error.message)) {
        throw new BpfError(
          22,
          `${path} calls the rx-metadata kfuncs (bpf_xdp_metadata_rx_*), which load only into a program bound to a device, and BPF_PROG_TEST_RUN cannot run such a program: attach it to an interface instead`,
        );
      }
      throw error;
    }
    try {
      const fd = object.programFd(program);
      return new XdpProgram(object, fd, program ?? object.programs[0]!, object.hasFrags(program), declaration);
    } catch (error) {
      object.close();
      throw error;
    }
  }

  /**
   * Runs the program once on each frame the burst selects, as the kernel runs it on a received
   * packet: it sees the packet data [head, head + length) and an empty metadata area. Afterwards the
   * frame holds what the program left: the packet (its length changed if the program grew or
   * shrank it; the head stays) and, right before it, the metadata area the program made
   * (bpf_xdp_adjust_meta), which is the frame's store; no other byte of the frame changes.
   * A packet longer than the kernel's first buffer (linearLimit(): 3520 bytes with 4 KiB pages) is
   * run in several buffers, as a jumbo frame is received, if the program takes them (loaded from
   * SEC("xdp.frags")); the output is then the whole packet.
   * Status i is the frame's verdict (XdpAction, or any other value the program returned below 2^31);
   * ERANGE for a verdict of 2^31 or more (`verdicts` has it); or, for a frame not run and left as it
   * was: EINVAL (no such frame, or a packet shorter than an Ethernet header), EMSGSIZE (a packet
   * longer than the first buffer for a program without frags support, or in more fragments than
   * the kernel takes), ENOSPC (the output does not fit the frame around its head).
   * `verdicts`, if given (at least the burst's length), receives each run frame's return value as
   * the u32 it is. The packet is read in place; the output comes back through a buffer of this
   * program's and is copied into the frame (one copy of metadata and packet).
   * Returns how many frames ran. Throws EINVAL for a pool not in placement "metadata", a burst of
   * another pool or a `verdicts` array too short, and BpfError for a test run the kernel refuses
   * (EPERM).
   */
  run(pool: PacketPool, burst: Burst, verdicts?: Uint32Array): number {
    if (!(pool instanceof PacketPool)) throw new TraitsError("EINVAL", "run(pool, burst): pool must be a PacketPool");
    if (pool.placement !== "metadata")
      throw new TraitsError(
        "EINVAL",
        `run(): the pool keeps its stores at the frame start; XDP programs write theirs before the packet: create it with placement "metadata"`,
      );
    if (burst.pool !== pool) throw new TraitsError("EINVAL", "run(): the burst belongs to another pool");
    burst.checkLive();
    const n = burst.length;
    if (verdicts !== undefined && !(verdicts instanceof Uint32Array && verdicts.length >= n))
      throw new TraitsError("EINVAL", `run(): verdicts must be a Uint32Array of at least ${n} entries`);
    const frames = burst.ranged ? undefined : burst.frames(),
      status = burst.status();
    if (this.#out.length < pool.dataEnd) this.#out = new Uint8Array(pool.dataEnd);
    const native = getNative(),
      memory = pool.memory,
      base = native.address(new Uint8Array(memory.buffer)),
      ctx = native.address(this.#ctx),
      linear = linearLimit();
    const md = this.#md,
      output = this.#out,
      out = native.address(output);
    let ran = 0;
    for (let i = 0; i < n; i++) {
      const frame = frames ? frames[i]! : burst.first + i;
      if (frame >= pool.count) {
        status[i] = Errno.EINVAL;
        continue;
      }
      const head = pool.head(frame),
        length = pool.length(frame),
        start = pool.frameStart(frame);
      if (length < ETH_HLEN || (length > linear && !this.frags)) {
        status[i] = length < ETH_HLEN ? Errno.EINVAL : Errno.EMSGSIZE;
        continue;
      }
      md.setUint32(0, 0, true); // ctx in: no metadata, the whole input is packet
      md.setUint32(4, length, true);
      let result: { retval: number; dataSize: number };
      try {
        result = testRunAt(this.#fd, {
          dataIn: base + BigInt(start + head),
          dataInSize: length,
          dataOut: out,
          dataOutSize: output.length,
          ctxIn: ctx,
          ctxInSize: XDP_MD,
          ctxOut: ctx + BigInt(XDP_MD),
          ctxOutSize: XDP_MD,
          repeat: 1,
        });
      } catch (error) {
        if (error instanceof BpfError && (error.errno === -28 || (error.errno === -12 && length > linear))) {
          status[i] = error.errno === -28 ? Errno.ENOSPC : Errno.EMSGSIZE;
          continue;
        }
        throw this.refused(error, frame, length);
      }
      // The context out says where the packet starts after the metadata area; the data size covers
      // every buffer (the context's data_end only the first).
      const meta = md.getUint32(XDP_MD, true),
        size = result.dataSize - meta;
      if (meta > result.dataSize || meta > head || head + size > pool.dataEnd) {
        status[i] = Errno.ENOSPC;
        continue;
      }
      new Uint8Array(memory.buffer, start + head - meta, meta + size).set(output.subarray(0, meta + size));
      pool.setHead(frame, head, size, meta);
      const verdict = result.retval;
      if (verdicts) verdicts[i] = verdict;
      status[i] = verdict < 2 ** 31 ? verdict : Errno.ERANGE;
      ran++;
    }
    return ran;
  }

  /** A test run the kernel refused, said with what most likely caused it. */
  private refused(error: unknown, frame: number, length: number): unknown {
    if (!(error instanceof BpfError) || error.errno !== -22) return error;
    return new BpfError(
      22,
      `the kernel refused to run ${this.name} on frame ${frame} (${length} bytes): it cannot test-run this program (a device-bound program, or not an XDP program)`,
    );
  }

  /** Unloads the program and its object's maps. Safe to call twice. */
  close(): void {
    this.#object.close();
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
