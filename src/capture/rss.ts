/**
 * A software RSS hash, computed as a NIC does: the Toeplitz hash with the common default 40-byte
 * key over source address, destination address and, for TCP and UDP, source and destination port,
 * for IPv4 and IPv6; with its type as the kernel's xdp_rss_hash_type. The per-packet path reads a
 * frame in place and hashes with a table (one lookup per input byte), allocating nothing.
 */

/** The default Toeplitz key of most NICs (the Microsoft RSS verification key). */
export const RSS_DEFAULT_KEY = new Uint8Array([
  0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b,
  0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac,
  0x01, 0xfa,
]);

/** xdp_rss_hash_type bits (include/net/xdp.h). */
export const RssType = {
  NONE: 0,
  L3_IPV4: 1 << 0,
  L3_IPV6: 1 << 1,
  L4: 1 << 3,
  L4_TCP: 1 << 4,
  L4_UDP: 1 << 5,
} as const;

/** The Toeplitz hash of `input` under `key` (at least input.length + 4 bytes), bit by bit: the reference the table is checked against. */
export function toeplitz(input: Uint8Array, key: Uint8Array = RSS_DEFAULT_KEY): number {
  let hash = 0,
    window = ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) >>> 0;
  for (let i = 0; i < input.length; i++) {
    for (let bit = 7; bit >= 0; bit--) {
      if ((input[i]! >>> bit) & 1) hash ^= window;
      const next = 32 + 8 * i + 7 - bit;
      window = ((window << 1) | ((key[next >>> 3]! >>> (7 - (next & 7))) & 1)) >>> 0;
    }
  }
  return hash >>> 0;
}

/** Longest hash input: two IPv6 addresses and two ports. */
const MAX_INPUT = 36;

/** The 32 key bits from bit `from` on (the Toeplitz window of input bit `from`). */
function window(key: Uint8Array, from: number): number {
  let w = 0;
  for (let i = 0; i < 32; i++) w = (w << 1) | ((key[(from + i) >>> 3]! >>> (7 - ((from + i) & 7))) & 1);
  return w >>> 0;
}

/**
 * @internal TOEPLITZ_TABLE[256 p + v]: the Toeplitz contribution of byte value v at input position p, under
 * the default key (36 positions: two IPv6 addresses and two ports). The WebAssembly fast path of
 * annotate (assembly/pipeline.ts) hashes with a copy of it.
 */
export const TOEPLITZ_TABLE = ((): Uint32Array => {
  const table = new Uint32Array(MAX_INPUT * 256);
  const windows = new Uint32Array(8);
  // Byte v's share is that of v without its lowest set bit, xor that bit's window: one xor an entry.
  for (let p = 0; p < MAX_INPUT; p++) {
    for (let bit = 0; bit < 8; bit++) windows[bit] = window(RSS_DEFAULT_KEY, 8 * p + 7 - bit);
    for (let v = 1; v < 256; v++)
      table[256 * p + v] = table[256 * p + (v & (v - 1))]! ^ windows[31 - Math.clz32(v & -v)]!;
  }
  return table;
})();

/** The table-driven Toeplitz hash (default key) of bytes[from, from + n) followed by bytes[from2, from2 + n2). */
function hashBytes(bytes: Uint8Array, from: number, n: number, from2: number, n2: number): number {
  let hash = 0;
  for (let i = 0; i < n; i++) hash ^= TOEPLITZ_TABLE[(i << 8) | bytes[from + i]!]!;
  for (let i = 0; i < n2; i++) hash ^= TOEPLITZ_TABLE[((n + i) << 8) | bytes[from2 + i]!]!;
  return hash >>> 0;
}

const LINKTYPE_ETHERNET = 1,
  LINKTYPE_RAW = 101,
  LINKTYPE_IPV4 = 228,
  LINKTYPE_IPV6 = 229;

/**
 * The flow of the packet at bytes[at, at + length) of a pcap link type, as an RSS hash reads it:
 * writes flow[0] the IP version (4, 6; 0 for a non-IP or truncated packet), flow[1] the index in
 * bytes of the source address (the destination follows), flow[2] the protocol (IPv4) or next header
 * (IPv6), flow[3] the index of the source and destination ports where the hash covers them (TCP
 * and UDP; unfragmented IPv4, IPv6 without extension headers), else -1. Returns the first VLAN tag
 * as (protocol << 16 | TCI), or -1 if it has none.
 */
export function flowOf(bytes: Uint8Array, at: number, length: number, linkType: number, flow: Int32Array): number {
  const end = at + length;
  let etherType = -1,
    vlan = -1;
  flow[0] = 0;
  flow[3] = -1;
  if (linkType === LINKTYPE_ETHERNET) {
    if (length >= 14) {
      etherType = (bytes[at + 12]! << 8) | bytes[at + 13]!;
      at += 14;
      for (let tags = 0; (etherType === 0x8100 || etherType === 0x88a8) && tags < 2 && at + 4 <= end; tags++) {
        if (vlan < 0) vlan = ((etherType << 16) | (bytes[at]! << 8) | bytes[at + 1]!) >>> 0;
        etherType = (bytes[at + 2]! << 8) | bytes[at + 3]!;
        at += 4;
      }
    }
  } else if ((linkType === LINKTYPE_RAW || linkType === LINKTYPE_IPV4 || linkType === LINKTYPE_IPV6) && length >= 1) {
    const version = bytes[at]! >>> 4;
    etherType = version === 4 ? 0x0800 : version === 6 ? 0x86dd : -1;
  }
  if (etherType === 0x0800 && at + 20 <= end) {
    const ihl = (bytes[at]! & 0x0f) * 4,
      protocol = bytes[at + 9]!,
      fragment = ((bytes[at + 6]! << 8) | bytes[at + 7]!) & 0x3fff,
      ports = at + ihl;
    flow[0] = 4;
    flow[1] = at + 12;
    flow[2] = protocol;
    if (ihl >= 20 && fragment === 0 && (protocol === 6 || protocol === 17) && ports + 4 <= end) flow[3] = ports;
  } else if (etherType === 0x86dd && at + 40 <= end) {
    const next = bytes[at + 6]!;
    flow[0] = 6;
    flow[1] = at + 8;
    flow[2] = next;
    if ((next === 6 || next === 17) && at + 44 <= end) flow[3] = at + 40;
  }
  return vlan;
}

const FLOW = new Int32Array(4);

/**
 * What a NIC would report for the packet at bytes[at, at + length) of a pcap link type: writes its
 * RSS hash (0 for non-IP or truncated packets) as a u64 lo/hi pair at out[hashAt] and its type at
 * out[typeAt]. Returns its first VLAN tag as (protocol << 16 | TCI), or -1 if it has none.
 */
export function rxHash(
  bytes: Uint8Array,
  at: number,
  length: number,
  linkType: number,
  out: Uint32Array,
  hashAt: number,
  typeAt: number,
): number {
  const vlan = flowOf(bytes, at, length, linkType, FLOW),
    version = FLOW[0]!,
    ports = FLOW[3]!;
  let hash = 0,
    type: number = RssType.NONE;
  if (version !== 0) {
    hash = hashBytes(bytes, FLOW[1]!, version === 4 ? 8 : 32, Math.max(ports, 0), ports < 0 ? 0 : 4);
    type = version === 4 ? RssType.L3_IPV4 : RssType.L3_IPV6;
    if (ports >= 0) type |= RssType.L4 | (FLOW[2] === 6 ? RssType.L4_TCP : RssType.L4_UDP);
  }
  out[hashAt] = hash;
  out[hashAt + 1] = 0;
  out[typeAt] = type;
  out[typeAt + 1] = 0;
  return vlan;
}
