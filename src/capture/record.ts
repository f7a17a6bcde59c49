/**
 * A capture's bytes in a bounded buffer and the record read last: what the format readers (pcap.ts,
 * pcapng.ts) fill and CaptureReader (capture.ts) reads on. The buffer is refilled from a ByteSource,
 * or fed (room(), received()) when there is none.
 */
import { TraitsError } from "../core/errors.js";
import { MAX_RECORD, MORE, STALL, type Interface } from "./format.js";

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
  read(into: Uint8Array, at: number, length: number, signal?: StopSignal): Promise<number>;
}

/**
 * What the capture pipeline uses of an `AbortSignal` (the web's and Node's both fit), declared here so
 * that the declarations need neither the DOM's types nor Node's.
 */
export interface StopSignal {
  readonly aborted: boolean;
  throwIfAborted(): void;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
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

/** The buffer of a CaptureReader and the record it read last (see CaptureReader). */
export class CaptureBuffer {
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
  /**
   * Where the packet's options the readers use are, found by the reader's check of its options (pcapng
   * EPB and OPB; -1 for other records): the buffer index of the value of the first of each that is
   * well formed: our traits option (after its PEN; traitsLength bytes), epb_queue (u32), epb_packetid
   * (u64), epb_verdict of type eBPF XDP (its type octet, then the u64) and epb_hash of the Toeplitz
   * algorithm (its algorithm octet, then the u32).
   */
  traitsAt = -1;
  traitsLength = 0;
  queueAt = -1;
  packetIdAt = -1;
  verdictAt = -1;
  hashAt = -1;
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
    // Small, so that V8 inlines the common case (the bytes are there) into the format readers.
    return this.filled - this.pos >= n || this.eof ? 0 : this.fill(n, mayMove);
  }

  /** ensure()'s uncommon case: the bytes are not all in the buffer. */
  private fill(n: number, mayMove: boolean): number {
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
}
