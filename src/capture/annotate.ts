/**
 * The annotate pipeline: a capture (pcap or pcapng) in, pcapng out, each packet's Enhanced Packet
 * Block carrying a trait store, streamed in constant memory. One WebAssembly memory holds the input
 * buffer, the output buffer and a PacketPool of 256 frames: records are parsed in place, their
 * first bytes copied into the frames, whole bursts annotated with one batch call, and the blocks
 * assembled in the output buffer, which is written in chunks of 1 MiB. Nothing is allocated per
 * packet (without --comment).
 */
import { TraitsError } from "../core/errors.js";
import type { Profile } from "../core/options.js";
import { PacketPool, type Field } from "../pool/pool.js";
import { HARDWARE_FIRST_APP_KEY, HARDWARE_NAMES, HARDWARE_SIZES, HardwareKey } from "../store/hardware.js";
import type { Burst } from "../pool/burst.js";
import {
  BLOCK, CaptureReader, END, EPB, IDB, IF_FCSLEN, IF_TSRESOL, KEYS_OPTION, MAX_RECORD, OPT_COMMENT, OPT_END, READER_BYTES, SHB, STALL,
  TRAITS_OPTION, TRAITS_PEN, BYTE_ORDER_MAGIC, keysText, mulAdd, type ByteSource, type KeyName,
} from "./capture.js";
import { rxHash } from "./rss.js";
import { commentText, storeRows } from "./rows.js";

/** What annotate writes into every packet's store, besides the hardware keys. */
export interface AnnotateOptions {
  profile: Profile;
  /** Key of packet_id (a u64 sequence number from 0). */
  packetIdKey: number;
  /** Keys set to the same value in every packet: key, length and the value as u32 lo/hi. */
  sets: ReadonlyArray<{ key: number; len: number; lo: number; hi: number }>;
  /** The names embedded in the output's section headers (and used in comments); the hardware keys are added. */
  names: readonly KeyName[];
  /** Also write each packet's traits as an EPB comment (see commentText). */
  comment: boolean;
  /** Stop after this many packets. */
  limit: number;
}

/** Where annotate's output goes: write(bytes, at, length) writes bytes[at, at + length). */
export interface ByteSink {
  write(bytes: Uint8Array, at: number, length: number): void;
}

const BURST = 256, FRAME_SIZE = 2048, HEADROOM = 256, ROOM = FRAME_SIZE - HEADROOM;
/** The output buffer is written once it holds this much; it has room for a maximal record, our options and a chunk. */
const WRITE_CHUNK = 2 ** 20, OUTPUT_BYTES = MAX_RECORD + 65536 + WRITE_CHUNK;
const hardwareKey = (name: (typeof HARDWARE_NAMES)[number]): number => HARDWARE_FIRST_APP_KEY + HARDWARE_NAMES.indexOf(name);
const TRAITS_COMMENT = [..."traits:"].map((c) => c.charCodeAt(0));

/** The hardware keys as names, with their keys in placement "keys" and their sizes in `profile` (flags has no 2-byte size: 4). */
export function hardwareNames(profile: Profile): KeyName[] {
  return HARDWARE_NAMES.map((name, i) => ({ name, key: HARDWARE_FIRST_APP_KEY + i, size: HARDWARE_SIZES[i] === 2 && profile === "flags" ? 4 : HARDWARE_SIZES[i]! }));
}

/**
 * Annotates the capture `source` gives and writes the pcapng to `sink`. Returns the number of packets.
 * Throws EBADMSG (malformed input: the byte offset and packet), EINVAL/ENOSPC (the keys do not fit a
 * packet's store: the packet), and whatever the source or sink throw.
 */
export function annotateCapture(source: ByteSource, sink: ByteSink, options: AnnotateOptions): number {
  return new Annotator(source, sink, options).run();
}

class Annotator {
  private readonly memory: WebAssembly.Memory;
  private readonly pool: PacketPool;
  private readonly burst: Burst;
  private readonly reader: CaptureReader;
  private readonly fields: Field[];
  /** Value slots per frame, and the slots of the RSS hash, its type and the timestamp. */
  private readonly slots: number;
  private readonly hashSlot: number;
  /** Store bytes in use after the burst's set (VLAN frames add theirs). */
  private readonly storeSize: number;
  private readonly names: Map<number, string>;
  private readonly keysValue: Uint8Array;
  private readonly bytes: Uint8Array;
  private readonly words: Int32Array;
  private readonly view: DataView;
  private readonly values: Uint32Array;
  /** The output buffer is bytes[OUT, OUT + OUTPUT_BYTES); `pos` is where the next block goes. */
  private readonly out = READER_BYTES;
  private pos = READER_BYTES;
  /** The burst's packets as read: record, data, lengths, options, output timestamp, VLAN tag. */
  private readonly recordAt = new Int32Array(BURST);
  private readonly dataAt = new Int32Array(BURST);
  private readonly captured = new Int32Array(BURST);
  private readonly original = new Uint32Array(BURST);
  private readonly optionsAt = new Int32Array(BURST);
  private readonly optionsEnd = new Int32Array(BURST);
  private readonly ticks = new Uint32Array(2 * BURST);
  private readonly vlan = new Float64Array(BURST);
  private readonly offset = new Float64Array(BURST);
  /** Byte order of the burst's section. */
  private littleEndian = true;
  private n = 0;
  private packets = 0;
  private readonly encoder = new TextEncoder();

  constructor(source: ByteSource, private readonly sink: ByteSink, private readonly options: AnnotateOptions) {
    const pages = Math.ceil((READER_BYTES + OUTPUT_BYTES) / 65536);
    // The pool allocates after these pages: the first ones are the input and output buffers.
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: 65536 });
    this.pool = new PacketPool({ memory: this.memory, count: BURST, frameSize: FRAME_SIZE, headroom: HEADROOM, profile: options.profile, hardwareKeys: "keys" });
    this.fields = [
      { key: options.packetIdKey, len: 8 },
      ...options.sets.map(({ key, len }) => ({ key, len })),
      { key: hardwareKey("rx_hash"), len: 4 },
      { key: hardwareKey("rss_hash_type"), len: 4 },
      { key: hardwareKey("rx_timestamp"), len: 8 },
    ];
    this.slots = this.fields.length;
    this.hashSlot = 1 + options.sets.length;
    this.storeSize = 16 + this.fields.reduce((n, f) => n + f.len, 0);
    this.burst = this.pool.burst(BURST, { slots: this.slots });
    const all = [...options.names, ...hardwareNames(options.profile)];
    this.names = new Map(all.map((k) => [k.key, k.name]));
    this.keysValue = new TextEncoder().encode(keysText(options.profile, all));
    this.bytes = new Uint8Array(this.memory.buffer);
    this.view = new DataView(this.memory.buffer);
    this.values = this.burst.values();
    this.words = new Int32Array(this.memory.buffer);
    this.reader = new CaptureReader(source, this.bytes, 0);
  }

  run(): number {
    const { reader, options } = this;
    let header = false;
    while (this.packets < options.limit) {
      const kind = reader.next(this.n === 0);
      if (!header && reader.format === "pcap") {
        this.pcapHeader();
        header = true;
      }
      if (kind === END) break;
      if (kind === STALL) this.flushBurst();
      else if (kind === BLOCK) {
        this.flushBurst();
        this.block();
      } else {
        this.stash();
        if (this.n === BURST) this.flushBurst();
      }
    }
    this.flushBurst();
    this.flush();
    return this.packets;
  }

  /** Makes sure `n` bytes fit in the output buffer, writing it out if need be. */
  private room(n: number): void {
    if (this.pos + n > this.out + OUTPUT_BYTES) this.flush();
  }

  private flush(): void {
    if (this.pos > this.out) this.sink.write(this.bytes, this.out, this.pos - this.out);
    this.pos = this.out;
  }

  private u16(at: number, value: number, le: boolean): void {
    this.view.setUint16(at, value, le);
  }

  private u32(at: number, value: number, le: boolean): void {
    this.view.setUint32(at, value, le);
  }

  /** Writes our traits option at `at`: the PEN, then the store at bytes[from, from + length). Returns where it ends. */
  private traitsOption(at: number, le: boolean, from: number, length: number): number {
    this.u16(at, TRAITS_OPTION, le);
    this.u16(at + 2, 4 + length, le);
    this.u32(at + 4, TRAITS_PEN, le);
    this.copy(at + 8, from, length);
    return this.pad(at + 8 + length, length);
  }

  /**
   * Copies n bytes from `from` to `to`: word by word when both are 4-aligned and n is small (then up
   * to 3 bytes more are copied, which the caller pads over or ignores), else with copyWithin.
   */
  private copy(to: number, from: number, n: number): void {
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

  /** Writes our names option at `at`; returns where it ends. */
  private keysOption(at: number, le: boolean): number {
    const length = this.keysValue.length;
    this.u16(at, KEYS_OPTION, le);
    this.u16(at + 2, 4 + length, le);
    this.u32(at + 4, TRAITS_PEN, le);
    this.bytes.set(this.keysValue, at + 8);
    return this.pad(at + 8 + length, length);
  }

  /** A pcap file's header becomes a section (our names in it) and an interface. */
  private pcapHeader(): void {
    const { reader } = this, le = true;
    this.room(256 + this.keysValue.length);
    let start = this.pos, at = start + 8;
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

  /** A pcapng block other than an EPB: the SHB gets our names and an unknown section length; others pass through. */
  private block(): void {
    const { reader, bytes } = this, le = reader.littleEndian;
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
   * (EPB) the traits comment that directly follows our traits option. Returns where they end.
   */
  private copyOptions(at: number, from: number, to: number, le: boolean, ours: number): number {
    const { bytes, view } = this;
    let afterOurs = false;
    for (let o = from; o + 4 <= to; ) {
      const code = view.getUint16(o, le), length = view.getUint16(o + 2, le), size = 4 + length + ((4 - (length % 4)) % 4);
      if (code === OPT_END) break;
      const mine = code === ours && length >= 4 && view.getUint32(o + 4, le) === TRAITS_PEN;
      const ourComment = afterOurs && code === OPT_COMMENT && this.startsWithTraits(o + 4, length);
      if (!mine && !ourComment) {
        bytes.copyWithin(at, o, o + size);
        at += size;
      }
      afterOurs = mine && ours === TRAITS_OPTION;
      o += size;
    }
    return at;
  }

  private startsWithTraits(at: number, length: number): boolean {
    if (length < TRAITS_COMMENT.length) return false;
    for (let i = 0; i < TRAITS_COMMENT.length; i++) if (this.bytes[at + i] !== TRAITS_COMMENT[i]) return false;
    return true;
  }

  /** Takes the current packet into frame n: its first bytes, its value slots, what its output block needs. */
  private stash(): void {
    const { reader, bytes, values, pool, n, slots, options } = this;
    const frame = pool.base + n * FRAME_SIZE + HEADROOM, copied = Math.min(reader.captured, ROOM);
    this.copy(frame, reader.dataAt, copied);
    if (n === 0) this.littleEndian = reader.format === "pcap" || reader.littleEndian;
    this.recordAt[n] = reader.at;
    this.dataAt[n] = reader.dataAt;
    this.captured[n] = reader.captured;
    this.original[n] = reader.original;
    this.optionsAt[n] = reader.optionsAt;
    this.optionsEnd[n] = reader.optionsEnd;
    this.offset[n] = reader.offset;
    const slot = 2 * n * slots, id = this.packets;
    values[slot] = id >>> 0;
    values[slot + 1] = Math.floor(id / 2 ** 32);
    for (let j = 0; j < options.sets.length; j++) {
      values[slot + 2 + 2 * j] = options.sets[j]!.lo;
      values[slot + 3 + 2 * j] = options.sets[j]!.hi;
    }
    const hash = slot + 2 * this.hashSlot;
    this.vlan[n] = rxHash(bytes, frame, copied, reader.interfaces[reader.interfaceId]!.linkType, values, hash, hash + 2);
    reader.timestampNs(values, hash + 4);
    // The EPB's ticks (µs or ns) of a pcap record: u32 seconds times 10^9 at most always fit 64 bits.
    if (reader.format === "pcap") mulAdd(0, reader.tsHigh, reader.nanoseconds ? 1e9 : 1e6, reader.tsLow, this.ticks, 2 * n);
    this.n++;
    this.packets++;
  }

  /** Annotates the frames of the burst (one batch call, and the VLAN tags of the frames that have one) and writes their blocks. */
  private flushBurst(): void {
    const { n, pool, burst } = this;
    if (n === 0) return;
    burst.selectRange(0, n);
    if (pool.batchSetMany(burst, this.fields, undefined, { replace: true }) < n) {
      const status = burst.status(), i = status.findIndex((rc) => rc < 0);
      throw new TraitsError("ENOSPC", `byte offset ${this.offset[i]}: packet ${this.packets - n + i}: its keys do not fit the ${HEADROOM}-byte store of a frame (errno ${status[i]})`);
    }
    for (let i = 0; i < n; i++) {
      const vlan = this.vlan[i]!;
      if (vlan < 0) continue;
      const store = pool.traits(i);
      const rc = store.trySet(HardwareKey.VLAN_TCI, 2, vlan % 65536, 0) || store.trySet(HardwareKey.VLAN_PROTO, 2, Math.floor(vlan / 65536), 0);
      if (rc < 0) throw new TraitsError("ENOSPC", `byte offset ${this.offset[i]}: packet ${this.packets - n + i}: its VLAN tag does not fit its store (errno ${rc})`);
    }
    for (let i = 0; i < n; i++) this.packet(i);
    this.n = 0;
    if (this.pos - this.out >= WRITE_CHUNK) this.flush();
  }

  /** Writes the EPB of frame i: the input's fields, data and options, then our traits option (and comment). */
  private packet(i: number): void {
    const { reader, bytes, pool } = this, le = this.littleEndian, captured = this.captured[i]!;
    const frame = pool.base + i * FRAME_SIZE, size = this.vlan[i]! < 0 ? this.storeSize : pool.traits(i).size;
    const comment = this.options.comment ? this.encoder.encode(commentText(storeRows(pool.traits(i), this.names))) : undefined;
    this.room(32 + captured + 3 + (this.optionsEnd[i]! - this.optionsAt[i]!) + 12 + size + 3 + (comment ? comment.length + 7 : 0) + 8);
    const start = this.pos;
    let at = start + 8;
    if (reader.format === "pcap") {
      this.u32(at, 0, le);
      this.u32(at + 4, this.ticks[2 * i + 1]!, le);
      this.u32(at + 8, this.ticks[2 * i]!, le);
      this.u32(at + 12, captured, le);
      this.u32(at + 16, this.original[i]!, le);
    } else {
      bytes.copyWithin(at, this.recordAt[i]! + 8, this.recordAt[i]! + 28);
    }
    at += 20;
    this.copy(at, this.dataAt[i]!, captured);
    at = this.pad(at + captured, captured);
    at = this.copyOptions(at, this.optionsAt[i]!, this.optionsEnd[i]!, le, TRAITS_OPTION);
    at = this.traitsOption(at, le, frame, size);
    if (comment) {
      this.u16(at, OPT_COMMENT, le);
      this.u16(at + 2, comment.length, le);
      bytes.set(comment, at + 4);
      at = this.pad(at + 4 + comment.length, comment.length);
    }
    this.u32(at, OPT_END, le);
    this.endBlock(start, EPB, at + 4, le);
  }
}
