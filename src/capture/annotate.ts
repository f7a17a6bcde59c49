/**
 * The annotate pipeline: a capture (pcap or pcapng) in, pcapng out, each packet's Enhanced Packet
 * Block carrying a trait store, streamed in constant memory. One WebAssembly memory holds the input
 * buffer, the output buffer and a PacketPool of 256 frames: records are parsed in place, their
 * first bytes copied into the frames, whole bursts annotated with one batch call, and the blocks
 * assembled in the output buffer by a PcapngWriter (writer.ts), written in chunks of 1 MiB. Nothing is allocated per
 * packet (without --comment). On the WebAssembly core, classic little-endian pcap records take a
 * fast path (pcapAnnotate, assembly/pipeline.ts) that does all of this in one loop, record by
 * record straight from the input to the output buffer; the burst path takes what it leaves.
 */
import { TraitsError } from "../core/errors.js";
import { arenaOf } from "../core/memory.js";
import { PROFILE_ID, toProfile, type Profile } from "../core/options.js";
import { KeyRegistry } from "../registry/registry.js";
import { WasmCore } from "../core/wasm.js";
import { PacketPool, type Field } from "../pool/pool.js";
import { HARDWARE_FIRST_APP_KEY, HARDWARE_NAMES, HARDWARE_SIZES, HardwareKey } from "../store/hardware.js";
import type { Burst } from "../pool/burst.js";
import {
  CaptureReader,
  END,
  SPB,
  type AsyncByteSource,
  type ByteSource,
  type KeyName,
  type StopSignal,
} from "./capture.js";
import { BlockWriter, Pipeline, packetBlock, packetTicks, pipelineMemory, type ByteSink } from "./writer.js";
import { TOEPLITZ_TABLE, rxHash } from "./rss.js";
import { CRC_TABLE } from "./epb.js";

/** What annotate writes into every packet's store, besides the hardware keys. */
export interface AnnotateOptions {
  profile: Profile;
  /** Key of packet_id (a u64 sequence number from 0). */
  packetIdKey: number;
  /** Keys set to the same value in every packet: key, length and the value as u32 lo/hi. */
  sets: ReadonlyArray<{ key: number; len: number; lo: number; hi: number }>;
  /** The names embedded in the output's section headers (and used in comments); the hardware keys are added. */
  names: readonly KeyName[];
  /** Also write each packet's traits as our EPB comment (what the Wireshark plugin reads: see StoreShow.comment). */
  comment: boolean;
  /** Stop after this many packets. */
  limit: number;
}

const BURST = 256,
  FRAME_SIZE = 2048,
  HEADROOM = 256,
  ROOM = FRAME_SIZE - HEADROOM;
const hardwareKey = (name: (typeof HARDWARE_NAMES)[number]): number =>
  HARDWARE_FIRST_APP_KEY + HARDWARE_NAMES.indexOf(name);

/** The hardware keys as names, with their keys in placement "keys" and their sizes in `profile` (flags has no 2-byte size: 4). */
export function hardwareNames(profile: Profile): KeyName[] {
  return HARDWARE_NAMES.map((name, i) => ({
    name,
    key: HARDWARE_FIRST_APP_KEY + i,
    size: HARDWARE_SIZES[i] === 2 && profile === "flags" ? 4 : HARDWARE_SIZES[i]!,
  }));
}

/**
 * The registry annotate uses: `registry` (or an empty one of `profile`), with packet_id registered
 * (8 bytes) if it lacks it. Throws EBUSY if a key collides with the hardware keys (59..63).
 */
export function annotateRegistry(registry: KeyRegistry | undefined, profile: Profile): KeyRegistry {
  const r = registry ?? new KeyRegistry({ profile });
  r.register("packet_id", 8);
  const clash = r.entries().find((e) => e.key >= HARDWARE_FIRST_APP_KEY);
  if (clash)
    throw new TraitsError(
      "EBUSY",
      `${clash.name} uses key ${clash.key}, but keys ${HARDWARE_FIRST_APP_KEY}..63 carry the hardware keys in captures`,
    );
  return r;
}

/**
 * A trait set in every packet, `NAME=VALUE` (decimal or 0x-hex) or `NAME` alone for a flag, checked
 * against the registry: its key, its size and the value as u32 lo/hi. `what` names the setting in
 * errors (the CLI's "--set"). Throws ENOENT (not in the registry) or EINVAL (no value, a value for a
 * flag, a value that does not fit the key's size).
 */
export function setting(
  spec: string,
  registry: KeyRegistry,
  what = "--set",
): { key: number; len: number; lo: number; hi: number } {
  const m = /^([^=]+)(?:=(.*))?$/.exec(spec)!;
  const entry = registry.lookup(m[1]!);
  if (!entry) throw new TraitsError("ENOENT", `${what} ${spec}: ${m[1]} is not in the registry`);
  if (entry.size === 0) {
    if (m[2] !== undefined)
      throw new TraitsError(
        "EINVAL",
        `${what} ${spec}: ${entry.name} is a flag; give ${what} ${entry.name} without a value`,
      );
    return { key: entry.key, len: 0, lo: 0, hi: 0 };
  }
  if (m[2] === undefined || !/^(0x[0-9a-f]+|\d+)$/i.test(m[2]))
    throw new TraitsError("EINVAL", `${what} ${spec}: expected NAME=VALUE, the value a decimal or 0x-hex integer`);
  const value = BigInt(m[2]);
  if (value >= 1n << BigInt(8 * entry.size))
    throw new TraitsError(
      "EINVAL",
      `${what} ${spec}: ${value} does not fit ${entry.name}'s ${entry.size} bytes (at most ${(1n << BigInt(8 * entry.size)) - 1n})`,
    );
  return { key: entry.key, len: entry.size, lo: Number(value & 0xffffffffn), hi: Number(value >> 32n) };
}

/** What the annotate streams (and `pcap annotate`) are told: the command's options, as an object. */
export interface AnnotateSettings {
  /** Key names and sizes (`--registry`); packet_id is registered if it lacks it (in a copy: the registry given is not changed). */
  registry?: KeyRegistry;
  /** Traits set to the same value in every packet (`--set NAME=VALUE`), by registry name: an integer, or true for a flag (profile flags). */
  set?: Readonly<Record<string, number | bigint | true>>;
  /** Write our comment, each packet's traits as text (what the Wireshark plugin reads); default true (`--no-comment`: false). */
  comment?: boolean;
  /** The stores' profile: default the registry's, else v1 (`--profile`). */
  profile?: Profile;
  /** Stop after this many packets (`-c`); default all. */
  count?: number;
}

/**
 * AnnotateSettings as the pipeline takes them. Throws EINVAL (a profile other than the registry's, a
 * bad value), ENOENT (a name not in the registry) and EBUSY (a key among the hardware keys).
 */
export function annotateOptions(settings: AnnotateSettings = {}): AnnotateOptions {
  const profile = toProfile(settings.profile ?? settings.registry?.profile);
  if (settings.registry && settings.registry.profile !== profile)
    throw new TraitsError("EINVAL", `the registry is for profile ${settings.registry.profile}, not ${profile}`);
  const registry = annotateRegistry(settings.registry && KeyRegistry.fromJSON(settings.registry.toJSON()), profile);
  const count = settings.count ?? Infinity;
  if (count !== Infinity && !(Number.isSafeInteger(count) && count >= 0))
    throw new TraitsError("EINVAL", `count must be an integer >= 0, not ${count}`);
  return {
    profile,
    packetIdKey: registry.lookup("packet_id")!.key,
    sets: Object.entries(settings.set ?? {}).map(([name, value]) =>
      setting(value === true ? name : `${name}=${value}`, registry, "set"),
    ),
    names: registry.entries(),
    comment: settings.comment ?? true,
    limit: count,
  };
}

/**
 * Annotates the capture `source` gives and writes the pcapng to `sink`, synchronously (bytes in
 * memory, a file read to its end). Returns the number of packets. Throws EBADMSG (malformed input:
 * the byte offset and packet), EINVAL/ENOSPC (the keys do not fit a packet's store: the packet), and
 * whatever the source or sink throw.
 */
export function annotateCapture(source: ByteSource, sink: ByteSink, options: AnnotateOptions): number {
  const annotator = new Annotator(sink, options, source);
  annotator.pipeline.pump();
  return annotator.packets;
}

/**
 * Annotates the capture `input` gives and writes the pcapng to `sink`, a chunk at a time (the event
 * loop turns between chunks). Resolves to the number of packets; rejects as annotateCapture throws,
 * with `signal`'s reason once it aborts, and with what the input rejects with.
 */
export async function annotateInput(
  input: AsyncByteSource,
  sink: ByteSink,
  options: AnnotateOptions,
  signal?: StopSignal,
): Promise<number> {
  const annotator = new Annotator(sink, options);
  await annotator.pipeline.run(input, signal);
  return annotator.packets;
}

/**
 * Annotates a capture pushed in chunks of any size (a stream's): write() each chunk, end() once the
 * input ends; the pcapng goes to `push` in chunks (copies, about 1 MiB each, and whatever is done
 * whenever the input runs dry). Memory stays bounded whatever the input. write() and end() throw as
 * annotateCapture does; end() returns the number of packets. Input after the count is ignored.
 */
export class AnnotateFeed {
  private readonly annotator: Annotator;
  private done = false;

  constructor(options: AnnotateOptions, push: (chunk: Uint8Array) => void) {
    this.annotator = new Annotator({ write: (bytes, at, length) => push(bytes.slice(at, at + length)) }, options);
  }

  /** Takes the next chunk of the capture. */
  write(chunk: Uint8Array): void {
    const { reader, pipeline } = this.annotator;
    for (let used = 0; used < chunk.length && !this.done; ) {
      const n = Math.min(reader.room(), chunk.length - used);
      reader.bytes.set(chunk.subarray(used, used + n), reader.unreadEnd);
      reader.received(n);
      used += n;
      this.done = pipeline.pump() === END;
    }
  }

  /** Ends the input: writes out the rest. Returns the number of packets. Throws EBADMSG for a capture cut short. */
  end(): number {
    if (!this.done) {
      this.annotator.reader.received(0);
      this.done = this.annotator.pipeline.pump() === END;
    }
    return this.annotator.packets;
  }
}

class Annotator {
  private readonly memory: WebAssembly.Memory;
  private readonly pool: PacketPool;
  private readonly burst: Burst;
  /** The reader of the capture (fed, without a source). */
  readonly reader: CaptureReader;
  private readonly fields: Field[];
  /** Value slots per frame, and the slots of the RSS hash, its type and the timestamp. */
  private readonly slots: number;
  private readonly hashSlot: number;
  /** Store bytes in use after the burst's set (VLAN frames add theirs). */
  private readonly storeSize: number;
  private readonly bytes: Uint8Array;
  private readonly values: Uint32Array;
  private readonly writer: BlockWriter;
  /** The block of the packet being written. */
  private readonly block = packetBlock();
  /** The burst's packets as read: record, data, lengths, options, drop count, output timestamp, VLAN tag (-1: none), no capture time (an SPB's). */
  private readonly interfaceId = new Uint32Array(BURST);
  private readonly dataAt = new Int32Array(BURST);
  private readonly captured = new Int32Array(BURST);
  private readonly original = new Uint32Array(BURST);
  private readonly optionsAt = new Int32Array(BURST);
  private readonly optionsEnd = new Int32Array(BURST);
  private readonly dropCount = new Int32Array(BURST);
  private readonly ticks = new Uint32Array(2 * BURST);
  private readonly vlan = new Float64Array(BURST);
  private readonly untimed = new Uint8Array(BURST);
  private readonly offset = new Float64Array(BURST);
  /** Byte order of the burst's section. */
  private littleEndian = true;
  private n = 0;
  /** Packets taken so far. */
  packets = 0;
  /** The pipeline over the capture (read from `source`, or fed). */
  readonly pipeline: Pipeline;
  /** The fast path, where it applies: the core, its field list, the Toeplitz table, the comment plan (0: none) and 3 result words in the memory. */
  private readonly fast:
    | {
        core: WasmCore;
        fields: { keys: Uint8Array; lens: Uint8Array; m: number; values: Uint32Array };
        table: number;
        comment: number;
        result: number;
      }
    | undefined;

  constructor(
    sink: ByteSink,
    private readonly options: AnnotateOptions,
    source?: ByteSource,
  ) {
    // The pool allocates after the input and output buffers.
    this.memory = pipelineMemory();
    this.pool = new PacketPool({
      memory: this.memory,
      count: BURST,
      frameSize: FRAME_SIZE,
      headroom: HEADROOM,
      profile: options.profile,
      hardwareKeys: "keys",
    });
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
    this.fast = this.fastPath(all);
    this.bytes = new Uint8Array(this.memory.buffer);
    this.writer = new BlockWriter(sink, this.bytes, options.profile, all);
    this.block.comment = options.comment;
    this.values = this.burst.values();
    this.reader = new CaptureReader(source, this.bytes, 0);
    this.pipeline = new Pipeline(this.reader, this.writer, {
      pending: () => this.n,
      full: () => this.n === BURST,
      done: () => this.packets >= options.limit,
      stash: () => this.stash(),
      flushBurst: () => this.flushBurst(),
      drain: () => this.drain(),
    });
  }

  /**
   * The fast path's state (allocated here, before any view of the memory is taken), or undefined
   * where the burst path must do everything: the JS core, keys that repeat or do not fit, a --set of
   * a trait that a standard option repeats besides packet_id and rx_hash (rx_queue, xdp_verdict).
   */
  private fastPath(names: readonly KeyName[]): Annotator["fast"] {
    const { pool, fields, options } = this;
    if (!(pool.core instanceof WasmCore)) return undefined;
    if (new Set(fields.map((f) => f.key)).size < fields.length || this.storeSize > HEADROOM) return undefined;
    const named = new Map(names.map((k) => [k.key, k.name]));
    if (options.sets.some(({ key }) => named.get(key) === "rx_queue" || named.get(key) === "xdp_verdict"))
      return undefined;
    const plan = options.comment ? commentPlan(fields, named) : undefined,
      arena = arenaOf(this.memory),
      table = arena.alloc(TOEPLITZ_TABLE.byteLength + 12, 8),
      comment = plan ? arena.alloc(plan.byteLength, 8) : 0,
      values = new Uint32Array(2 * fields.length);
    new Uint32Array(this.memory.buffer).set(TOEPLITZ_TABLE, table >>> 2);
    if (plan) {
      const words = new Uint32Array(plan.buffer, 0, 6 + 4 * fields.length);
      // The plan's addresses are relative to its start: make them absolute.
      for (const w of [1, 2, 4]) words[w]! += comment;
      for (let i = 0; i < words[0]!; i++) words[6 + 4 * i + 2]! += comment;
      new Uint8Array(this.memory.buffer).set(plan, comment);
    }
    options.sets.forEach(({ lo, hi }, j) => values.set([lo, hi], 2 + 2 * j));
    return {
      core: pool.core,
      fields: {
        keys: Uint8Array.from(fields, (f) => Number(f.key)),
        lens: Uint8Array.from(fields, (f) => f.len),
        m: fields.length,
        values,
      },
      table,
      comment,
      result: table + TOEPLITZ_TABLE.byteLength,
    };
  }

  /**
   * Runs the fast path over the records of a little-endian pcap in the buffer, writing out each chunk
   * it fills, until it stops at a record it leaves to the burst path, one not all in the buffer yet
   * (the pipeline reads more), the end, or the count.
   */
  private drain(): void {
    const { fast, reader, writer, options } = this;
    if (!fast || !reader.littleEndian) return;
    const { values } = fast.fields,
      result = fast.result >>> 2,
      words = new Uint32Array(this.memory.buffer),
      iface = reader.interfaces[0]!;
    for (;;) {
      values[0] = this.packets >>> 0;
      values[1] = Math.floor(this.packets / 2 ** 32);
      const count = fast.core.pcapAnnotate(
        reader.unreadAt,
        reader.unreadEnd,
        writer.at,
        writer.chunkEnd,
        Math.min(options.limit - this.packets, 2 ** 31 - 1),
        iface.linkType,
        reader.nanoseconds,
        PROFILE_ID[options.profile],
        fast.fields,
        this.storeSize,
        fast.table,
        fast.comment,
        fast.result,
      );
      reader.consumed(words[result]!, count);
      writer.wrote(words[result + 1]!);
      this.packets += count;
      if (writer.at < writer.chunkEnd) return;
      writer.flush();
    }
  }

  /** Takes the current packet into frame n: its first bytes, its value slots, what its output block needs. */
  private stash(): void {
    const { reader, bytes, values, pool, n, slots, options } = this;
    const frame = pool.base + n * FRAME_SIZE + HEADROOM,
      copied = Math.min(reader.captured, ROOM);
    this.writer.copy(frame, reader.dataAt, copied);
    if (n === 0) this.littleEndian = reader.format === "pcap" || reader.littleEndian;
    this.interfaceId[n] = reader.interfaceId;
    this.dataAt[n] = reader.dataAt;
    this.captured[n] = reader.captured;
    this.original[n] = reader.original;
    this.optionsAt[n] = reader.optionsAt;
    this.optionsEnd[n] = reader.optionsEnd;
    this.dropCount[n] = reader.dropCount;
    this.offset[n] = reader.offset;
    const slot = 2 * n * slots,
      id = this.packets;
    values[slot] = id >>> 0;
    values[slot + 1] = Math.floor(id / 2 ** 32);
    for (let j = 0; j < options.sets.length; j++) {
      values[slot + 2 + 2 * j] = options.sets[j]!.lo;
      values[slot + 3 + 2 * j] = options.sets[j]!.hi;
    }
    const hash = slot + 2 * this.hashSlot;
    this.vlan[n] = rxHash(
      bytes,
      frame,
      copied,
      reader.interfaces[reader.interfaceId]!.linkType,
      values,
      hash,
      hash + 2,
    );
    // A simple packet block has no capture time: its store gets none (the slot is deleted after the burst's set).
    this.untimed[n] = reader.type === SPB ? 1 : 0;
    if (this.untimed[n]) values[hash + 4] = values[hash + 5] = 0;
    else reader.timestampNs(values, hash + 4);
    packetTicks(reader, this.ticks, 2 * n);
    this.n++;
    this.packets++;
  }

  /** Annotates the frames of the burst (one batch call, and the VLAN tags of the frames that have one) and writes their blocks. */
  private flushBurst(): void {
    const { n, pool, burst } = this;
    if (n === 0) return;
    burst.selectRange(0, n);
    if (pool.batchSetMany(burst, this.fields, { replace: true }) < n) {
      const status = burst.status(),
        i = status.findIndex((rc) => rc < 0);
      throw new TraitsError(
        "ENOSPC",
        `byte offset ${this.offset[i]}: packet ${this.packets - n + i}: its keys do not fit the ${HEADROOM}-byte store of a frame (errno ${status[i]})`,
      );
    }
    for (let i = 0; i < n; i++) {
      if (this.untimed[i]) pool.traits(i).delete(HardwareKey.RX_TIMESTAMP);
      const vlan = this.vlan[i]!;
      if (vlan < 0) continue;
      const store = pool.traits(i);
      const rc =
        store.trySet(HardwareKey.VLAN_TCI, vlan % 65536, 0, 2) ||
        store.trySet(HardwareKey.VLAN_PROTO, Math.floor(vlan / 65536), 0, 2);
      if (rc < 0)
        throw new TraitsError(
          "ENOSPC",
          `byte offset ${this.offset[i]}: packet ${this.packets - n + i}: its VLAN tag does not fit its store (errno ${rc})`,
        );
    }
    for (let i = 0; i < n; i++) this.packet(i);
    this.n = 0;
    this.writer.flushChunk();
  }

  /** Writes the EPB of frame i: the input's fields, data and options, then our traits option, the standard options and our comment. */
  private packet(i: number): void {
    const { pool, block } = this;
    block.littleEndian = this.littleEndian;
    block.interfaceId = this.interfaceId[i]!;
    block.tsHigh = this.ticks[2 * i + 1]!;
    block.tsLow = this.ticks[2 * i]!;
    block.original = this.original[i]!;
    block.dataAt = this.dataAt[i]!;
    block.captured = this.captured[i]!;
    block.optionsAt = this.optionsAt[i]!;
    block.optionsEnd = this.optionsEnd[i]!;
    block.dropCount = this.dropCount[i]!;
    block.storeAt = pool.base + i * FRAME_SIZE;
    block.storeSize = this.vlan[i]! < 0 && !this.untimed[i] ? this.storeSize : pool.traits(i).size;
    this.writer.packet(block);
  }
}

/**
 * The comment plan of the fast path (assembly/comment.ts) for stores of exactly `fields`, as bytes
 * whose addresses are relative to their start: the entries in key order, then the CRC-32 tables, the
 * digit pairs, scratch, and the texts (and 8 bytes, which its copies read past the last).
 */
function commentPlan(fields: readonly Field[], names: ReadonlyMap<number, string>): Uint8Array {
  const order = fields.map((f, slot) => ({ key: Number(f.key), len: f.len, slot })).sort((a, b) => a.key - b.key);
  const texts = [
    "traits:",
    " crc32:",
    ...order.map(({ key, len }) => ` ${names.get(key) ?? key}${len === 0 ? "" : len === 8 ? "=" : "=0x"}`),
  ].map((t) => Uint8Array.from(t, (c) => c.charCodeAt(0)));
  const head = 24 + 16 * order.length,
    table = head,
    textAt = table + 4096 + 200 + 32,
    bytes = new Uint8Array(textAt + texts.reduce((n, t) => n + t.length, 0) + 8),
    words = new Uint32Array(bytes.buffer, 0, head >> 2),
    tables = new Int32Array(bytes.buffer, table, 1024);
  words[0] = order.length;
  words[1] = table;
  // Slicing by 4: table k gives a byte's share k bytes further on.
  tables.set(CRC_TABLE);
  for (let i = 256; i < 1024; i++) tables[i] = (tables[i - 256]! >>> 8) ^ CRC_TABLE[tables[i - 256]! & 0xff]!;
  for (let i = 0; i < 100; i++) bytes.set([48 + Math.floor(i / 10), 48 + (i % 10)], table + 4096 + 2 * i);
  let at = textAt;
  const text = (t: Uint8Array): [number, number] => {
    bytes.set(t, at);
    at += t.length;
    return [at - t.length, t.length];
  };
  [words[2], words[3]] = text(texts[0]!);
  [words[4], words[5]] = text(texts[1]!);
  order.forEach(({ len, slot }, i) => {
    words[6 + 4 * i] = slot;
    words[6 + 4 * i + 1] = len === 0 ? 0 : len === 8 ? 2 : 1;
    [words[6 + 4 * i + 2], words[6 + 4 * i + 3]] = text(texts[2 + i]!);
  });
  return bytes;
}
