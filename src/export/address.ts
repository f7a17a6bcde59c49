/**
 * IP addresses as text, written into a buffer through a DataView (no string made per packet): IPv4 in
 * dotted decimal, IPv6 in the canonical form of RFC 5952 (lower-case hex, no leading zeros, the
 * longest run of two or more zero groups as "::", the first of equal runs), and, as glibc's
 * inet_ntop and so tshark write them, IPv4-mapped and IPv4-compatible addresses as ::ffff:a.b.c.d
 * and ::a.b.c.d.
 */

/** Longest text of an address (IPv6: eight groups of four digits and seven colons). */
export const MAX_ADDRESS_TEXT = 45;

const HEX = [..."0123456789abcdef"].map((c) => c.charCodeAt(0));
const COLON = 58;

/**
 * Each of 0..255 as decimal text followed by a dot, as a little-endian u32 (up to four bytes, zero
 * padded), and that text's length with its dot: an IPv4 address is four 4-byte writes.
 */
const OCTET_WORD = new Uint32Array(256),
  OCTET_LENGTH = new Uint8Array(256);
for (let value = 0; value < 256; value++) {
  const text = `${value}.`;
  for (let i = 0; i < text.length; i++) OCTET_WORD[value]! |= text.charCodeAt(i) << (8 * i);
  OCTET_LENGTH[value] = text.length;
}

/**
 * Writes the IPv4 address bytes[at, at + 4) as text at byte o of `out`; returns the index after it.
 * Writes four bytes at a time: up to 3 bytes past the returned index may be overwritten (room the
 * caller has: MAX_ADDRESS_TEXT is far more than an IPv4 address's 15 bytes).
 */
export function writeIpv4(bytes: Uint8Array, at: number, out: DataView, o: number): number {
  let value = bytes[at]!;
  out.setUint32(o, OCTET_WORD[value]!, true);
  o += OCTET_LENGTH[value]!;
  value = bytes[at + 1]!;
  out.setUint32(o, OCTET_WORD[value]!, true);
  o += OCTET_LENGTH[value]!;
  value = bytes[at + 2]!;
  out.setUint32(o, OCTET_WORD[value]!, true);
  o += OCTET_LENGTH[value]!;
  value = bytes[at + 3]!;
  out.setUint32(o, OCTET_WORD[value]!, true);
  return o + OCTET_LENGTH[value]! - 1;
}

/**
 * Writes the IPv6 address bytes[at, at + 16) as text at byte o of `out`; returns the index after it
 * (a mixed form's IPv4 tail may overwrite up to 3 bytes past it, as writeIpv4 does).
 */
export function writeIpv6(bytes: Uint8Array, at: number, out: DataView, o: number): number {
  // The longest run of zero groups (two or more), the first of equal runs.
  let best = -1,
    bestLength = 1;
  for (let g = 0; g < 8; ) {
    if (bytes[at + 2 * g] !== 0 || bytes[at + 2 * g + 1] !== 0) {
      g++;
      continue;
    }
    let end = g + 1;
    while (end < 8 && bytes[at + 2 * end] === 0 && bytes[at + 2 * end + 1] === 0) end++;
    if (end - g > bestLength) [best, bestLength] = [g, end - g];
    g = end;
  }
  const mixed =
    best === 0 && (bestLength === 6 || (bestLength === 5 && bytes[at + 10] === 0xff && bytes[at + 11] === 0xff));
  for (let g = 0; g < (mixed ? 6 : 8); g++) {
    if (g === best) {
      out.setUint8(o++, COLON);
      out.setUint8(o++, COLON);
      g += bestLength - 1;
      continue;
    }
    if (g > 0 && g !== best + bestLength) out.setUint8(o++, COLON);
    const value = (bytes[at + 2 * g]! << 8) | bytes[at + 2 * g + 1]!;
    for (let shift = value >= 0x1000 ? 12 : value >= 0x100 ? 8 : value >= 0x10 ? 4 : 0; shift >= 0; shift -= 4)
      out.setUint8(o++, HEX[(value >> shift) & 15]!);
  }
  if (!mixed) return o;
  if (bestLength === 5) out.setUint8(o++, COLON);
  return writeIpv4(bytes, at + 12, out, o);
}
