// TEMPORARY: the whole-file pcap/pcapng reader and writer that xdp run used before src/capture streamed; to be replaced by the streaming reader.
/**
 * Captures: reading classic pcap and pcapng (either byte order) and writing pcapng whose Enhanced
 * Packet Blocks carry each packet's trait store in a custom option, and the RSS hash a NIC would
 * compute. Every read is bounds-checked: malformed input is an EBADMSG naming its byte offset.
 */
import { TraitsError } from "../core/errors.js";

/** Custom binary option code (copyable) of the option carrying a trait store. */
export const TRAITS_OPTION = 2989;
/** The Private Enterprise Number our option is filed under: IANA's PEN for documentation (no PEN is assigned to this project). */
export const TRAITS_PEN = 32473;
const OPT_COMMENT = 1, OPT_END = 0, IF_TSRESOL = 9, IF_TSOFFSET = 14;
const SHB = 0x0a0d0d0a, IDB = 1, EPB = 6, BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** A packet read from a capture. */
export interface CapturedPacket {
  /** Index of the EPB's block in `blocks` (pcapng), or -1 (classic pcap). */
  block: number;
  interfaceId: number;
  linkType: number;
  /** Capture time in nanoseconds since the epoch. */
  timestampNs: bigint;
  data: Uint8Array;
  originalLength: number;
  /** The EPB's options other than ours (pcapng), to pass through. */
  options: Option[];
}

/** A pcapng option as read: its code and raw value. */
export interface Option {
  code: number;
  value: Uint8Array;
}

/** A block to write back unchanged (pcapng), in its section's byte order. */
export interface RawBlock {
  type: number;
  bytes: Uint8Array;
  littleEndian: boolean;
}

/** A whole capture as read. */
export interface Capture {
  format: "pcap" | "pcapng";
  /** pcapng: every block in order (EPBs included, replaced on write); pcap: empty. */
  blocks: RawBlock[];
  packets: CapturedPacket[];
  /** pcap: link type, snap length and whether timestamps are in ns. */
  pcap?: { linkType: number; snapLength: number; nanoseconds: boolean };
}

function bad(offset: number, message: string): never {
  throw new TraitsError("EBADMSG", `byte offset ${offset}: ${message}`);
}

/** Reads a classic pcap or a pcapng capture. Throws EBADMSG with the byte offset of what is malformed or truncated. */
export function readCapture(bytes: Uint8Array): Capture {
  if (bytes.length < 4) bad(0, `${bytes.length} bytes is too short for a capture`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  if (magic === SHB) return readPcapng(bytes, view);
  if ([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1].includes(magic)) return readPcap(bytes, view);
  return bad(0, `not a pcap or pcapng capture (magic 0x${magic.toString(16).padStart(8, "0")})`);
}

function readPcap(bytes: Uint8Array, view: DataView): Capture {
  if (bytes.length < 24) bad(0, "truncated pcap file header (24 bytes)");
  const raw = view.getUint32(0, false), le = raw === 0xd4c3b2a1 || raw === 0x4d3cb2a1, nanoseconds = raw === 0xa1b23c4d || raw === 0x4d3cb2a1;
  const snapLength = view.getUint32(16, le), linkType = view.getUint32(20, le) & 0x0fffffff;
  const packets: CapturedPacket[] = [];
  for (let at = 24; at < bytes.length; ) {
    if (at + 16 > bytes.length) bad(at, "truncated pcap record header (16 bytes)");
    const seconds = view.getUint32(at, le), fraction = view.getUint32(at + 4, le), captured = view.getUint32(at + 8, le), original = view.getUint32(at + 12, le);
    if (fraction >= (nanoseconds ? 1e9 : 1e6)) bad(at + 4, `sub-second timestamp ${fraction} is out of range`);
    if (at + 16 + captured > bytes.length) bad(at + 8, `captured length ${captured} runs past the end of the file (${bytes.length - at - 16} bytes left)`);
    const timestampNs = BigInt(seconds) * 1_000_000_000n + BigInt(fraction) * (nanoseconds ? 1n : 1000n);
    packets.push({ block: -1, interfaceId: 0, linkType, timestampNs, data: bytes.subarray(at + 16, at + 16 + captured), originalLength: original, options: [] });
    at += 16 + captured;
  }
  return { format: "pcap", blocks: [], packets, pcap: { linkType, snapLength, nanoseconds } };
}

interface Interface {
  linkType: number;
  /** Ticks per second of timestamps, and the offset in seconds added to them. */
  ticks: bigint;
  offset: bigint;
}

function readPcapng(bytes: Uint8Array, view: DataView): Capture {
  const blocks: RawBlock[] = [], packets: CapturedPacket[] = [];
  let le = true, interfaces: Interface[] = [];
  for (let at = 0; at < bytes.length; ) {
    if (at + 12 > bytes.length) bad(at, "truncated block header");
    const type = view.getUint32(at, le);
    if (type === SHB) {
      if (at + 16 > bytes.length) bad(at, "truncated section header block");
      const order = view.getUint32(at + 8, true);
      if (order === BYTE_ORDER_MAGIC) le = true;
      else if (order === 0x4d3c2b1a) le = false;
      else bad(at + 8, `bad byte-order magic 0x${order.toString(16)}`);
      interfaces = [];
    }
    const length = view.getUint32(at + 4, le);
    if (length < 12 || length % 4 !== 0) bad(at + 4, `block length ${length} is not a multiple of 4 of at least 12`);
    if (at + length > bytes.length) bad(at + 4, `block of ${length} bytes runs past the end of the file (${bytes.length - at} bytes left)`);
    if (view.getUint32(at + length - 4, le) !== length) bad(at + length - 4, `trailing block length ${view.getUint32(at + length - 4, le)} does not match ${length}`);
    const block = bytes.subarray(at, at + length);
    if (type === IDB) {
      if (length < 20) bad(at, "interface description block shorter than 20 bytes");
      const options = readOptions(block, 16, length - 4, le, at);
      const resolution = options.find((o) => o.code === IF_TSRESOL)?.value[0] ?? 6;
      const offset = options.find((o) => o.code === IF_TSOFFSET);
      interfaces.push({
        linkType: view.getUint16(at + 8, le),
        ticks: resolution & 0x80 ? 1n << BigInt(resolution & 0x7f) : 10n ** BigInt(resolution),
        offset: offset && offset.value.length === 8 ? new DataView(offset.value.buffer, offset.value.byteOffset, 8).getBigInt64(0, le) : 0n,
      });
    } else if (type === EPB) {
      if (length < 32) bad(at, "enhanced packet block shorter than 32 bytes");
      const interfaceId = view.getUint32(at + 8, le), captured = view.getUint32(at + 20, le), original = view.getUint32(at + 24, le);
      const iface = interfaces[interfaceId] ?? bad(at + 8, `interface ${interfaceId} is not described before this packet`);
      const dataEnd = 28 + captured + ((4 - (captured % 4)) % 4);
      if (dataEnd > length - 4) bad(at + 20, `captured length ${captured} runs past the block (${length - 32} bytes of data room)`);
      const ticks = (BigInt(view.getUint32(at + 12, le)) << 32n) | BigInt(view.getUint32(at + 16, le));
      const timestampNs = (ticks * 1_000_000_000n) / iface.ticks + iface.offset * 1_000_000_000n;
      const options = readOptions(block, dataEnd, length - 4, le, at).filter((o) => !isOurs(o, le));
      packets.push({ block: blocks.length, interfaceId, linkType: iface.linkType, timestampNs, data: block.subarray(28, 28 + captured), originalLength: original, options });
    }
    blocks.push({ type, bytes: block, littleEndian: le });
    at += length;
  }
  return { format: "pcapng", blocks, packets };
}

/** Reads the options in block[from, to): each a code, a length and a value padded to 4 bytes, until opt_endofopt. */
function readOptions(block: Uint8Array, from: number, to: number, le: boolean, base: number): Option[] {
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength), options: Option[] = [];
  for (let at = from; at < to; ) {
    if (at + 4 > to) bad(base + at, "truncated option header");
    const code = view.getUint16(at, le), length = view.getUint16(at + 2, le);
    if (code === OPT_END) break;
    if (at + 4 + length > to) bad(base + at + 2, `option ${code} of ${length} bytes runs past its block`);
    options.push({ code, value: block.subarray(at + 4, at + 4 + length) });
    at += 4 + length + ((4 - (length % 4)) % 4);
  }
  return options;
}

/** True for an option this tool writes: our custom option, or a comment starting "traits:". */
function isOurs(option: Option, le: boolean): boolean {
  if (option.code === TRAITS_OPTION && option.value.length >= 4) return new DataView(option.value.buffer, option.value.byteOffset, 4).getUint32(0, le) === TRAITS_PEN;
  return option.code === OPT_COMMENT && new TextDecoder().decode(option.value).startsWith("traits:");
}

/** The trait store bytes a packet carries in our custom option, or undefined. */
export function traitsOption(packet: CapturedPacket, capture: Capture): Uint8Array | undefined {
  if (packet.block < 0) return undefined;
  const { bytes, littleEndian } = capture.blocks[packet.block]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), captured = view.getUint32(20, littleEndian);
  const options = readOptions(bytes, 28 + captured + ((4 - (captured % 4)) % 4), bytes.length - 4, littleEndian, 0);
  const ours = options.find((o) => o.code === TRAITS_OPTION && o.value.length >= 4 && new DataView(o.value.buffer, o.value.byteOffset, 4).getUint32(0, littleEndian) === TRAITS_PEN);
  return ours?.value.subarray(4);
}

/** Writes a pcapng: the capture's blocks (pcapng input) or a new section and interface (pcap input), each packet's EPB with `extra` options appended. */
export function writePcapng(capture: Capture, extra: (packet: CapturedPacket, index: number) => Option[]): Uint8Array {
  const parts: Uint8Array[] = [];
  if (capture.format === "pcap") {
    const { linkType, snapLength, nanoseconds } = capture.pcap!;
    parts.push(block(SHB, true, concat([u32(BYTE_ORDER_MAGIC, true), u16(1, true), u16(0, true), i64(-1n, true)]), []));
    parts.push(block(IDB, true, concat([u16(linkType, true), u16(0, true), u32(snapLength, true)]), nanoseconds ? [{ code: IF_TSRESOL, value: new Uint8Array([9]) }] : []));
    capture.packets.forEach((packet, i) => parts.push(enhanced(packet, true, nanoseconds ? packet.timestampNs : packet.timestampNs / 1000n, extra(packet, i))));
  } else {
    const byBlock = new Map(capture.packets.map((packet, i) => [packet.block, i]));
    capture.blocks.forEach((raw, b) => {
      const i = byBlock.get(b);
      if (i === undefined) return parts.push(raw.bytes);
      const packet = capture.packets[i]!, view = new DataView(raw.bytes.buffer, raw.bytes.byteOffset, raw.bytes.byteLength);
      const ticks = (BigInt(view.getUint32(12, raw.littleEndian)) << 32n) | BigInt(view.getUint32(16, raw.littleEndian));
      return parts.push(enhanced(packet, raw.littleEndian, ticks, extra(packet, i)));
    });
  }
  return concat(parts);
}

/** An EPB of a packet, with its own options and then `extra`. */
function enhanced(packet: CapturedPacket, le: boolean, ticks: bigint, extra: Option[]): Uint8Array {
  const head = concat([u32(packet.interfaceId, le), u32(Number(ticks >> 32n), le), u32(Number(ticks & 0xffffffffn), le), u32(packet.data.length, le), u32(packet.originalLength, le), pad(packet.data)]);
  return block(EPB, le, head, [...packet.options, ...extra]);
}

/** Our custom option carrying `store` (the bytes in use of a trait store). */
export function traitsOptionFor(store: Uint8Array, le = true): Option {
  return { code: TRAITS_OPTION, value: concat([u32(TRAITS_PEN, le), store]) };
}

/** A comment option. */
export function commentOption(text: string): Option {
  return { code: OPT_COMMENT, value: new TextEncoder().encode(text) };
}

function block(type: number, le: boolean, body: Uint8Array, options: Option[]): Uint8Array {
  const opts = options.length === 0 ? [] : [...options.flatMap((o) => [u16(o.code, le), u16(o.value.length, le), pad(o.value)]), u32(0, le)];
  const inner = concat([body, ...opts]), length = 12 + inner.length;
  return concat([u32(type, le), u32(length, le), inner, u32(length, le)]);
}

function pad(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + ((4 - (bytes.length % 4)) % 4));
  out.set(bytes);
  return out;
}

function u16(x: number, le: boolean): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, x, le);
  return b;
}

function u32(x: number, le: boolean): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, x >>> 0, le);
  return b;
}

function i64(x: bigint, le: boolean): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, x, le);
  return b;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Writes a classic pcap (little-endian, µs or ns timestamps); used to make test captures. */
export function writePcap(linkType: number, packets: Array<{ timestampNs: bigint; data: Uint8Array }>, { nanoseconds = false } = {}): Uint8Array {
  const header = concat([u32(nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4, true), u16(2, true), u16(4, true), u32(0, true), u32(0, true), u32(65535, true), u32(linkType, true)]);
  const records = packets.map(({ timestampNs, data }) => {
    const seconds = timestampNs / 1_000_000_000n, fraction = (timestampNs % 1_000_000_000n) / (nanoseconds ? 1n : 1000n);
    return concat([u32(Number(seconds), true), u32(Number(fraction), true), u32(data.length, true), u32(data.length, true), data]);
  });
  return concat([header, ...records]);
}
