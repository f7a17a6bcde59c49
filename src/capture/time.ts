/** Exact 64-bit timestamp arithmetic on u32 words, without BigInt (the readers' and writers' hot paths). */

const TWO32 = 2 ** 32;

/**
 * out[at], out[at + 1] = (high * 2^32 + low) * m + add as a u64 (lo, hi), exactly, for u32 high and
 * low, m < 2^31 and add < 2^31. Returns false if it does not fit in 64 bits. (16-bit halves keep
 * every product exact in a double; `& 0xffff` and `>>> 0` take integers modulo 2^16 and 2^32.)
 */
export function mulAdd(high: number, low: number, m: number, add: number, out: Uint32Array, at: number): boolean {
  const a = low >>> 16,
    b = low & 0xffff,
    mh = m >>> 16,
    ml = m & 0xffff;
  const mid = a * ml + b * mh,
    r = (mid & 0xffff) * 65536 + b * ml + add;
  const hi = high * m + a * mh + Math.floor(mid / 65536) + Math.floor(r / TWO32);
  if (hi >= TWO32) return false;
  out[at] = r >>> 0;
  out[at + 1] = hi;
  return true;
}
