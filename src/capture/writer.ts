/**
 * Writing pcapng, streamed: blocks are assembled in an output buffer that shares one byte array
 * with the CaptureReader's buffer and the packet frames (typically a WebAssembly memory), so records,
 * packets and stores are copied in place, and the buffer goes to a ByteSink in chunks of 1 MiB.
 * Used by `pcap annotate` and `xdp run`: sections carry our key-names option, packets our traits
 * option (and comments).
 */
import {
  BLOCK,
  BYTE_ORDER_MAGIC,
  END,
  STALL,
  EPB,
  EPB_DROPCOUNT,
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
  mulAdd,
  type AsyncByteSource,
  type StopSignal,
  type CaptureReader,
} from "./capture.js";

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

/**
 * Writes pcapng blocks into bytes[READER_BYTES, READER_BYTES + WRITER_BYTES) of `bytes` and from
 * there to `sink`. Every index the methods take is into `bytes` (4-aligned where a store or packet
 * starts). Callers reserve room() for a block, then write it; flush() at the end.
 */
export class PcapngWriter {
  private readonly view: DataView;
  private readonly words: Int32Array;
  private readonly out = READER_BYTES;
  /** Where the next block goes. */
  private pos = READER_BYTES;

  /** `keysValue`: the UTF-8 text of our names option (keysText). */
  constructor(
    private readonly sink: ByteSink,
    private readonly bytes: Uint8Array,
    private readonly keysValue: Uint8Array,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
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

  /** Writes our custom option `code` at `at`: the PEN, then bytes[from, from + length). Returns where it ends. */
  private ourOption(at: number, le: boolean, code: number, from: number, length: number): number {
    this.u16(at, code, le);
    this.u16(at + 2, 4 + length, le);
    this.u32(at + 4, TRAITS_PEN, le);
    this.copy(at + 8, from, length);
    return this.pad(at + 8 + length, length);
  }

  /** Writes our names option at `at`; returns where it ends. */
  private keysOption(at: number, le: boolean): number {
    const length = this.keysValue.length;
    this.u16(at, KEYS_OPTION, le);
    this.u16(at + 2, 4 + length, le);
    this.u32(at + 4, TRAITS_PEN, le);
    this.bytes.set(this.keysValue, at + 8);
    return this.pad(at + 8 + length, length);
  }

  /** A pcap file's header (the reader's, or a live capture's) as a section (our names in it) and an interface. */
  pcapHeader(
    reader: Pick<CaptureReader, "snapLength" | "nanoseconds" | "fcsBytes"> & {
      interfaces: ReadonlyArray<{ linkType: number }>;
    },
  ): void {
    const le = true;
    this.room(256 + this.keysValue.length);
    let start = this.pos,
      at = start + 8;
    this.u32(at, BYTE_ORDER_MAGIC, le);
    this.u16(at + 4, 1, le);
    this.u16(at + 6, 0, le);
    this.view.setBigInt64(at + 8, -1n, le);
    at = this.keysOption(at + 16, le);
    this.u32(at, OPT_END, le);
    this.endBlock(start, SHB, at + 4, le);
    start = this.pos;
    at = start + 8;
    this.u16(at, reader.interfaces[0]!.linkType, le);
    this.u16(at + 2, 0, le);
    this.u32(at + 4, reader.snapLength, le);
    at += 8;
    const extra = (code: number, value: number): void => {
      this.u16(at, code, le);
      this.u16(at + 2, 1, le);
      this.u32(at + 4, value, le);
      at += 8;
    };
    if (reader.nanoseconds) extra(IF_TSRESOL, 9);
    if (reader.fcsBytes >= 0) extra(IF_FCSLEN, reader.fcsBytes);
    if (at > start + 16) {
      this.u32(at, OPT_END, le);
      at += 4;
    }
    this.endBlock(start, IDB, at, le);
  }

  /** The reader's current pcapng block other than an EPB: the SHB gets our names and an unknown section length; others pass through. */
  block(reader: CaptureReader): void {
    const { bytes } = this,
      le = reader.littleEndian;
    this.room(reader.length + this.keysValue.length + 16);
    if (reader.type !== SHB) {
      bytes.copyWithin(this.pos, reader.at, reader.at + reader.length);
      this.pos += reader.length;
      return;
    }
    const start = this.pos;
    bytes.copyWithin(start, reader.at, reader.at + 16);
    this.view.setBigInt64(start + 16, -1n, le);
    let at = this.copyOptions(start + 24, reader.at + 24, reader.at + reader.length - 4, le, KEYS_OPTION);
    at = this.keysOption(at, le);
    this.u32(at, OPT_END, le);
    this.endBlock(start, SHB, at + 4, le);
  }

  /**
   * Copies the options in [from, to) to `at`, except ours: a custom option `ours` under our PEN, and
   * (EPB) the comments of ours that directly follow our traits option. Returns where they end.
   */
  private copyOptions(at: number, from: number, to: number, le: boolean, ours: number): number {
    const { bytes, view } = this;
    let afterOurs = false;
    for (let o = from; o + 4 <= to; ) {
      const code = view.getUint16(o, le),
        length = view.getUint16(o + 2, le),
        size = 4 + length + ((4 - (length % 4)) % 4);
      if (code === OPT_END) break;
      const mine = code === ours && length >= 4 && view.getUint32(o + 4, le) === TRAITS_PEN;
      const ourComment: boolean = afterOurs && code === OPT_COMMENT && this.isOurComment(o + 4, length);
      if (!mine && !ourComment) {
        bytes.copyWithin(at, o, o + size);
        at += size;
      }
      afterOurs = (mine && ours === TRAITS_OPTION) || ourComment;
      o += size;
    }
    return at;
  }

  private isOurComment(at: number, length: number): boolean {
    return OUR_COMMENTS.some((prefix) => length >= prefix.length && prefix.every((c, i) => this.bytes[at + i] === c));
  }

  /**
   * Writes an EPB: interface, timestamp ticks (high, low words), original length, the captured
   * bytes[dataAt, dataAt + captured), the options in bytes[optionsAt, optionsEnd) but ours, the drop
   * count as epb_dropcount unless it is -1 (an OPB's, as Wireshark converts it), our traits option
   * with the store bytes[storeAt, storeAt + storeSize), and each comment (UTF-8).
   */
  packet(
    le: boolean,
    interfaceId: number,
    tsHigh: number,
    tsLow: number,
    original: number,
    dataAt: number,
    captured: number,
    optionsAt: number,
    optionsEnd: number,
    storeAt: number,
    storeSize: number,
    comments: readonly Uint8Array[],
    dropCount = -1,
  ): void {
    const { bytes } = this;
    let commentBytes = 0;
    for (const c of comments) commentBytes += c.length + 7;
    this.room(32 + captured + 3 + (optionsEnd - optionsAt) + 12 + 12 + storeSize + 3 + commentBytes + 8);
    const start = this.pos;
    let at = start + 8;
    this.u32(at, interfaceId, le);
    this.u32(at + 4, tsHigh, le);
    this.u32(at + 8, tsLow, le);
    this.u32(at + 12, captured, le);
    this.u32(at + 16, original, le);
    at += 20;
    this.copy(at, dataAt, captured);
    at = this.pad(at + captured, captured);
    at = this.copyOptions(at, optionsAt, optionsEnd, le, TRAITS_OPTION);
    if (dropCount >= 0) {
      this.u16(at, EPB_DROPCOUNT, le);
      this.u16(at + 2, 8, le);
      this.view.setBigUint64(at + 4, BigInt(dropCount), le);
      at += 12;
    }
    at = this.ourOption(at, le, TRAITS_OPTION, storeAt, storeSize);
    for (const comment of comments) {
      this.u16(at, OPT_COMMENT, le);
      this.u16(at + 2, comment.length, le);
      bytes.set(comment, at + 4);
      at = this.pad(at + 4 + comment.length, comment.length);
    }
    this.u32(at, OPT_END, le);
    this.endBlock(start, EPB, at + 4, le);
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
    private readonly writer: PcapngWriter,
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
