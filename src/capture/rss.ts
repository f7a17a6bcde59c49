/**
 * A software RSS hash, computed as a NIC does: the Toeplitz hash with the common default 40-byte
 * key over source address, destination address and, for TCP and UDP, source and destination port,
 * for IPv4 and IPv6; with its type as the kernel's xdp_rss_hash_type.
 */

/** The default Toeplitz key of most NICs (the Microsoft RSS verification key). */
export const RSS_DEFAULT_KEY = new Uint8Array([
  0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
  0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
]);

/** xdp_rss_hash_type bits (include/net/xdp.h). */
export const RssType = { NONE: 0, L3_IPV4: 1 << 0, L3_IPV6: 1 << 1, L4: 1 << 3, L4_TCP: 1 << 4, L4_UDP: 1 << 5 } as const;

/** The Toeplitz hash of `input` under `key` (at least input.length + 4 bytes). */
export function toeplitz(input: Uint8Array, key: Uint8Array = RSS_DEFAULT_KEY): number {
  let hash = 0, window = ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) >>> 0;
  for (let i = 0; i < input.length; i++) {
    for (let bit = 7; bit >= 0; bit--) {
      if ((input[i]! >>> bit) & 1) hash ^= window;
      const next = 32 + 8 * i + 7 - bit;
      window = ((window << 1) | ((key[next >>> 3]! >>> (7 - (next & 7))) & 1)) >>> 0;
    }
  }
  return hash >>> 0;
}

/** What a NIC would report for a packet: its RSS hash and type (0 and NONE for non-IP), and its first VLAN tag. */
export interface RxInfo {
  hash: number;
  type: number;
  vlan?: { proto: number; tci: number };
}

const LINKTYPE_ETHERNET = 1, LINKTYPE_RAW = 101, LINKTYPE_IPV4 = 228, LINKTYPE_IPV6 = 229;

/** Parses a packet of a pcap link type far enough to hash it; truncated or unknown packets get no hash. */
export function rxInfo(linkType: number, data: Uint8Array): RxInfo {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength), info: RxInfo = { hash: 0, type: RssType.NONE };
  let at = 0, etherType = -1;
  if (linkType === LINKTYPE_ETHERNET) {
    if (data.length < 14) return info;
    etherType = view.getUint16(12);
    at = 14;
    for (let tags = 0; (etherType === 0x8100 || etherType === 0x88a8) && tags < 2 && at + 4 <= data.length; tags++) {
      if (!info.vlan) info.vlan = { proto: etherType, tci: view.getUint16(at) };
      etherType = view.getUint16(at + 2);
      at += 4;
    }
  } else if (linkType === LINKTYPE_RAW || linkType === LINKTYPE_IPV4 || linkType === LINKTYPE_IPV6) {
    if (data.length < 1) return info;
    etherType = data[0]! >>> 4 === 4 ? 0x0800 : data[0]! >>> 4 === 6 ? 0x86dd : -1;
  }
  if (etherType === 0x0800 && at + 20 <= data.length) {
    const ihl = (data[at]! & 0x0f) * 4, protocol = data[at + 9]!, fragment = view.getUint16(at + 6) & 0x3fff;
    const addresses = data.subarray(at + 12, at + 20), ports = at + ihl;
    if (ihl >= 20 && fragment === 0 && (protocol === 6 || protocol === 17) && ports + 4 <= data.length) {
      return { ...info, hash: toeplitz(concat(addresses, data.subarray(ports, ports + 4))), type: RssType.L3_IPV4 | RssType.L4 | (protocol === 6 ? RssType.L4_TCP : RssType.L4_UDP) };
    }
    return { ...info, hash: toeplitz(addresses), type: RssType.L3_IPV4 };
  }
  if (etherType === 0x86dd && at + 40 <= data.length) {
    const next = data[at + 6]!, addresses = data.subarray(at + 8, at + 40), ports = at + 40;
    if ((next === 6 || next === 17) && ports + 4 <= data.length) {
      return { ...info, hash: toeplitz(concat(addresses, data.subarray(ports, ports + 4))), type: RssType.L3_IPV6 | RssType.L4 | (next === 6 ? RssType.L4_TCP : RssType.L4_UDP) };
    }
    return { ...info, hash: toeplitz(addresses), type: RssType.L3_IPV6 };
  }
  return info;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
