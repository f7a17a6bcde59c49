/**
 * Classic pcap (µs or ns timestamps, either byte order): the file header and its records, as
 * CaptureReader reads them (into a CaptureBuffer); and writePcap, which makes test captures.
 */
import type { CaptureBuffer } from "./record.js";
import { EPB, MAX_PACKET, PACKET } from "./format.js";

/** The four magics: µs and ns, each in both byte orders (as read big-endian). */
const MAGICS = [0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1];

/** True if `magic` (the first word, read little-endian) starts a classic pcap. */
export function isPcapMagic(magic: number): boolean {
  return MAGICS.includes(magic);
}

/**
 * Reads the 24-byte file header at the reader's first unread byte: byte order, timestamp unit,
 * snap length, link type and FCS length, and the file's one interface. Throws EBADMSG.
 */
export function readPcapHeader(r: CaptureBuffer): void {
  const at = r.pos,
    left = r.filled - at;
  if (left < 24) r.bad(0, "truncated pcap file header (24 bytes)");
  const raw = r.view.getUint32(at, false);
  r.littleEndian = raw === 0xd4c3b2a1 || raw === 0x4d3cb2a1;
  r.nanoseconds = raw === 0xa1b23c4d || raw === 0x4d3cb2a1;
  r.snapLength = r.u32(at + 16);
  // LinkType and additional information: FCS length (4 bits) | R | P (FCS length present) | 10 reserved bits | link type (16 bits).
  const field = r.u32(at + 20);
  if (field & 0x0bff0000)
    r.bad(20, `link type field 0x${field.toString(16)} has reserved bits set (link types are 16 bits)`);
  r.fcsBytes = field & 0x04000000 ? 2 * (field >>> 28) : -1;
  r.interfaces = [
    {
      linkType: field & 0xffff,
      nsPerTick: r.nanoseconds ? 1 : 1000,
      ticksPerSecond: r.nanoseconds ? 1_000_000_000n : 1_000_000n,
      offsetSeconds: 0n,
      snapLength: r.snapLength,
    },
  ];
  r.pos = at + 24;
}

/** Reads the record at the reader's first unread byte (its 16-byte header is there): PACKET, or STALL or MORE (see next()). Throws EBADMSG. */
export function readPcapRecord(r: CaptureBuffer, mayMove: boolean): number {
  const captured = r.u32(r.pos + 8),
    offset = r.offsetOf(r.pos);
  if (captured > MAX_PACKET)
    r.bad(offset + 8, `captured length ${captured} is over the ${MAX_PACKET}-byte limit of a packet`);
  const wait = r.ensure(16 + captured, mayMove);
  if (wait !== 0) return wait;
  const at = r.pos;
  if (r.filled - at < 16 + captured)
    r.bad(offset + 8, `captured length ${captured} runs past the end of the file (${r.filled - at - 16} bytes left)`);
  const fraction = r.u32(at + 4);
  if (fraction >= (r.nanoseconds ? 1e9 : 1e6))
    r.bad(offset + 4, `packet ${r.packet + 1}: sub-second timestamp ${fraction} is out of range`);
  r.type = EPB;
  r.at = at;
  r.offset = offset;
  r.length = 16 + captured;
  r.packet++;
  r.dataAt = at + 16;
  r.captured = captured;
  r.original = r.u32(at + 12);
  r.interfaceId = 0;
  r.tsHigh = r.u32(at);
  r.tsLow = fraction;
  r.optionsAt = r.optionsEnd = at + 16 + captured;
  r.traitsAt = r.queueAt = r.packetIdAt = r.verdictAt = r.hashAt = -1;
  r.dropCount = -1;
  r.pos = at + 16 + captured;
  return PACKET;
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
