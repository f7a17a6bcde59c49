/**
 * IP addresses as text, written byte by byte into a buffer (no string made per packet): IPv4 in
 * dotted decimal, IPv6 in the canonical form of RFC 5952 (lower-case hex, no leading zeros, the
 * longest run of two or more zero groups as "::", the first of equal runs), and, as glibc's
 * inet_ntop and so tshark write them, IPv4-mapped and IPv4-compatible addresses as ::ffff:a.b.c.d
 * and ::a.b.c.d.
 */

/** Longest text of an address (IPv6: eight groups of four digits and seven colons). */
export const MAX_ADDRESS_TEXT = 45;

const HEX = [..."0123456789abcdef"].map((c) => c.charCodeAt(0));
const DOT = 46,
  COLON = 58,
  ZERO = 48;

/** The decimal text of each of 0..255, three digits a value (leading zeros dropped by its length). */
const DECIMAL = new Uint8Array(256 * 3),
  DECIMAL_LENGTH = new Uint8Array(256);
for (let value = 0; value < 256; value++) {
  DECIMAL.set([ZERO + ((value / 100) | 0), ZERO + (((value / 10) | 0) % 10), ZERO + (value % 10)], 3 * value);
  DECIMAL_LENGTH[value] = value >= 100 ? 3 : value >= 10 ? 2 : 1;
}

/** Writes the decimal text of 0..255 at out[o]; returns the index after it. */
function decimal(value: number, out: Uint8Array, o: number): number {
  const length = DECIMAL_LENGTH[value]!,
    from = 3 * value + 3 - length;
  out[o] = DECIMAL[from]!;
  if (length > 1) out[o + 1] = DECIMAL[from + 1]!;
  if (length > 2) out[o + 2] = DECIMAL[from + 2]!;
  return o + length;
}

/** Writes the IPv4 address bytes[at, at + 4) as text at out[o]; returns the index after it. */
export function writeIpv4(bytes: Uint8Array, at: number, out: Uint8Array, o: number): number {
  o = decimal(bytes[at]!, out, o);
  out[o++] = DOT;
  o = decimal(bytes[at + 1]!, out, o);
  out[o++] = DOT;
  o = decimal(bytes[at + 2]!, out, o);
  out[o++] = DOT;
  return decimal(bytes[at + 3]!, out, o);
}

/** Writes the IPv6 address bytes[at, at + 16) as text at out[o]; returns the index after it. */
export function writeIpv6(bytes: Uint8Array, at: number, out: Uint8Array, o: number): number {
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
      out[o++] = COLON;
      out[o++] = COLON;
      g += bestLength - 1;
      continue;
    }
    if (g > 0 && g !== best + bestLength) out[o++] = COLON;
    const value = (bytes[at + 2 * g]! << 8) | bytes[at + 2 * g + 1]!;
    for (let shift = value >= 0x1000 ? 12 : value >= 0x100 ? 8 : value >= 0x10 ? 4 : 0; shift >= 0; shift -= 4)
      out[o++] = HEX[(value >> shift) & 15]!;
  }
  if (!mixed) return o;
  if (bestLength === 5) out[o++] = COLON;
  return writeIpv4(bytes, at + 12, out, o);
}
