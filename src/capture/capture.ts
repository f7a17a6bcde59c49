/**
 * Captures, streamed: CaptureReader reads classic pcap (pcap.ts) and pcapng (pcapng.ts), either
 * byte order, one record at a time out of a bounded buffer, refilled from a ByteSource in chunks.
 * Every read is bounds-checked: malformed input is an EBADMSG naming its byte offset (and the
 * packet). This module holds what both formats share: the buffer, the current record, timestamps.
 */
import { TraitsError } from "../core/errors.js";
import { END, MAX_RECORD, MORE, SHB, STALL, TRAITS_PEN, type Interface } from "./format.js";
import { isPcapMagic, readPcapHeader, readPcapRecord } from "./pcap.js";
import { customOption, readBlock } from "./pcapng.js";
import { mulAdd } from "./time.js";

export * from "./format.js";
export { keysText, parseKeysText, type KeyName } from "./names.js";
export { writePcap } from "./pcap.js";
export { mulAdd } from "./time.js";

/** Bytes asked of the source per read. */
export const READ_CHUNK = 2 ** 20;
/** Room the reader needs: one maximal record and a chunk. */
export const READER_BYTES = MAX_RECORD + READ_CHUNK;

/** Where a capture's bytes come from: read() fills into[at, at + length) and returns how many bytes it read, 0 at the end. */
export interface ByteSource {
  read(into: Uint8Array, at: number, length: number): number;
}

/**
 * Where a capture's bytes come from, asynchronously (a file read between turns of the event loop, a
 * pipe, a stream): read() fills into[at, at + length) and resolves to how many bytes it read, 0 at
 * the end. A read waiting for input ends early, rejecting with the signal's reason, once `signal` aborts.
 */
export interface AsyncByteSource {
  read(into: Uint8Array, at: number, length: number, signal?: AbortSignal): Promise<number>;
}

/** A ByteSource over bytes in memory. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  let next = 0;
  return {
    read(into, at, length) {
      const n = Math.min(length, bytes.length - next);
      into.set(bytes.subarray(next, next + n), at);
      next += n;
      return n;
    },
  };
}

/**
 * Reads a capture record by record through bytes[from, from + READER_BYTES) of a buffer (typically
 * WebAssembly memory, so that records can be copied in place), from `source`, or, without one, from
 * what it is fed: next() then returns MORE when a record is not all in the buffer yet, and the input
 * goes to room() and received() (so that reads can be asynchronous, or chunks pushed as they come).
 * After next() the fields describe the current record; its bytes stay where they are until
 * next(true) or room() (which may move the unread tail to the front of the buffer to make room).
 */
export class CaptureReader {
  /** "pcap" or "pcapng", known after the first next(). */
  format: "pcap" | "pcapng" | undefined;
  /** The current record: its byte offset in the capture, its index in the buffer, its length. */
  offset = 0;
  at = 0;
  length = 0;
  /** pcapng block type of the current record (EPB for a pcap record; SPB and OPB are packets too). */
  type = 0;
  /** The current packet: its index (from 0), data position in the buffer, captured and original lengths, interface. */
  packet = -1;
  dataAt = 0;
  captured = 0;
  original = 0;
  interfaceId = 0;
  /** Timestamp as read: pcapng ticks (high, low words); pcap seconds and fraction (µs or ns); 0 for an SPB, which has none. */
  tsHigh = 0;
  tsLow = 0;
  /** The packet's options in the buffer: [optionsAt, optionsEnd) (pcapng). */
  optionsAt = 0;
  optionsEnd = 0;
  /** The packet's drop count: an OPB's (what an EPB carries as the epb_dropcount option); -1 for none. */
  dropCount = -1;
  /** Byte order of the current section. */
  littleEndian = true;
  /** Interfaces of the current section (pcap: the file's one). */
  interfaces: Interface[] = [];
  /** pcap: snap length, nanosecond timestamps, FCS length in bytes (-1: not given). */
  snapLength = 0;
  nanoseconds = false;
  fcsBytes = -1;

  /** @internal A view of the buffer, for the format readers. */
  readonly view: DataView;
  /** @internal Unread bytes are [pos, filled); the source is exhausted once eof. */
  pos: number;
  /** @internal */
  filled: number;
  private eof = false;
  /** Capture offset of bytes[from]. */
  private base = 0;
  /** Bytes from pos the record that returned MORE needs. */
  private need = 0;

  constructor(
    private readonly source: ByteSource | undefined,
    readonly bytes: Uint8Array,
    private readonly from = 0,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = this.filled = from;
  }

  /**
   * Advances to the next record: PACKET (a pcap record, or an EPB, SPB or OPB), BLOCK (any other
   * pcapng block, the SHB and IDBs included), END, or, when the record is not all in the buffer yet,
   * STALL (with a source and `mayMove` false: call again with true once the current records are
   * used) or MORE (without a source: feed it through room() and received(), then call again).
   * Nothing is consumed by STALL or MORE. Throws EBADMSG for a malformed or truncated record.
   */
  next(mayMove: boolean): number {
    if (this.format === undefined) return this.start();
    const need = this.format === "pcap" ? 16 : 12;
    let wait = this.ensure(1, mayMove);
    if (wait !== 0) return wait;
    if (this.filled === this.pos) return END;
    wait = this.ensure(need, mayMove);
    if (wait !== 0) return wait;
    if (this.filled - this.pos < need)
      this.bad(
        this.offsetOf(this.pos),
        this.format === "pcap" ? "truncated pcap record header (16 bytes)" : "truncated block header",
      );
    return this.format === "pcap" ? readPcapRecord(this, mayMove) : readBlock(this, mayMove);
  }

  /** @internal Buffer index of the first unread byte; the unread bytes end at unreadEnd. */
  get unreadAt(): number {
    return this.pos;
  }

  /** Buffer index after the last byte of input: where input goes (see room()). */
  get unreadEnd(): number {
    return this.filled;
  }

  /**
   * Where the next input goes, for a reader without a source: makes room after the unread bytes
   * (moving them to the front of the buffer once a chunk has been read past, or when the record
   * waiting for input would not fit) and returns how many bytes to write at unreadEnd: at least 1
   * after next() returned MORE, at most what the record waiting needs or a chunk, whichever is more.
   * Call it only once the current records are used (their bytes may move).
   */
  room(): number {
    const end = this.from + READER_BYTES;
    if (this.pos > this.from && (this.pos + this.need > end || this.pos - this.from >= READ_CHUNK)) {
      this.bytes.copyWithin(this.from, this.pos, this.filled);
      this.base += this.pos - this.from;
      this.filled -= this.pos - this.from;
      this.pos = this.from;
    }
    return Math.min(end - this.filled, Math.max(READ_CHUNK, this.need - (this.filled - this.pos)));
  }

  /** Takes `n` bytes of input written at unreadEnd (at most room()); 0 means the input has ended. */
  received(n: number): void {
    if (n === 0) this.eof = true;
    this.filled += n;
  }

  /** @internal Takes `packets` pcap records that a fast path consumed, up to buffer index `at` (at most unreadEnd), as read. */
  consumed(at: number, packets: number): void {
    this.pos = at;
    this.packet += packets;
  }

  /** The capture offset of buffer index `at`. */
  offsetOf(at: number): number {
    return this.base + at - this.from;
  }

  /** @internal Throws EBADMSG for what is wrong at capture offset `offset`. */
  bad(offset: number, message: string): never {
    throw new TraitsError("EBADMSG", `byte offset ${offset}: ${message}`);
  }

  /**
   * @internal Makes n bytes from pos available if the capture has them: 0 once they are (or the
   * input has ended); MORE without a source; STALL if that needs moving bytes and mayMove is false.
   */
  ensure(n: number, mayMove: boolean): number {
    if (this.filled - this.pos >= n || this.eof) return 0;
    if (!this.source) {
      this.need = n;
      return MORE;
    }
    const end = this.from + READER_BYTES;
    // The unread tail moves to the front when the record would not fit, and once a chunk has been
    // consumed (so that the buffer's first two chunks are all the memory a stream of small records touches).
    if (this.pos > this.from && (this.pos + n > end || this.pos - this.from >= READ_CHUNK)) {
      if (!mayMove) return STALL;
      this.bytes.copyWithin(this.from, this.pos, this.filled);
      this.base += this.pos - this.from;
      this.filled -= this.pos - this.from;
      this.pos = this.from;
    }
    while (this.filled - this.pos < n) {
      const got = this.source.read(
        this.bytes,
        this.filled,
        Math.min(Math.max(READ_CHUNK, n - (this.filled - this.pos)), end - this.filled),
      );
      if (got === 0) {
        this.eof = true;
        break;
      }
      this.filled += got;
    }
    return 0;
  }

  /** @internal The u32 at buffer index `at`, in the section's byte order. */
  u32(at: number): number {
    return this.view.getUint32(at, this.littleEndian);
  }

  /** @internal The u16 at buffer index `at`, in the section's byte order. */
  u16(at: number): number {
    return this.view.getUint16(at, this.littleEndian);
  }

  /** Reads the file header: pcap's 24 bytes, or recognises a pcapng SHB (read as the first BLOCK). */
  private start(): number {
    if (this.ensure(24, true) === MORE) return MORE;
    const left = this.filled - this.pos;
    if (left < 4) this.bad(0, `${left} bytes is too short for a capture`);
    const magic = this.view.getUint32(this.pos, true);
    if (magic === SHB) {
      this.format = "pcapng";
      return this.next(true);
    }
    if (!isPcapMagic(magic))
      this.bad(0, `not a pcap or pcapng capture (magic 0x${magic.toString(16).padStart(8, "0")})`);
    readPcapHeader(this);
    this.format = "pcap";
    return this.next(true);
  }

  /** The value (after the PEN) of our custom option `code` in the current SHB's or packet's options, as a view into the buffer; or undefined. */
  ourOption(code: number): Uint8Array | undefined {
    return this.type === SHB
      ? customOption(this, this.at + 24, this.at + this.length - 4, code, TRAITS_PEN)
      : customOption(this, this.optionsAt, this.optionsEnd, code, TRAITS_PEN);
  }

  /**
   * Writes the current packet's time in ns since the epoch as a u64 (lo, hi) at out[at], out[at + 1].
   * Throws EBADMSG naming the packet and its byte offset if it is before 1970 or past 2^64 ns.
   */
  timestampNs(out: Uint32Array, at: number): void {
    const iface = this.interfaces[this.interfaceId]!;
    if (this.format === "pcap") {
      if (!mulAdd(0, this.tsHigh, 1e9, this.tsLow * iface.nsPerTick, out, at)) this.outOfRange();
      return;
    }
    if (iface.nsPerTick > 0 && iface.offsetSeconds === 0n) {
      if (!mulAdd(this.tsHigh, this.tsLow, iface.nsPerTick, 0, out, at)) this.outOfRange();
      return;
    }
    const ns = this.timestampBig();
    if (ns < 0n || ns >= 1n << 64n) this.outOfRange();
    out[at] = Number(ns & 0xffffffffn);
    out[at + 1] = Number(ns >> 32n);
  }

  /** The current packet's time in ns since the epoch, exactly (may be out of the u64 range). */
  timestampBig(): bigint {
    const iface = this.interfaces[this.interfaceId]!;
    if (this.format === "pcap") return BigInt(this.tsHigh) * 1_000_000_000n + BigInt(this.tsLow * iface.nsPerTick);
    const ticks = (BigInt(this.tsHigh) << 32n) | BigInt(this.tsLow);
    return (ticks * 1_000_000_000n) / iface.ticksPerSecond + iface.offsetSeconds * 1_000_000_000n;
  }

  private outOfRange(): never {
    this.bad(
      this.offset + (this.format === "pcap" ? 0 : 12),
      `packet ${this.packet}: timestamp ${this.timestampBig()} ns is out of the range of rx_timestamp (0 to 2^64 - 1 ns since 1970)`,
    );
  }
}
