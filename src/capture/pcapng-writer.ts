/**
 * PcapngWriter: pcapng from code, streamed as the commands write it: sections with our names option,
 * interfaces, and packets with a trait store in our custom option, the standard EPB options that
 * repeat its traits (epb_packetid, epb_queue, epb_verdict, epb_hash), our comment, and the caller's
 * own options passed through. Blocks are assembled in a bounded buffer and handed to a sink in
 * chunks of about 1 MiB; toFile() (Node) writes a temporary file renamed into place by close(), so
 * that nothing half-written ever replaces a file.
 */
import { TraitsError } from "../core/errors.js";
import { toProfile, type Profile } from "../core/options.js";
import type { KeyRegistry } from "../registry/registry.js";
import { TraitStore } from "../store/store.js";
import { hardwareNames } from "./annotate.js";
import { MAX_PACKET, MAX_RECORD, type KeyName } from "./capture.js";
import { Output } from "./io.js";
import { BlockWriter, WRITER_BYTES, packetBlock } from "./writer.js";

/** An option a block carries as given: its code and value (a string is written as UTF-8), in the section's byte order as far as the caller encodes it. */
export interface PcapngOption {
  code: number;
  value: Uint8Array | string;
}

/** How a PcapngWriter writes. */
export interface PcapngWriterOptions {
  /** The stores' profile (default v1, or the registry's). */
  profile?: Profile;
  /** The names of the keys the stores hold, a registry or a list (the hardware keys 59..63 are added): written in each section, and how the standard options and the comment find packet_id, rx_queue, xdp_verdict, rx_hash. */
  names?: KeyRegistry | readonly KeyName[];
  /** Write our comment (the traits as text, what the Wireshark plugin reads): default true. */
  comment?: boolean;
  /** Byte order of the sections (default little-endian). */
  littleEndian?: boolean;
}

/** An interface (an interface description block). */
export interface PcapngInterface {
  /** The link type (default 1, Ethernet). */
  linkType?: number;
  /** The snap length (default 0: none). */
  snapLength?: number;
  /** Timestamps in 10^-tsResolution s: 9 (ns, the default) or 6 (µs). */
  tsResolution?: 6 | 9;
  /** Further options (if_name is code 2, if_description 3). */
  options?: readonly PcapngOption[];
}

/** A packet (an enhanced packet block). */
export interface PcapngPacket {
  /** Its interface, as interface() returned it (default 0). */
  interfaceId?: number;
  /** Its capture time in ns since 1970 (default 0). */
  timestamp?: bigint;
  /** The captured bytes (at most 16 MiB). */
  data: Uint8Array;
  /** Its length on the wire (default data.length). */
  originalLength?: number;
  /** Its trait store (a store of the writer's profile, or bytes holding one: written up to its size in use): our traits option, and the standard options its traits give. */
  traits?: TraitStore | Uint8Array;
  /** The rx queue (epb_queue) and XDP verdict (epb_verdict) when they are not traits of the store (rx_queue, xdp_verdict). */
  queue?: number;
  xdpVerdict?: number;
  /** The caller's options, written first, as given (comments are code 1; custom options 2988, 2989, 19372 and 19373). */
  options?: readonly PcapngOption[];
}

const STAGE = MAX_RECORD + 8;
const encoder = new TextEncoder();

/**
 * Writes pcapng to `sink`, a function taking each chunk of output (a copy: keep it or write it).
 * section() starts a section (the first interface() starts one if none is), interface() describes an
 * interface, packet() writes a packet; flush() hands what is buffered to the sink, close() flushes and
 * ends the file (renaming a toFile() writer's temporary file into place), abort() drops a toFile()
 * file; once closed or aborted, close() and abort() do nothing and every other call throws EINVAL.
 * Throws TraitsError: EINVAL for a packet of an undescribed interface, data that is not a Uint8Array,
 * a length, queue, verdict, link type or snap length that is not an unsigned integer of its field's
 * size, a store of another profile, an option over 65535 bytes, a call after close() or abort();
 * EBADMSG for store bytes whose header declares more than they hold; EMSGSIZE for a packet over 16 MiB.
 */
export class PcapngWriter {
  private readonly bytes = new Uint8Array(STAGE + WRITER_BYTES);
  private readonly writer: BlockWriter;
  private readonly block = packetBlock();
  private readonly profile: Profile;
  private readonly le: boolean;
  private resolutions: number[] = [];
  private sections = 0;
  /** What ended the writer ("close()" or "abort()"), if anything has. */
  private ended: string | undefined;

  /** `commit` and `drop` end a file of toFile(); a writer of a sink needs neither. */
  constructor(
    sink: (chunk: Uint8Array) => void,
    options: PcapngWriterOptions = {},
    private readonly ends: { commit(): void; drop(): void } = { commit() {}, drop() {} },
  ) {
    const names = options.names ?? [],
      given = Array.isArray(names) ? (names as readonly KeyName[]) : (names as KeyRegistry).entries();
    this.profile = toProfile(options.profile ?? (Array.isArray(names) ? undefined : (names as KeyRegistry).profile));
    this.le = options.littleEndian ?? true;
    this.writer = new BlockWriter(
      { write: (bytes, at, length) => sink(bytes.slice(at, at + length)) },
      this.bytes,
      this.profile,
      [...given, ...hardwareNames(this.profile).filter((h) => !given.some((k) => k.key === h.key))],
      STAGE,
    );
    this.block.littleEndian = this.le;
    this.block.comment = options.comment ?? true;
  }

  /**
   * A writer to the file `path` (Node): written as a temporary file beside it, renamed over it by
   * close(); abort() (or an error) leaves `path` as it was. Throws FileError (ENOENT, EACCES...).
   */
  static toFile(path: string, options: PcapngWriterOptions = {}): PcapngWriter {
    const output = Output.open(path);
    return new PcapngWriter((chunk) => output.write(chunk, 0, chunk.length), options, {
      commit: () => output.commit(),
      drop: () => output.abort(),
    });
  }

  /** Starts a section (with `options`, e.g. shb_userappl, code 4): interfaces are numbered from 0 again. */
  section(options: readonly PcapngOption[] = []): void {
    this.checkOpen();
    const end = this.stageOptions(0, options);
    this.writer.section(this.le, 0, end);
    this.resolutions = [];
    this.sections++;
  }

  /** Describes an interface (starting a section if none is); returns its index, the packets' interfaceId. */
  interface(description: PcapngInterface = {}): number {
    this.checkOpen();
    if (this.sections === 0) this.section();
    const resolution = description.tsResolution ?? 9;
    if (resolution !== 6 && resolution !== 9)
      throw new TraitsError("EINVAL", `tsResolution must be 6 or 9, not ${resolution}`);
    const linkType = checkInteger("linkType", description.linkType ?? 1, 0xffff),
      snapLength = checkInteger("snapLength", description.snapLength ?? 0, 0xffffffff);
    const end = this.stageOptions(0, description.options ?? []);
    this.writer.interfaceBlock(this.le, linkType, snapLength, resolution, -1, 0, end);
    this.resolutions.push(resolution);
    return this.resolutions.length - 1;
  }

  /** Writes a packet (see PcapngPacket). */
  packet(packet: PcapngPacket): void {
    this.checkOpen();
    const { bytes, block } = this,
      id = packet.interfaceId ?? 0,
      resolution = this.resolutions[id],
      data = packet.data;
    if (resolution === undefined)
      throw new TraitsError("EINVAL", `interface ${id} is not described in this section: call interface() first`);
    if (!(data instanceof Uint8Array))
      throw new TraitsError("EINVAL", `data must be a Uint8Array, not ${Object.prototype.toString.call(data)}`);
    const original = checkInteger("originalLength", packet.originalLength ?? data.length, 0xffffffff),
      queue = packet.queue === undefined ? -1 : checkInteger("queue", packet.queue, 0xffffffff),
      verdict = packet.xdpVerdict === undefined ? -1 : checkInteger("xdpVerdict", packet.xdpVerdict, 0xffffffff);
    if (data.length > MAX_PACKET)
      throw new TraitsError("EMSGSIZE", `a packet of ${data.length} bytes is over the ${MAX_PACKET}-byte limit`);
    const ns = packet.timestamp ?? 0n,
      ticks = resolution === 9 ? ns : ns / 1000n;
    if (ns < 0n || ticks >= 1n << 64n) throw new TraitsError("EINVAL", `timestamp ${ns} ns is out of range`);
    bytes.set(data, 0);
    let at = (data.length + 7) & ~7;
    const store = packet.traits === undefined ? undefined : this.storeBytes(packet.traits);
    block.storeAt = at;
    block.storeSize = store?.length ?? 0;
    if (store) {
      bytes.set(store, at);
      at += (store.length + 7) & ~7;
    }
    block.optionsAt = at;
    block.optionsEnd = this.stageOptions(at, packet.options ?? []);
    block.interfaceId = id;
    block.tsHigh = Number(ticks >> 32n);
    block.tsLow = Number(ticks & 0xffffffffn);
    block.dataAt = 0;
    block.captured = data.length;
    block.original = original;
    block.queue = queue;
    block.verdict = verdict;
    this.writer.packet(block);
    this.writer.flushChunk();
  }

  /** Hands what is buffered to the sink. */
  flush(): void {
    this.checkOpen();
    this.writer.flush();
  }

  /** Flushes and ends the output (a toFile() file: closed and renamed into place); does nothing once ended. */
  close(): void {
    if (this.ended) return;
    this.ended = "close()";
    try {
      this.writer.flush();
    } catch (error) {
      this.ends.drop();
      throw error;
    }
    this.ends.commit();
  }

  /** Gives up: a toFile() file is removed, its path left as it was; does nothing once ended. */
  abort(): void {
    if (this.ended) return;
    this.ended = "abort()";
    this.ends.drop();
  }

  /** Throws EINVAL once close() or abort() has ended the writer. */
  private checkOpen(): void {
    if (this.ended)
      throw new TraitsError("EINVAL", `the writer is closed (by ${this.ended}): nothing more can be written`);
  }

  /** A store's bytes (a store, or bytes holding one), checked: its size in use. */
  private storeBytes(traits: TraitStore | Uint8Array): Uint8Array {
    if (traits instanceof Uint8Array)
      return traits.subarray(0, TraitStore.over(traits, { profile: this.profile, impl: "js" }).validate());
    if (traits.profile !== this.profile)
      throw new TraitsError("EINVAL", `the store is of profile ${traits.profile}; this writer writes ${this.profile}`);
    return traits.bytes().subarray(0, traits.validate());
  }

  /** Writes `options` at bytes[at] in the section's byte order (headers; values as given); returns their end. */
  private stageOptions(at: number, options: readonly PcapngOption[]): number {
    const view = new DataView(this.bytes.buffer);
    for (const { code, value } of options) {
      const bytes = typeof value === "string" ? encoder.encode(value) : value;
      if (bytes.length > 65535)
        throw new TraitsError("EINVAL", `option ${code} of ${bytes.length} bytes: at most 65535`);
      if (at + 4 + bytes.length + 3 > STAGE) throw new TraitsError("EMSGSIZE", "the options do not fit a record");
      view.setUint16(at, code, this.le);
      view.setUint16(at + 2, bytes.length, this.le);
      this.bytes.set(bytes, at + 4);
      at += 4 + bytes.length;
      while (at % 4) this.bytes[at++] = 0;
    }
    return at;
  }
}

/** `value` if it is an integer in [0, max], else EINVAL naming the field. */
function checkInteger(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new TraitsError("EINVAL", `${name} must be an integer from 0 to ${max}, not ${value}`);
  return value;
}
