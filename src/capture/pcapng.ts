/**
 * pcapng (either byte order; several sections and interfaces): its blocks and options, as
 * CaptureReader reads them (into a CaptureBuffer). Every length is checked against its block before it is used.
 */
import type { CaptureBuffer } from "./record.js";
import * as format from "./format.js";

// The format's constants as constants of this module: optimized code checks an imported binding at
// every use (it may not be initialized yet). In the walk of a packet's options and its block's
// checks, that cost more than the walk's own work (callgrind, 1M packets of four options).
const {
  BLOCK,
  BYTE_ORDER_MAGIC,
  EPB,
  EPB_HASH,
  EPB_PACKETID,
  EPB_QUEUE,
  EPB_VERDICT,
  HASH_TOEPLITZ,
  IDB,
  IF_TSOFFSET,
  IF_TSRESOL,
  MAX_PACKET,
  MAX_RECORD,
  OPB,
  OPT_END,
  PACKET,
  SHB,
  SPB,
  TRAITS_OPTION,
  TRAITS_PEN,
  VERDICT_EBPF_XDP,
} = format;

/** Bytes of an option whose value has `length` bytes: its header and its value padded to 4 bytes. */
export const optionSize = (length: number): number => 4 + length + ((4 - (length % 4)) % 4);

/** Bytes of a packet's data in a block: `captured` padded to 4 bytes. */
const padded = (captured: number): number => captured + ((4 - (captured % 4)) % 4);

/**
 * Reads the block at the reader's first unread byte (its 12-byte start is there): PACKET (an EPB,
 * SPB or OPB: the packets Wireshark numbers), BLOCK (any other), or STALL or MORE (see next()).
 * Throws EBADMSG for a malformed block.
 */
export function readBlock(r: CaptureBuffer, mayMove: boolean): number {
  const offset = r.offsetOf(r.pos),
    type = r.view.getUint32(r.pos, true) === SHB ? SHB : r.u32(r.pos);
  if (type === SHB) {
    const order = r.view.getUint32(r.pos + 8, true);
    if (order === BYTE_ORDER_MAGIC) r.littleEndian = true;
    else if (order === 0x4d3c2b1a) r.littleEndian = false;
    else r.bad(offset + 8, `bad byte-order magic 0x${order.toString(16)}`);
  }
  const length = r.u32(r.pos + 4);
  if (length < 12 || length % 4 !== 0)
    r.bad(offset + 4, `block length ${length} is not a multiple of 4 of at least 12`);
  if (length > MAX_RECORD) r.bad(offset + 4, `block length ${length} is over the ${MAX_RECORD}-byte limit of a record`);
  const wait = r.ensure(length, mayMove);
  if (wait !== 0) return wait;
  const at = r.pos,
    left = r.filled - at;
  if (length > left) r.bad(offset + 4, `block of ${length} bytes runs past the end of the file (${left} bytes left)`);
  const trailer = r.u32(at + length - 4);
  if (trailer !== length) r.bad(offset + length - 4, `trailing block length ${trailer} does not match ${length}`);
  r.type = type;
  r.at = at;
  r.offset = offset;
  r.length = length;
  r.pos = at + length;
  if (type === SHB) return section(r, at, offset, length);
  if (type === IDB) return interfaceBlock(r, at, offset, length);
  if (type === EPB) return packet(r, at, offset, length, false);
  if (type === SPB) return simple(r, at, offset, length);
  if (type === OPB) return packet(r, at, offset, length, true);
  return BLOCK;
}

function section(r: CaptureBuffer, at: number, offset: number, length: number): number {
  if (length < 28) r.bad(offset + 4, `section header block of ${length} bytes; at least 28`);
  const major = r.u16(at + 12),
    minor = r.u16(at + 14);
  if (major !== 1 || (minor !== 0 && minor !== 2))
    r.bad(offset + 12, `pcapng version ${major}.${minor} is not supported (1.0)`);
  checkOptions(r, at + 24, at + length - 4, offset - at);
  r.interfaces = [];
  return BLOCK;
}

function interfaceBlock(r: CaptureBuffer, at: number, offset: number, length: number): number {
  if (length < 20) r.bad(offset + 4, "interface description block shorter than 20 bytes");
  const resolution = findOption(r, at + 16, at + length - 4, IF_TSRESOL, offset - at);
  const tsOffset = findOption(r, at + 16, at + length - 4, IF_TSOFFSET, offset - at);
  const res = resolution < 0 ? 6 : r.bytes[resolution]!;
  const ticksPerSecond = res & 0x80 ? 1n << BigInt(res & 0x7f) : 10n ** BigInt(res);
  const whole = !(res & 0x80) && res <= 9;
  let offsetSeconds = 0n;
  if (tsOffset >= 0 && r.u16(tsOffset - 2) === 8) offsetSeconds = r.view.getBigInt64(tsOffset, r.littleEndian);
  r.interfaces.push({
    linkType: r.u16(at + 8),
    nsPerTick: whole ? 10 ** (9 - res) : 0,
    ticksPerSecond,
    offsetSeconds,
    snapLength: r.u32(at + 12),
  });
  return BLOCK;
}

/**
 * An Enhanced Packet Block, or an Obsolete Packet Block (`obsolete`: a 16-bit interface and a 16-bit
 * drop count where the EPB has a 32-bit interface; the same fields otherwise).
 */
function packet(r: CaptureBuffer, at: number, offset: number, length: number, obsolete: boolean): number {
  const name = obsolete ? "obsolete" : "enhanced";
  if (length < 32) r.bad(offset + 4, `${name} packet block shorter than 32 bytes`);
  const interfaceId = obsolete ? r.u16(at + 8) : r.u32(at + 8),
    captured = r.u32(at + 20);
  if (interfaceId >= r.interfaces.length)
    r.bad(offset + 8, `interface ${interfaceId} is not described before this packet`);
  if (captured > MAX_PACKET)
    r.bad(offset + 20, `captured length ${captured} is over the ${MAX_PACKET}-byte limit of a packet`);
  const dataEnd = at + 28 + padded(captured);
  if (dataEnd > at + length - 4)
    r.bad(offset + 20, `captured length ${captured} runs past the block (${length - 32} bytes of data room)`);
  checkOptions(r, dataEnd, at + length - 4, offset - at);
  r.packet++;
  r.dataAt = at + 28;
  r.captured = captured;
  r.original = r.u32(at + 24);
  r.interfaceId = interfaceId;
  r.tsHigh = r.u32(at + 12);
  r.tsLow = r.u32(at + 16);
  r.optionsAt = dataEnd;
  r.optionsEnd = at + length - 4;
  // An OPB's drop count of 0xFFFF means unknown (Wireshark shows no drop count then).
  const drops = obsolete ? r.u16(at + 10) : -1;
  r.dropCount = drops === 0xffff ? -1 : drops;
  return PACKET;
}

/**
 * A Simple Packet Block: a packet of interface 0 without a timestamp or options, whose captured
 * length is its original length bounded by the interface's snap length, and which must fill the
 * block exactly (as Wireshark requires).
 */
function simple(r: CaptureBuffer, at: number, offset: number, length: number): number {
  const iface = r.interfaces[0];
  if (!iface) r.bad(offset, "simple packet block before any interface description block");
  if (length < 16) r.bad(offset + 4, "simple packet block shorter than 16 bytes");
  const original = r.u32(at + 8),
    captured = iface.snapLength > 0 ? Math.min(original, iface.snapLength) : original;
  if (captured > MAX_PACKET)
    r.bad(offset + 8, `captured length ${captured} is over the ${MAX_PACKET}-byte limit of a packet`);
  if (16 + padded(captured) !== length)
    r.bad(
      offset + 4,
      `simple packet block of ${length} bytes does not hold exactly its ${captured}-byte packet (original length ${original}, snap length ${iface.snapLength}): ${16 + padded(captured)} bytes`,
    );
  r.packet++;
  r.dataAt = at + 12;
  r.captured = captured;
  r.original = original;
  r.interfaceId = 0;
  r.tsHigh = r.tsLow = 0;
  r.optionsAt = r.optionsEnd = at + length - 4;
  r.traitsAt = r.queueAt = r.packetIdAt = r.verdictAt = r.hashAt = -1;
  r.dropCount = -1;
  return PACKET;
}

/**
 * Checks the options in [from, to): each a code, a length and a value padded to 4 bytes, until
 * opt_endofopt. `shift` maps buffer indices to offsets. Records where the packet options the readers
 * use are (CaptureBuffer.traitsAt and the others; for a block that is not a packet, they mean nothing).
 */
function checkOptions(r: CaptureBuffer, from: number, to: number, shift: number): void {
  r.traitsAt = r.queueAt = r.packetIdAt = r.verdictAt = r.hashAt = -1;
  for (let at = from; at < to; ) {
    if (at + 4 > to) r.bad(at + shift, "truncated option header");
    const code = r.u16(at),
      length = r.u16(at + 2);
    if (code === OPT_END) return;
    if (at + 4 + length > to) r.bad(at + shift + 2, `option ${code} of ${length} bytes runs past its block`);
    if (code === TRAITS_OPTION || (code >= EPB_HASH && code <= EPB_VERDICT)) recordOption(r, at, code, length);
    at += optionSize(length);
  }
}

/** Records the option at `at` (checked to lie in its block) if it is the first well-formed one of its kind (see checkOptions). */
function recordOption(r: CaptureBuffer, at: number, code: number, length: number): void {
  if (code === TRAITS_OPTION) {
    if (r.traitsAt < 0 && length >= 4 && r.u32(at + 4) === TRAITS_PEN) {
      r.traitsAt = at + 8;
      r.traitsLength = length - 4;
    }
  } else if (code === EPB_QUEUE) {
    if (r.queueAt < 0 && length === 4) r.queueAt = at + 4;
  } else if (code === EPB_PACKETID) {
    if (r.packetIdAt < 0 && length === 8) r.packetIdAt = at + 4;
  } else if (code === EPB_VERDICT) {
    if (r.verdictAt < 0 && length === 9 && r.bytes[at + 4] === VERDICT_EBPF_XDP) r.verdictAt = at + 4;
  } else if (code === EPB_HASH && r.hashAt < 0 && length === 5 && r.bytes[at + 4] === HASH_TOEPLITZ) r.hashAt = at + 4;
}

/** The buffer index of the first option `code`'s value in [from, to), or -1 (the options are checked first). */
function findOption(r: CaptureBuffer, from: number, to: number, code: number, shift: number): number {
  checkOptions(r, from, to, shift);
  for (let at = from; at + 4 <= to; ) {
    const c = r.u16(at),
      length = r.u16(at + 2);
    if (c === OPT_END) break;
    if (c === code) return at + 4;
    at += optionSize(length);
  }
  return -1;
}

/** The value (after the PEN) of custom option `code` under `pen` in the checked options [from, to), as a view into the buffer; or undefined. */
export function customOption(
  r: CaptureBuffer,
  from: number,
  to: number,
  code: number,
  pen: number,
): Uint8Array | undefined {
  for (let at = from; at + 4 <= to; ) {
    const c = r.u16(at),
      length = r.u16(at + 2);
    if (c === OPT_END) break;
    if (c === code && length >= 4 && r.u32(at + 4) === pen) return r.bytes.subarray(at + 8, at + 4 + length);
    at += optionSize(length);
  }
  return undefined;
}
