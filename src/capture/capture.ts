/**
 * Captures, streamed: a reader of classic pcap and pcapng (either byte order) that parses one
 * record at a time out of a bounded buffer, refilled from a ByteSource in chunks. Every read is
 * bounds-checked: malformed input is an EBADMSG naming its byte offset (and the packet).
 * Also the format's constants and our options: a trait store rides in each Enhanced Packet Block
 * in a custom option, the key names in the Section Header Block in another.
 */
import { TraitsError } from "../core/errors.js";
import { PROFILE_SIZES, toProfile, type Profile } from "../core/options.js";

/** Custom binary option code (copyable) of the option carrying a trait store (EPB). */
export const TRAITS_OPTION = 2989;
/** Custom UTF-8 option code (copyable) of the option carrying the key names (SHB): "traits-keys v1 NAME=KEY:LEN ...". */
export const KEYS_OPTION = 2988;
/** The Private Enterprise Number our options are filed under: IANA's PEN for documentation (no PEN is assigned to this project). */
export const TRAITS_PEN = 32473;
/** pcapng option codes: end of options, comment, and the interface options the reader uses. */
export const OPT_END = 0,
  OPT_COMMENT = 1,
  IF_TSRESOL = 9,
  IF_FCSLEN = 13,
  IF_TSOFFSET = 14;
/** pcapng block types (SHB, IDB, SPB, EPB) and the section header's byte-order magic. */
export const SHB = 0x0a0d0d0a,
  IDB = 1,
  SPB = 3,
  EPB = 6,
  BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** Largest record (pcap record or pcapng block) read: a 16 MiB jumbo is fine, a corrupt 4 GiB length is refused before any allocation. */
export const MAX_RECORD = 16 * 2 ** 20;
/** Bytes asked of the source per read. */
export const READ_CHUNK = 2 ** 20;
/** Room the reader needs: one maximal record and a chunk. */
export const READER_BYTES = MAX_RECORD + READ_CHUNK;

/** Where a capture's bytes come from: read() fills into[at, at + length) and returns how many bytes it read, 0 at the end. */
export interface ByteSource {
  read(into: Uint8Array, at: number, length: number): number;
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

/** An interface of a pcapng section (or the one of a pcap file). */
export interface Interface {
  linkType: number;
  /** Nanoseconds per timestamp tick when whole (µs: 1000), else 0. */
  nsPerTick: number;
  /** Ticks per second, and the offset in seconds added to timestamps (if_tsoffset). */
  ticksPerSecond: bigint;
  offsetSeconds: bigint;
}

/** What next() found. */
export const END = 0,
  PACKET = 1,
  BLOCK = 2,
  STALL = 3;

const PCAP_MAGICS = [0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1];
const TWO32 = 2 ** 32;

/**
 * Reads a capture record by record from `source` through bytes[from, from + READER_BYTES) of a
 * buffer (typically WebAssembly memory, so that records can be copied in place). After next() the
 * fields describe the current record; its bytes stay where they are until next(true) (which may
 * move the unread tail to the front of the buffer to make room).
 */
export class CaptureReader {
  /** "pcap" or "pcapng", known after the first next(). */
  format: "pcap" | "pcapng" | undefined;
  /** The current record: its byte offset in the capture, its index in the buffer, its length. */
  offset = 0;
  at = 0;
  length = 0;
  /** pcapng block type of the current record (EPB for a pcap record). */
  type = 0;
  /** The current packet: its index (from 0), data position in the buffer, captured and original lengths, interface. */
  packet = -1;
  dataAt = 0;
  captured = 0;
  original = 0;
  interfaceId = 0;
  /** Timestamp as read: pcapng ticks (high, low words); pcap seconds and fraction (µs or ns). */
  tsHigh = 0;
  tsLow = 0;
  /** The packet's options in the buffer: [optionsAt, optionsEnd) (pcapng). */
  optionsAt = 0;
  optionsEnd = 0;
  /** Byte order of the current section. */
  littleEndian = true;
  /** Interfaces of the current section (pcap: the file's one). */
  interfaces: Interface[] = [];
  /** pcap: snap length, nanosecond timestamps, FCS length in bytes (-1: not given). */
  snapLength = 0;
  nanoseconds = false;
  fcsBytes = -1;

  private readonly view: DataView;
  /** Unread bytes are [pos, filled); the source is exhausted once eof. */
  private pos: number;
  private filled: number;
  private eof = false;
  /** Capture offset of bytes[from]. */
  private base = 0;

  constructor(
    private readonly source: ByteSource,
    readonly bytes: Uint8Array,
    private readonly from = 0,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = this.filled = from;
  }

  /**
   * Advances to the next record: PACKET (a pcap record or an EPB), BLOCK (any other pcapng block,
   * the SHB and IDBs included), END, or, when `mayMove` is false and the record is not all in the
   * buffer yet, STALL (nothing consumed: call again with true once the current records are used).
   * Throws EBADMSG for a malformed or truncated record.
   */
  next(mayMove: boolean): number {
    if (this.format === undefined) return this.start();
    const need = this.format === "pcap" ? 16 : 12;
    if (!this.ensure(1, mayMove)) return STALL;
    if (this.filled === this.pos) return END;
    if (!this.ensure(need, mayMove)) return STALL;
    if (this.filled - this.pos < need)
      this.bad(
        this.offsetOf(this.pos),
        this.format === "pcap" ? "truncated pcap record header (16 bytes)" : "truncated block header",
      );
    return this.format === "pcap" ? this.pcapRecord(mayMove) : this.block(mayMove);
  }

  /** @internal Buffer index of the first unread byte; the unread bytes end at unreadEnd. */
  get unreadAt(): number {
    return this.pos;
  }

  /** @internal Buffer index after the last byte read from the source. */
  get unreadEnd(): number {
    return this.filled;
  }

  /** @internal Reads more of the source after the unread bytes (moving them to the front if need be); false at its end. */
  more(): boolean {
    const unread = this.filled - this.pos;
    this.ensure(unread + 1, true);
    return this.filled - this.pos > unread;
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

  private bad(offset: number, message: string): never {
    throw new TraitsError("EBADMSG", `byte offset ${offset}: ${message}`);
  }

  /** Makes n bytes from pos available if the capture has them; false if that needs moving bytes and mayMove is false. */
  private ensure(n: number, mayMove: boolean): boolean {
    if (this.filled - this.pos >= n || this.eof) return true;
    const end = this.from + READER_BYTES;
    // The unread tail moves to the front when the record would not fit, and once a chunk has been
    // consumed (so that the buffer's first two chunks are all the memory a stream of small records touches).
    if (this.pos > this.from && (this.pos + n > end || this.pos - this.from >= READ_CHUNK)) {
      if (!mayMove) return false;
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
    return true;
  }

  private u32(at: number): number {
    return this.view.getUint32(at, this.littleEndian);
  }

  private u16(at: number): number {
    return this.view.getUint16(at, this.littleEndian);
  }

  /** Reads the file header: pcap's 24 bytes, or recognises a pcapng SHB (read as the first BLOCK). */
  private start(): number {
    this.ensure(24, true);
    const left = this.filled - this.pos;
    if (left < 4) this.bad(0, `${left} bytes is too short for a capture`);
    const magic = this.view.getUint32(this.pos, true);
    if (magic === SHB) {
      this.format = "pcapng";
      return this.next(true);
    }
    if (!PCAP_MAGICS.includes(magic))
      this.bad(0, `not a pcap or pcapng capture (magic 0x${magic.toString(16).padStart(8, "0")})`);
    if (left < 24) this.bad(0, "truncated pcap file header (24 bytes)");
    this.format = "pcap";
    const raw = this.view.getUint32(this.pos, false);
    this.littleEndian = raw === 0xd4c3b2a1 || raw === 0x4d3cb2a1;
    this.nanoseconds = raw === 0xa1b23c4d || raw === 0x4d3cb2a1;
    this.snapLength = this.u32(this.pos + 16);
    // LinkType and additional information: FCS length (4 bits) | R | P (FCS length present) | 10 reserved bits | link type (16 bits).
    const field = this.u32(this.pos + 20);
    if (field & 0x0bff0000)
      this.bad(20, `link type field 0x${field.toString(16)} has reserved bits set (link types are 16 bits)`);
    this.fcsBytes = field & 0x04000000 ? 2 * (field >>> 28) : -1;
    this.interfaces = [
      {
        linkType: field & 0xffff,
        nsPerTick: this.nanoseconds ? 1 : 1000,
        ticksPerSecond: this.nanoseconds ? 1_000_000_000n : 1_000_000n,
        offsetSeconds: 0n,
      },
    ];
    this.pos += 24;
    return this.next(true);
  }

  private pcapRecord(mayMove: boolean): number {
    const captured = this.u32(this.pos + 8),
      offset = this.offsetOf(this.pos);
    if (16 + captured > MAX_RECORD)
      this.bad(offset + 8, `captured length ${captured} is over the ${MAX_RECORD}-byte limit of a record`);
    if (!this.ensure(16 + captured, mayMove)) return STALL;
    const at = this.pos;
    if (this.filled - at < 16 + captured)
      this.bad(
        offset + 8,
        `captured length ${captured} runs past the end of the file (${this.filled - at - 16} bytes left)`,
      );
    const fraction = this.u32(at + 4);
    if (fraction >= (this.nanoseconds ? 1e9 : 1e6))
      this.bad(offset + 4, `packet ${this.packet + 1}: sub-second timestamp ${fraction} is out of range`);
    this.type = EPB;
    this.at = at;
    this.offset = offset;
    this.length = 16 + captured;
    this.packet++;
    this.dataAt = at + 16;
    this.captured = captured;
    this.original = this.u32(at + 12);
    this.interfaceId = 0;
    this.tsHigh = this.u32(at);
    this.tsLow = fraction;
    this.optionsAt = this.optionsEnd = at + 16 + captured;
    this.pos = at + 16 + captured;
    return PACKET;
  }

  private block(mayMove: boolean): number {
    const offset = this.offsetOf(this.pos),
      type = this.view.getUint32(this.pos, true) === SHB ? SHB : this.u32(this.pos);
    if (type === SHB) {
      const order = this.view.getUint32(this.pos + 8, true);
      if (order === BYTE_ORDER_MAGIC) this.littleEndian = true;
      else if (order === 0x4d3c2b1a) this.littleEndian = false;
      else this.bad(offset + 8, `bad byte-order magic 0x${order.toString(16)}`);
    }
    const length = this.u32(this.pos + 4);
    if (length < 12 || length % 4 !== 0)
      this.bad(offset + 4, `block length ${length} is not a multiple of 4 of at least 12`);
    if (length > MAX_RECORD)
      this.bad(offset + 4, `block length ${length} is over the ${MAX_RECORD}-byte limit of a record`);
    if (!this.ensure(length, mayMove)) return STALL;
    const at = this.pos,
      left = this.filled - at;
    if (length > left)
      this.bad(offset + 4, `block of ${length} bytes runs past the end of the file (${left} bytes left)`);
    const trailer = this.u32(at + length - 4);
    if (trailer !== length) this.bad(offset + length - 4, `trailing block length ${trailer} does not match ${length}`);
    this.type = type;
    this.at = at;
    this.offset = offset;
    this.length = length;
    this.pos = at + length;
    if (type === SHB) return this.section(at, offset, length);
    if (type === IDB) return this.interfaceBlock(at, offset, length);
    if (type === EPB) return this.enhanced(at, offset, length);
    if (type === SPB && this.interfaces.length === 0)
      this.bad(offset, "simple packet block before any interface description block");
    return BLOCK;
  }

  private section(at: number, offset: number, length: number): number {
    if (length < 28) this.bad(offset + 4, `section header block of ${length} bytes; at least 28`);
    const major = this.u16(at + 12),
      minor = this.u16(at + 14);
    if (major !== 1 || (minor !== 0 && minor !== 2))
      this.bad(offset + 12, `pcapng version ${major}.${minor} is not supported (1.0)`);
    this.checkOptions(at + 24, at + length - 4, offset - at);
    this.interfaces = [];
    return BLOCK;
  }

  private interfaceBlock(at: number, offset: number, length: number): number {
    if (length < 20) this.bad(offset + 4, "interface description block shorter than 20 bytes");
    const resolution = this.option(at + 16, at + length - 4, IF_TSRESOL, offset - at);
    const tsOffset = this.option(at + 16, at + length - 4, IF_TSOFFSET, offset - at);
    const r = resolution < 0 ? 6 : this.bytes[resolution]!;
    const ticksPerSecond = r & 0x80 ? 1n << BigInt(r & 0x7f) : 10n ** BigInt(r);
    const whole = !(r & 0x80) && r <= 9;
    let offsetSeconds = 0n;
    if (tsOffset >= 0 && this.u16(tsOffset - 2) === 8)
      offsetSeconds = this.view.getBigInt64(tsOffset, this.littleEndian);
    this.interfaces.push({
      linkType: this.u16(at + 8),
      nsPerTick: whole ? 10 ** (9 - r) : 0,
      ticksPerSecond,
      offsetSeconds,
    });
    return BLOCK;
  }

  private enhanced(at: number, offset: number, length: number): number {
    if (length < 32) this.bad(offset + 4, "enhanced packet block shorter than 32 bytes");
    const interfaceId = this.u32(at + 8),
      captured = this.u32(at + 20);
    if (interfaceId >= this.interfaces.length)
      this.bad(offset + 8, `interface ${interfaceId} is not described before this packet`);
    const dataEnd = at + 28 + captured + ((4 - (captured % 4)) % 4);
    if (28 + captured > length - 4 || dataEnd > at + length - 4)
      this.bad(offset + 20, `captured length ${captured} runs past the block (${length - 32} bytes of data room)`);
    this.checkOptions(dataEnd, at + length - 4, offset - at);
    this.packet++;
    this.dataAt = at + 28;
    this.captured = captured;
    this.original = this.u32(at + 24);
    this.interfaceId = interfaceId;
    this.tsHigh = this.u32(at + 12);
    this.tsLow = this.u32(at + 16);
    this.optionsAt = dataEnd;
    this.optionsEnd = at + length - 4;
    return PACKET;
  }

  /** Checks the options in [from, to): each a code, a length and a value padded to 4 bytes, until opt_endofopt. `shift` maps buffer indices to offsets. */
  private checkOptions(from: number, to: number, shift: number): void {
    for (let at = from; at < to; ) {
      if (at + 4 > to) this.bad(at + shift, "truncated option header");
      const code = this.u16(at),
        length = this.u16(at + 2);
      if (code === OPT_END) return;
      if (at + 4 + length > to) this.bad(at + shift + 2, `option ${code} of ${length} bytes runs past its block`);
      at += 4 + length + ((4 - (length % 4)) % 4);
    }
  }

  /** The buffer index of the first option `code`'s value in [from, to), or -1. */
  private option(from: number, to: number, code: number, shift = 0): number {
    this.checkOptions(from, to, shift);
    for (let at = from; at + 4 <= to; ) {
      const c = this.u16(at),
        length = this.u16(at + 2);
      if (c === OPT_END) break;
      if (c === code) return at + 4;
      at += 4 + length + ((4 - (length % 4)) % 4);
    }
    return -1;
  }

  /** The value (after the PEN) of our custom option `code` in the current SHB's or packet's options, as a view into the buffer; or undefined. */
  ourOption(code: number): Uint8Array | undefined {
    const [from, to] =
      this.type === SHB ? [this.at + 24, this.at + this.length - 4] : [this.optionsAt, this.optionsEnd];
    for (let at = from; at + 4 <= to; ) {
      const c = this.u16(at),
        length = this.u16(at + 2);
      if (c === OPT_END) break;
      if (c === code && length >= 4 && this.u32(at + 4) === TRAITS_PEN)
        return this.bytes.subarray(at + 8, at + 4 + length);
      at += 4 + length + ((4 - (length % 4)) % 4);
    }
    return undefined;
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

/**
 * out[at], out[at + 1] = (high * 2^32 + low) * m + add as a u64 (lo, hi), exactly, for u32 high and
 * low, m < 2^31 and add < 2^31. Returns false if it does not fit in 64 bits. (16-bit halves keep
 * every product exact in a double; `& 0xffff` and `>>> 0` take integers modulo 2^16 and 2^32.)
 */
export function mulAdd(high: number, low: number, m: number, add: number, out: Uint32Array, at: number): boolean {
  const a = low >>> 16,
    b = low & 0xffff,
    mh = m >>> 16,
    ml = m & 0xffff;
  const mid = a * ml + b * mh,
    r = (mid & 0xffff) * 65536 + b * ml + add;
  const hi = high * m + a * mh + Math.floor(mid / 65536) + Math.floor(r / TWO32);
  if (hi >= TWO32) return false;
  out[at] = r >>> 0;
  out[at + 1] = hi;
  return true;
}

/** A key as the SHB's names option carries it. */
export interface KeyName {
  name: string;
  key: number;
  size: number;
}

/** The value of our names option: "traits-keys PROFILE NAME=KEY:LEN ..." (UTF-8, after the PEN). */
export function keysText(profile: Profile, keys: readonly KeyName[]): string {
  return `traits-keys ${profile} ${[...keys]
    .sort((x, y) => x.key - y.key)
    .map((k) => `${k.name}=${k.key}:${k.size}`)
    .join(" ")}`.trimEnd();
}

/** Parses our names option's text; undefined if it is not one. */
export function parseKeysText(text: string): { profile: Profile; keys: KeyName[] } | undefined {
  const [tag, profile, ...specs] = text.split(" ");
  if (tag !== "traits-keys" || (profile !== "v1" && profile !== "flags")) return undefined;
  const keys: KeyName[] = [];
  for (const spec of specs) {
    const m = /^([a-z][a-z0-9_.-]{0,62})=(\d+):(\d+)$/.exec(spec);
    if (!m || Number(m[2]) > 63 || !PROFILE_SIZES[toProfile(profile)].includes(Number(m[3]))) return undefined;
    keys.push({ name: m[1]!, key: Number(m[2]), size: Number(m[3]) });
  }
  return { profile, keys };
}

/** Writes a classic pcap (little-endian, µs or ns timestamps); used to make test captures. */
export function writePcap(
  linkType: number,
  packets: Array<{ timestampNs: bigint; data: Uint8Array; originalLength?: number }>,
  { nanoseconds = false } = {},
): Uint8Array {
  const size = 24 + packets.reduce((n, p) => n + 16 + p.data.length, 0),
    out = new Uint8Array(size),
    view = new DataView(out.buffer);
  view.setUint32(0, nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4, true);
  view.setUint16(4, 2, true);
  view.setUint16(6, 4, true);
  view.setUint32(16, 65535, true);
  view.setUint32(20, linkType >>> 0, true);
  let at = 24;
  for (const { timestampNs, data, originalLength } of packets) {
    const seconds = timestampNs / 1_000_000_000n,
      fraction = (timestampNs % 1_000_000_000n) / (nanoseconds ? 1n : 1000n);
    view.setUint32(at, Number(seconds), true);
    view.setUint32(at + 4, Number(fraction), true);
    view.setUint32(at + 8, data.length, true);
    view.setUint32(at + 12, originalLength ?? data.length, true);
    out.set(data, at + 16);
    at += 16 + data.length;
  }
  return out;
}
