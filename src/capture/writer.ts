/**
 * Writing pcapng, streamed: blocks are assembled in an output buffer that shares one byte array
 * with the CaptureReader's buffer and the packet frames (typically a WebAssembly memory), so records,
 * packets and stores are copied in place, and the buffer goes to a ByteSink in chunks of 1 MiB.
 * Used by `pcap annotate`, `xdp run` and `xdp capture`, and by the public PcapngWriter: sections
 * carry our key-names option, packets our traits option, the standard options that repeat their
 * traits, and our comment.
 */
import {
  BLOCK,
  BYTE_ORDER_MAGIC,
  END,
  STALL,
  EPB,
  EPB_DROPCOUNT,
  EPB_HASH,
  EPB_PACKETID,
  EPB_QUEUE,
  EPB_VERDICT,
  HASH_TOEPLITZ,
  IDB,
  IF_FCSLEN,
  IF_TSRESOL,
  KEYS_OPTION,
  MAX_RECORD,
  MORE,
  OPT_COMMENT,
  OPT_END,
  READER_BYTES,
  SHB,
  TRAITS_OPTION,
  TRAITS_PEN,
  VERDICT_EBPF_XDP,
  keysText,
  mulAdd,
  type AsyncByteSource,
  type KeyName,
  type StopSignal,
  type CaptureReader,
} from "./capture.js";
import type { Profile } from "../core/options.js";
import { MAX_COMMENT, StoreShow } from "./epb.js";

/** Where a pcapng goes: write(bytes, at, length) writes bytes[at, at + length). */
export interface ByteSink {
  write(bytes: Uint8Array, at: number, length: number): void;
}

/** The output buffer is written once it holds this much; it has room for a maximal record, our options and a chunk. */
export const WRITE_CHUNK = 2 ** 20;
/** Bytes of the writer's output buffer: a maximal record, room for our options, and a chunk. */
export const WRITER_BYTES = MAX_RECORD + 65536 + WRITE_CHUNK;
/** Comments that belong to our traits option (written right after it; dropped with it when a capture is written again). */
const OUR_COMMENTS = ["traits:", "xdp: "].map((text) => [...text].map((c) => c.charCodeAt(0)));

/**
 * A WebAssembly memory for a pipeline: the reader's buffer at 0, the writer's at READER_BYTES, then
 * `extra` bytes; a PacketPool created in it allocates after them.
 */
export function pipelineMemory(extra = 0): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: Math.ceil((READER_BYTES + WRITER_BYTES + extra) / 65536), maximum: 65536 });
}

/** What an Enhanced Packet Block holds, as BlockWriter.packet() writes it (packetBlock() makes one; callers reuse it). */
export interface PacketBlock {
  /** Byte order of the block's section. */
  littleEndian: boolean;
  interfaceId: number;
  /** Timestamp ticks: high and low words. */
  tsHigh: number;
  tsLow: number;
  /** Original length, and the captured bytes [dataAt, dataAt + captured) of the writer's byte array. */
  original: number;
  dataAt: number;
  captured: number;
  /** The input's options [optionsAt, optionsEnd) to pass on (ours among them are dropped). */
  optionsAt: number;
  optionsEnd: number;
  /** The drop count, written as epb_dropcount (an OPB's, as Wireshark converts it); -1 for none. */
  dropCount: number;
  /** The trait store [storeAt, storeAt + storeSize) (8-aligned, valid) for our traits option; storeSize 0 for none. */
  storeAt: number;
  storeSize: number;
  /** The rx queue (epb_queue) and the XDP verdict (epb_verdict); -1: the store's rx_queue and xdp_verdict traits, if any. */
  queue: number;
  verdict: number;
  /** Write our comment, the store's traits as text (what the Wireshark plugin reads). */
  comment: boolean;
  /** Further comments (UTF-8) after ours, dropped with ours when the output is written again (each must start with "xdp: "). */
  notes: readonly Uint8Array[];
}

/** A PacketBlock with nothing in it: no options, no store, no comment. */
export function packetBlock(): PacketBlock {
  return {
    littleEndian: true,
    interfaceId: 0,
    tsHigh: 0,
    tsLow: 0,
    original: 0,
    dataAt: 0,
    captured: 0,
    optionsAt: 0,
    optionsEnd: 0,
    dropCount: -1,
    storeAt: 0,
    storeSize: 0,
    queue: -1,
    verdict: -1,
    comment: false,
    notes: [],
  };
}

/** copyOptions() found these single-instance standard options among those it kept (the user's). */
const KEPT_PACKETID = 1,
  KEPT_QUEUE = 2;

/**
 * Writes pcapng blocks into bytes[out, out + WRITER_BYTES) of `bytes` and from there to `sink`
 * (a pipeline's byte array holds the reader's buffer first: out is READER_BYTES). Every index the
 * methods take is into `bytes` (8-aligned where a store starts). Every section gets our names
 * option; every packet with a store our traits option, then the standard options that repeat its
 * traits (StoreShow) and, if asked, our comment. Callers reserve room() for a block, then write
 * it; flush() at the end.
 */
export class BlockWriter {
  private readonly view: DataView;
  private readonly words: Int32Array;
  private readonly keysValue: Uint8Array;
  private readonly show: StoreShow;
  /** Where the next block goes. */
  private pos: number;
  /** What copyOptions() kept of the single-instance standard options (KEPT_*). */
  private kept = 0;

  /** `profile` and `names`: the keys the stores hold (our names option, and how the standard options and comments find traits). */
  constructor(
    private readonly sink: ByteSink,
    private readonly bytes: Uint8Array,
    profile: Profile,
    names: readonly KeyName[],
    private readonly out = READER_BYTES,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
    this.keysValue = new TextEncoder().encode(keysText(profile, names));
    this.show = new StoreShow(profile, names, bytes, this.view);
    this.pos = out;
  }

  /** Makes sure `n` bytes fit in the output buffer, writing it out if need be. */
  room(n: number): void {
    if (this.pos + n > this.out + WRITER_BYTES) this.flush();
  }

  /** Writes out what is buffered. */
  flush(): void {
    if (this.pos > this.out) this.sink.write(this.bytes, this.out, this.pos - this.out);
    this.pos = this.out;
  }

  /** Writes out what is buffered once it is a chunk or more. */
  flushChunk(): void {
    if (this.pos - this.out >= WRITE_CHUNK) this.flush();
  }

  /** Where the next block goes (an index into bytes). */
  get at(): number {
    return this.pos;
  }

  /** Where a chunk ends: a block started before it fits (the buffer has room for a maximal record after it). */
  get chunkEnd(): number {
    return this.out + WRITE_CHUNK;
  }

  /** Takes the blocks a fast path wrote from `at` up to index `to` (a block started before chunkEnd). */
  wrote(to: number): void {
    this.pos = to;
  }

  private u16(at: number, value: number, le: boolean): void {
    this.view.setUint16(at, value, le);
  }

  private u32(at: number, value: number, le: boolean): void {
    this.view.setUint32(at, value, le);
  }

  /**
   * Copies n bytes from `from` to `to`: word by word when both are 4-aligned and n is small (then up
   * to 3 bytes more are copied, which the caller pads over or ignores), else with copyWithin.
   * Also what a pipeline copies packets into its frames with.
   */
  copy(to: number, from: number, n: number): void {
    if (((to | from) & 3) === 0 && n <= 256) {
      const w = this.words;
      for (let s = from >> 2, d = to >> 2, end = s + ((n + 3) >> 2); s < end; ) w[d++] = w[s++]!;
    } else {
      this.bytes.copyWithin(to, from, from + n);
    }
  }

  /** Zero-pads a value of `length` bytes ending at `at` to 4 bytes; returns the padded end. */
  private pad(at: number, length: number): number {
    for (let p = length % 4; p !== 0 && p < 4; p++) this.bytes[at++] = 0;
    return at;
  }

  /** Ends a block started at `start` of `type` at `at` (its trailing length goes there); moves pos past it. */
  private endBlock(start: number, type: number, at: number, le: boolean): void {
    const length = at + 4 - start;
    this.u32(start, type, le);
    this.u32(start + 4, length, le);
    this.u32(at, length, le);
    this.pos = at + 4;
  }

  /** Writes the header of an option `code` of `length` bytes at `at`; returns where its value goes. */
  private option(at: number, code: number, length: number, le: boolean): number {
    this.u16(at, code, le);
    this.u16(at + 2, length, le);
    return at + 4;
  }

  /** Writes our names option at `at`; returns where it ends. */
  private keysOption(at: number, le: boolean): number {
    const length = this.keysValue.length;
    at = this.option(at, KEYS_OPTION, 4 + length, le);
    this.u32(at, TRAITS_PEN, le);
    this.bytes.set(this.keysValue, at + 4);
    return this.pad(at + 4 + length, length);
  }

  /**
   * A section header (unknown section length) with the options bytes[optionsAt, optionsEnd) (e.g. a
   * user's shb_userappl; our names option among them is dropped) and our names option; version 1.minor.
   */
  section(le: boolean, optionsAt = 0, optionsEnd = 0, minor = 0): void {
    this.room(32 + (optionsEnd - optionsAt) + this.keysValue.length + 16);
    const start = this.pos;
    this.u32(start + 8, BYTE_ORDER_MAGIC, le);
    this.u16(start + 12, 1, le);
    this.u16(start + 14, minor, le);
    this.view.setBigInt64(start + 16, -1n, le);
    let at = this.copyOptions(start + 24, optionsAt, optionsEnd, le, KEYS_OPTION);
    at = this.keysOption(at, le);
    this.u32(at, OPT_END, le);
    this.endBlock(start, SHB, at + 4, le);
  }

  /** An interface description block: link type, snap length, if_tsresol (unless 6, the default: µs), if_fcslen (unless -1), and the options bytes[optionsAt, optionsEnd). */
  interfaceBlock(
    le: boolean,
    linkType: number,
    snapLength: number,
    tsResolution: number,
    fcsBytes: number,
    optionsAt = 0,
    optionsEnd = 0,
  ): void {
    this.room(48 + (optionsEnd - optionsAt));
    const start = this.pos;
    this.u16(start + 8, linkType, le);
    this.u16(start + 10, 0, le);
    this.u32(start + 12, snapLength, le);
    let at = start + 16;
    const extra = (code: number, value: number): void => {
      at = this.option(at, code, 1, le);
      this.u32(at, value, le);
      at += 4;
    };
    if (tsResolution !== 6) extra(IF_TSRESOL, tsResolution);
    if (fcsBytes >= 0) extra(IF_FCSLEN, fcsBytes);
    this.bytes.copyWithin(at, optionsAt, optionsEnd);
    at += optionsEnd - optionsAt;
    if (at > start + 16) {
      this.u32(at, OPT_END, le);
      at += 4;
    }
    this.endBlock(start, IDB, at, le);
  }

  /** A pcap file's header (the reader's, or a live capture's) as a section (our names in it) and an interface. */
  pcapHeader(
    reader: Pick<CaptureReader, "snapLength" | "nanoseconds" | "fcsBytes"> & {
      interfaces: ReadonlyArray<{ linkType: number }>;
    },
  ): void {
    this.section(true);
    this.interfaceBlock(
      true,
      reader.interfaces[0]!.linkType,
      reader.snapLength,
      reader.nanoseconds ? 9 : 6,
      reader.fcsBytes,
    );
  }

  /** The reader's current pcapng block other than an EPB: the SHB gets our names and an unknown section length; others pass through. */
  block(reader: CaptureReader): void {
    if (reader.type === SHB) {
      this.section(reader.littleEndian, reader.at + 24, reader.at + reader.length - 4, reader.u16(reader.at + 14));
      return;
    }
    this.room(reader.length);
    this.bytes.copyWithin(this.pos, reader.at, reader.at + reader.length);
    this.pos += reader.length;
  }

  /**
   * Copies the options in [from, to) to `at`, except ours: a custom option `ours` under our PEN and,
   * after our traits option (EPB), what we write after it: the standard options that repeat its
   * traits and our comments. Notes in `kept` which single-instance standard options it kept. Returns where they end.
   */
  private copyOptions(at: number, from: number, to: number, le: boolean, ours: number): number {
    const { bytes, view } = this;
    let afterOurs = false;
    this.kept = 0;
    for (let o = from; o + 4 <= to; ) {
      const code = view.getUint16(o, le),
        length = view.getUint16(o + 2, le),
        size = 4 + length + ((4 - (length % 4)) % 4);
      if (code === OPT_END) break;
      const mine = code === ours && length >= 4 && view.getUint32(o + 4, le) === TRAITS_PEN;
      const oursAfter: boolean =
        afterOurs &&
        (code === EPB_PACKETID ||
          code === EPB_QUEUE ||
          code === EPB_VERDICT ||
          code === EPB_HASH ||
          (code === OPT_COMMENT && this.isOurComment(o + 4, length)));
      if (!mine && !oursAfter) {
        bytes.copyWithin(at, o, o + size);
        at += size;
        if (code === EPB_PACKETID) this.kept |= KEPT_PACKETID;
        else if (code === EPB_QUEUE) this.kept |= KEPT_QUEUE;
      }
      afterOurs = (mine && ours === TRAITS_OPTION) || oursAfter;
      o += size;
    }
    return at;
  }

  private isOurComment(at: number, length: number): boolean {
    return OUR_COMMENTS.some((prefix) => length >= prefix.length && prefix.every((c, i) => this.bytes[at + i] === c));
  }

  /**
   * Writes an EPB (see PacketBlock): the input's options but ours, the drop count, our traits option,
   * the standard options that repeat its traits (epb_packetid, epb_queue, epb_verdict of type eBPF
   * XDP, epb_hash of algorithm Toeplitz; the first two only where the input's options have none), our
   * comment and the notes.
   */
  packet(p: PacketBlock): void {
    const { bytes, show } = this,
      le = p.littleEndian,
      store = p.storeAt,
      traits = p.storeSize > 0;
    let noteBytes = 0;
    for (const note of p.notes) noteBytes += note.length + 7;
    this.room(
      32 +
        p.captured +
        3 +
        (p.optionsEnd - p.optionsAt) +
        12 +
        12 +
        p.storeSize +
        3 +
        52 +
        (p.comment ? MAX_COMMENT + 7 : 0) +
        noteBytes +
        8,
    );
    const start = this.pos;
    let at = start + 8;
    this.u32(at, p.interfaceId, le);
    this.u32(at + 4, p.tsHigh, le);
    this.u32(at + 8, p.tsLow, le);
    this.u32(at + 12, p.captured, le);
    this.u32(at + 16, p.original, le);
    at += 20;
    this.copy(at, p.dataAt, p.captured);
    at = this.pad(at + p.captured, p.captured);
    at = this.copyOptions(at, p.optionsAt, p.optionsEnd, le, TRAITS_OPTION);
    if (p.dropCount >= 0) {
      at = this.option(at, EPB_DROPCOUNT, 8, le);
      this.u64(at, p.dropCount, 0, le);
      at += 8;
    }
    if (traits) {
      at = this.option(at, TRAITS_OPTION, 4 + p.storeSize, le);
      this.u32(at, TRAITS_PEN, le);
      this.copy(at + 4, store, p.storeSize);
      at = this.pad(at + 4 + p.storeSize, p.storeSize);
      const id = this.kept & KEPT_PACKETID ? -1 : show.find(store, show.packetIdKey);
      if (id >= 0) {
        at = this.option(at, EPB_PACKETID, 8, le);
        this.u64(at, this.view.getUint32(id, true), this.view.getUint32(id + 4, true), le);
        at += 8;
      }
    }
    const queue = p.queue >= 0 || !traits ? p.queue : show.u32(store, show.queueKey);
    if (queue >= 0 && !(this.kept & KEPT_QUEUE)) {
      at = this.option(at, EPB_QUEUE, 4, le);
      this.u32(at, queue, le);
      at += 4;
    }
    const verdict = p.verdict >= 0 || !traits ? p.verdict : show.u32(store, show.verdictKey);
    if (verdict >= 0) {
      at = this.option(at, EPB_VERDICT, 9, le);
      bytes[at] = VERDICT_EBPF_XDP;
      this.u64(at + 1, verdict, 0, le);
      at = this.pad(at + 9, 9);
    }
    const hash = traits ? show.u32(store, show.hashKey) : -1;
    if (hash >= 0) {
      at = this.option(at, EPB_HASH, 5, le);
      bytes[at] = HASH_TOEPLITZ;
      this.u32(at + 1, hash, le);
      at = this.pad(at + 5, 5);
    }
    if (p.comment && traits) {
      const end = show.comment(store, at + 4);
      this.option(at, OPT_COMMENT, end - at - 4, le);
      at = this.pad(end, end - at - 4);
    }
    for (const note of p.notes) {
      at = this.option(at, OPT_COMMENT, note.length, le);
      bytes.set(note, at);
      at = this.pad(at + note.length, note.length);
    }
    this.u32(at, OPT_END, le);
    this.endBlock(start, EPB, at + 4, le);
  }

  /** Writes the u64 (lo, hi) at `at` in byte order `le` (any alignment). */
  private u64(at: number, lo: number, hi: number, le: boolean): void {
    this.u32(at + (le ? 0 : 4), lo, le);
    this.u32(at + (le ? 4 : 0), hi, le);
  }
}

/**
 * The EPB timestamp of the reader's current packet as ticks (u64 lo, hi at out[at], out[at + 1]):
 * a pcapng packet's as read; a pcap record's in µs or ns (the interface pcapHeader writes), where u32
 * seconds times 10^9 always fit 64 bits.
 */
export function packetTicks(reader: CaptureReader, out: Uint32Array, at: number): void {
  if (reader.format === "pcap") {
    mulAdd(0, reader.tsHigh, reader.nanoseconds ? 1e9 : 1e6, reader.tsLow, out, at);
  } else {
    out[at] = reader.tsLow;
    out[at + 1] = reader.tsHigh;
  }
}

/** What a pipeline does with a capture's packets, burst by burst (annotate, xdp run). */
export interface BurstStage {
  /** Packets taken into the burst not yet written. */
  pending(): number;
  /** True when the burst holds all it can. */
  full(): boolean;
  /** True when no more packets are wanted (-c). */
  done(): boolean;
  /** Takes the reader's current packet into the burst. */
  stash(): void;
  /** Processes the burst and writes its packets through the writer. */
  flushBurst(): void;
  /**
   * Optional fast path: takes as many of the reader's next packets as it can straight to the writer,
   * leaving the rest to next() and stash(). Called for pcap captures only, after their header,
   * whenever no packet is pending.
   */
  drain?(): void;
}

/**
 * Drives a pipeline over a capture: each packet goes to the stage (or its fast path); a full burst, a
 * stall of the source, a need for input (so that a slow input still flows: what is done is written
 * before it waits) or a block that is not a packet flushes the burst first; a pcap file's header and
 * the blocks that are not packets are written as they come.
 */
export class Pipeline {
  private header = false;

  constructor(
    private readonly reader: CaptureReader,
    private readonly writer: BlockWriter,
    private readonly stage: BurstStage,
  ) {}

  /**
   * Runs over what the reader holds (and what its source, if it has one, gives): returns MORE when a
   * reader without a source needs input (feed it through room() and received(), then pump again), or
   * END once the capture or the stage is done (the burst and the writer flushed). Throws what the
   * reader, the stage or the writer throw.
   */
  pump(): number {
    const { reader, writer, stage } = this;
    while (!stage.done()) {
      if (this.header && stage.drain && stage.pending() === 0) {
        stage.drain();
        if (stage.done()) break;
      }
      const kind = reader.next(stage.pending() === 0);
      if (!this.header && reader.format === "pcap") {
        writer.pcapHeader(reader);
        this.header = true;
      }
      if (kind === END) break;
      if (kind === MORE || kind === STALL) {
        stage.flushBurst();
        if (kind === MORE) {
          writer.flush();
          return MORE;
        }
      } else if (kind === BLOCK) {
        stage.flushBurst();
        writer.block(reader);
      } else {
        stage.stash();
        if (stage.full()) stage.flushBurst();
      }
    }
    stage.flushBurst();
    writer.flush();
    return END;
  }

  /**
   * Runs to the end, reading `input` into the reader (one without a source) whenever it needs more,
   * a chunk at a time, so that the event loop turns between chunks. Once `signal` aborts, ends at the
   * next read (a read waiting for input at once), rejecting with the signal's reason. Rejects with
   * what pump() throws and what the input rejects with.
   */
  async run(input: AsyncByteSource, signal?: StopSignal): Promise<void> {
    const { reader } = this;
    while (this.pump() === MORE) {
      const length = reader.room();
      reader.received(await input.read(reader.bytes, reader.unreadEnd, length, signal));
      signal?.throwIfAborted();
    }
  }
}
