/**
 * The packet table of an export: its columns (the packet's own fields, the flow the RSS hash read,
 * one column per trait by name) and the batch of rows being filled. The trait columns are known from
 * the names given (a registry, a capture's names option) and, until the first batch is sent, from
 * the keys the packets carry; from then on the schema is fixed, and a trait with no column is an
 * error that says how to name it.
 */
import { TraitsError } from "../core/errors.js";
import { HARDWARE_FIRST_APP_KEY, HARDWARE_NAMES } from "../store/hardware.js";
import type { KeyName } from "../capture/capture.js";
import { flowOf } from "../capture/rss.js";
import { MAX_ADDRESS_TEXT, writeIpv4, writeIpv6 } from "./address.js";
import { type Batch, type Column, ColumnBuffer, type ColumnType, SLOTS } from "./columns.js";

/** The columns every export has, in order; trait columns follow. */
export const PACKET_COLUMNS: readonly Column[] = [
  { name: "packet", type: "u64", required: true },
  { name: "capture_time", type: "timestamp" },
  { name: "interface", type: "u32", required: true },
  { name: "queue", type: "u32" },
  { name: "captured_length", type: "u32", required: true },
  { name: "original_length", type: "u32", required: true },
  { name: "xdp_verdict", type: "u32" },
  { name: "src_addr", type: "text" },
  { name: "dst_addr", type: "text" },
  { name: "ip_proto", type: "u8" },
  { name: "src_port", type: "u16" },
  { name: "dst_port", type: "u16" },
];

/** The index of each packet column. */
const PACKET = 0,
  TIME = 1,
  INTERFACE = 2,
  QUEUE = 3,
  CAPTURED = 4,
  ORIGINAL = 5,
  VERDICT = 6,
  SRC = 7,
  DST = 8,
  PROTO = 9,
  SPORT = 10,
  DPORT = 11;
/** The trait whose values go to the xdp_verdict column (xdp run's name for the verdict's key). */
const VERDICT_TRAIT = "xdp_verdict";
const VLAN_PROTO_KEY = HARDWARE_FIRST_APP_KEY + HARDWARE_NAMES.indexOf("vlan_proto");
const TYPE_OF_SIZE: Record<number, ColumnType> = { 0: "bool", 2: "u16", 4: "u32", 8: "u64" };

/**
 * A packet's decoded trait store, as TraitStore.tryDecode writes it: `count` entries; `layout` is the
 * same number only while `count`, `keys` and `lens` are the same (a new number each time they may
 * differ).
 */
export interface DecodedTraits {
  count: number;
  layout: number;
  keys: Uint8Array;
  lens: Uint8Array;
  values: Uint32Array;
}

/** The fields of a packet besides its bytes and traits; -1 for a queue or verdict not known. */
export interface PacketFields {
  interfaceId: number;
  queue: number;
  verdict: number;
  captured: number;
  original: number;
  linkType: number;
}

/** The column name of a trait: its own, or trait_NAME where it would take a packet column's name. */
function traitColumnName(name: string): string {
  return name !== VERDICT_TRAIT && PACKET_COLUMNS.some((c) => c.name === name) ? `trait_${name}` : name;
}

/** The rows of an export: fill a batch with add...(), take() it when full or at the end. */
export class PacketTable {
  readonly buffers: ColumnBuffer[] = PACKET_COLUMNS.map((c) => new ColumnBuffer(c, !c.required));
  /** Rows in the current batch, and in all batches taken before. */
  rows = 0;
  private before = 0;
  /** Set once the first batch is taken: no column may be added then. */
  private fixed = false;
  /** The current naming: each key's name (undefined: unnamed), its declared size, and its column (-1: none yet). */
  private names: Array<string | undefined> = new Array(64);
  private sizes = new Int8Array(64);
  private columnOf = new Int16Array(64).fill(-1);
  /** The packet's flow (flowOf). */
  private readonly flow = new Int32Array(4);
  /** The slot of the batch being filled. */
  private slot = 0;
  /** The column of each entry of the packet being added. */
  private readonly entryColumn = new Int16Array(64);
  /** The flag columns. */
  private readonly flags: ColumnBuffer[] = [];
  /** The traits layout (DecodedTraits.layout) that entryColumn holds the columns of (-1: none). */
  private resolvedLayout = -1;

  /** The columns, packet columns first. */
  get columns(): Column[] {
    return this.buffers.map((b) => b.column);
  }

  /**
   * Names the keys of the stores that follow (a section's names option, a registry), and gives every
   * named key a column if it has none. Keys 59..63 without a name take the hardware keys' names. Throws
   * EINVAL if a name is used with another size than its column's.
   */
  useNames(keys: readonly KeyName[]): void {
    this.names = new Array(64);
    this.resolvedLayout = -1;
    this.sizes.fill(-1);
    this.columnOf.fill(-1);
    HARDWARE_NAMES.forEach((name, i) => {
      this.names[HARDWARE_FIRST_APP_KEY + i] = name;
      this.sizes[HARDWARE_FIRST_APP_KEY + i] = -1;
    });
    for (const { key, name, size } of keys) {
      this.names[key] = name;
      this.sizes[key] = size;
      const column = this.traitColumn(key, size);
      if (column >= 0) this.columnOf[key] = column;
    }
  }

  /** The column of key `key` holding `size` bytes: found by name, made if the schema is open, else -1. Throws EINVAL for a size mismatch. */
  private traitColumn(key: number, size: number): number {
    const name = traitColumnName(this.names[key] ?? `key_${key}`),
      type = TYPE_OF_SIZE[size]!;
    let index = this.buffers.findIndex((b) => b.column.name === name);
    if (index < 0) {
      if (this.fixed) return -1;
      index = this.buffers.push(new ColumnBuffer({ name, type }, true)) - 1;
      if (type === "bool") this.flags.push(this.buffers[index]!);
    }
    const have = this.buffers[index]!.column.type;
    if (have !== type)
      throw new TraitsError(
        "EINVAL",
        `key ${key} (${name}) holds ${size === 0 ? "a flag" : `${size} bytes`}, but the column ${name} is ${have}`,
      );
    return index;
  }

  /**
   * Adds a row: the packet at bytes[at, at + fields.captured), captured at time (hi * 2^32 + lo) ns
   * (hi -1: not known, a null capture_time), with its decoded traits (or none). Returns the row's index in the batch. Throws EINVAL (naming the
   * key) for a trait that has no column once the schema is fixed, or whose size is not its column's.
   */
  add(
    bytes: Uint8Array,
    at: number,
    fields: PacketFields,
    timeLo: number,
    timeHi: number,
    traits?: DecodedTraits,
  ): number {
    if (traits && traits.layout !== this.resolvedLayout) {
      this.resolveTraits(traits);
      this.resolvedLayout = traits.layout;
    }
    const row = this.rows,
      b = this.buffers,
      index = this.before + row;
    b[PACKET]!.set64(row, index >>> 0, Math.floor(index / 2 ** 32));
    if (timeHi >= 0) b[TIME]!.set64(row, timeLo, timeHi);
    b[INTERFACE]!.setU32(row, fields.interfaceId);
    if (fields.queue >= 0) b[QUEUE]!.setU32(row, fields.queue);
    b[CAPTURED]!.setU32(row, fields.captured);
    b[ORIGINAL]!.setU32(row, fields.original);
    this.addFlow(row, bytes, at, fields.captured, fields.linkType);
    if (traits) this.addTraits(row, traits);
    if (fields.verdict >= 0) b[VERDICT]!.setU32(row, fields.verdict);
    this.rows++;
    return row;
  }

  /** The flow the RSS hash reads: addresses, protocol and (where hashed) ports. */
  private addFlow(row: number, bytes: Uint8Array, at: number, length: number, linkType: number): void {
    const { flow, buffers: b } = this;
    flowOf(bytes, at, length, linkType, flow);
    const version = flow[0]!;
    if (version === 0) return;
    for (let i = 0; i < 2; i++) {
      const column = b[i === 0 ? SRC : DST]!,
        to = column.text(row, MAX_ADDRESS_TEXT);
      column.endText(
        row,
        version === 4
          ? writeIpv4(bytes, flow[1]! + 4 * i, column.view, to)
          : writeIpv6(bytes, flow[1]! + 16 * i, column.view, to),
      );
    }
    b[PROTO]!.setU8(row, flow[2]!);
    const ports = flow[3]!;
    if (ports < 0) return;
    b[SPORT]!.setU16(row, (bytes[ports]! << 8) | bytes[ports + 1]!);
    b[DPORT]!.setU16(row, (bytes[ports + 2]! << 8) | bytes[ports + 3]!);
  }

  /** Finds (or makes) the column of every entry of `traits` into `entryColumn`, before the row is written: a row is added whole or not at all. */
  private resolveTraits({ count, keys, lens }: DecodedTraits): void {
    for (let i = 0; i < count; i++) {
      const key = keys[i]!,
        length = lens[i]!;
      let column = this.columnOf[key]!;
      if (column < 0 || (this.sizes[key] !== length && this.sizes[key] !== -1)) {
        column = this.traitColumn(key, length);
        if (column < 0) {
          const name = this.names[key];
          throw new TraitsError(
            "EINVAL",
            `key ${key}${name ? ` (${name})` : ""} has no column: the columns were fixed by the names known and the traits of the first ${this.before} packets; name it with --registry (or in the capture's names option)`,
          );
        }
        this.columnOf[key] = column;
        this.sizes[key] = length;
      }
      this.entryColumn[i] = column;
    }
  }

  private addTraits(row: number, { count, keys, lens, values }: DecodedTraits): void {
    for (let i = 0; i < count; i++) {
      const key = keys[i]!,
        length = lens[i]!,
        buffer = this.buffers[this.entryColumn[i]!]!,
        lo = values[2 * i]!;
      if (length === 0) buffer.setFlag(row, true);
      else if (length === 8) buffer.set64(row, lo, values[2 * i + 1]!);
      else {
        // vlan_proto is kept in network byte order, in its first two bytes.
        const value =
          key === VLAN_PROTO_KEY && this.names[key] === "vlan_proto" ? ((lo & 0xff) << 8) | ((lo >>> 8) & 0xff) : lo;
        if (length === 2) buffer.setU16(row, value);
        else buffer.setU32(row, value);
      }
    }
    // A flag column of a packet with traits is false, not null, where the flag is not set.
    for (const buffer of this.flags) buffer.present(row);
  }

  /** The rows filled as a Batch, and the next batch begun in the next slot (whose last batch the encoder must be done with); fixes the schema. */
  take(): Batch {
    const rows = this.rows,
      columns = this.buffers.map((buffer) => buffer.take(rows));
    this.fixed = true;
    this.slot = (this.slot + 1) % SLOTS;
    for (const buffer of this.buffers) buffer.reset(this.slot);
    this.before += rows;
    this.rows = 0;
    return { rows, columns };
  }
}
