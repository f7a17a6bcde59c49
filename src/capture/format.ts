/**
 * The capture formats' constants, shared by the pcap and pcapng readers and the writer: block types,
 * option codes, our custom options, the limits of a record, and what CaptureReader.next() returns.
 */

/** Custom binary option code (copyable) of the option carrying a trait store (EPB). */
export const TRAITS_OPTION = 2989;
/** Custom UTF-8 option code (copyable) of the option carrying the key names (SHB): "traits-keys v1 NAME=KEY:LEN ...". */
export const KEYS_OPTION = 2988;
/** The Private Enterprise Number our options are filed under: IANA's PEN for documentation (no PEN is assigned to this project). */
export const TRAITS_PEN = 32473;
/** pcapng option codes: end of options, comment, the packet's drop count (EPB), and the interface options the reader uses. */
export const OPT_END = 0,
  OPT_COMMENT = 1,
  EPB_DROPCOUNT = 4,
  IF_TSRESOL = 9,
  IF_FCSLEN = 13,
  IF_TSOFFSET = 14;
/**
 * The standard EPB options our tools write beside the traits option: the packet's hash (epb_hash: an
 * algorithm octet, then the hash), its id (epb_packetid, u64), its rx queue (epb_queue, u32) and a
 * verdict (epb_verdict: a type octet, then the verdict; u64 for eBPF XDP); with the Toeplitz hash
 * algorithm (5, 4 bytes) and the eBPF XDP verdict type (2, an xdp_action).
 */
export const EPB_HASH = 3,
  EPB_PACKETID = 5,
  EPB_QUEUE = 6,
  EPB_VERDICT = 7,
  HASH_TOEPLITZ = 5,
  VERDICT_EBPF_XDP = 2;
/** pcapng block types (SHB, IDB, the obsolete packet block OPB, SPB, EPB) and the section header's byte-order magic. */
export const SHB = 0x0a0d0d0a,
  IDB = 1,
  OPB = 2,
  SPB = 3,
  EPB = 6,
  BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** Largest captured length of a packet (pcap record, EPB, SPB, OPB): a 16 MiB packet is fine, a corrupt 4 GiB length is refused before any allocation. */
export const MAX_PACKET = 16 * 2 ** 20;
/**
 * Largest record (pcap record or pcapng block): a maximal packet and 64 KiB for its header and
 * options, so that a maximal packet with our traits option is still a record the reader takes.
 */
export const MAX_RECORD = MAX_PACKET + 65536;

/** What CaptureReader.next() found (MORE: a reader without a source needs input; see CaptureReader.room()). */
export const END = 0,
  PACKET = 1,
  BLOCK = 2,
  STALL = 3,
  MORE = 4;

/** An interface of a pcapng section (or the one of a pcap file). */
export interface Interface {
  linkType: number;
  /** Nanoseconds per timestamp tick when whole (µs: 1000), else 0. */
  nsPerTick: number;
  /** Ticks per second, and the offset in seconds added to timestamps (if_tsoffset). */
  ticksPerSecond: bigint;
  offsetSeconds: bigint;
  /** The interface's snap length (0: none), which bounds a simple packet block's data. */
  snapLength: number;
}
