// Our EPB comment on the fast path of `pcap annotate` (pipeline.ts): "traits: NAME=VALUE ...
// crc32:XXXXXXXX", byte for byte what StoreShow.comment (src/capture/epb.ts) writes for the same
// store, from the u64 value slots of the packet and a plan the caller prepares (annotate.ts):
//   u32 at 0: entries n; 4: the CRC-32 tables (4 x 256 u32, for 4 bytes a step), then "00".."99"
//   (200 bytes) and 32 bytes of scratch; 8, 12: "traits:" (address, length); 16, 20: " crc32:" (address, length); from 24,
//   n entries of 16 bytes, in key order: the value's slot, its notation (0 none: a flag; 1 0x-hex of
//   the low 32 bits; 2 decimal u64), and " NAME=" or " NAME=0x" (address, length).
// Texts are copied 8 bytes at a time, past their end: what follows overwrites the excess (the
// caller's buffer has room after the comment).

// @ts-ignore: decorator
@inline function copyText(to: usize, from: usize, n: u32): usize {
  for (let i: usize = 0; i < <usize>n; i += 8) store<u64>(to + i, load<u64>(from + i));
  return to + n;
}

/** Writes `value` in lowercase hex at `at` (8 digits if `full`, else without leading zeros); returns the end. */
// @ts-ignore: decorator
@inline function hex(at: usize, value: u32, full: bool): usize {
  const digits: u32 = full ? 8 : max<u32>(1, (35 - clz<u32>(value)) >> 2);
  for (let i: u32 = 0; i < digits; i++) {
    const d = (value >> ((digits - 1 - i) << 2)) & 15;
    store<u8>(at + i, d < 10 ? 0x30 + d : 0x57 + d);
  }
  return at + digits;
}

/** Writes the decimal digits of `value` (< 10^9) ending at `end`, two at a time from the pairs table, at least `width` of them; returns where they start. */
// @ts-ignore: decorator
@inline function digitsBefore(end: usize, value: u32, width: u32, pairs: usize): usize {
  let p = end;
  while (value >= 100) {
    const q = value / 100;
    p -= 2;
    store<u16>(p, load<u16>(pairs + ((value - q * 100) << 1)));
    value = q;
  }
  if (value >= 10) {
    p -= 2;
    store<u16>(p, load<u16>(pairs + (value << 1)));
  } else {
    p--;
    store<u8>(p, <u8>(0x30 + value));
  }
  while (<u32>(end - p) < width) store<u8>(--p, 0x30);
  return p;
}

/** Writes `value` in decimal at `at` (through 24 bytes of scratch at `scratch`); returns the end. */
function decimal(at: usize, value: u64, pairs: usize, scratch: usize): usize {
  let p = scratch + 24;
  // Nine digits at a time in u32 arithmetic: one u64 division per nine digits.
  while (value >= 1_000_000_000) {
    const q = value / 1_000_000_000;
    p = digitsBefore(p, <u32>(value - q * 1_000_000_000), 9, pairs);
    value = q;
  }
  p = digitsBefore(p, <u32>value, 1, pairs);
  return copyText(at, p, <u32>(scratch + 24 - p));
}

/** Writes our comment's text for the value slots at `values` by the plan at `plan` at `out`; returns its end. */
export function commentText(out: usize, plan: usize, values: usize): usize {
  const tables = <usize>load<u32>(plan, 4),
    pairs = tables + 4096,
    scratch = pairs + 200;
  let at = copyText(out, load<u32>(plan, 8), load<u32>(plan, 12));
  const n = load<u32>(plan);
  for (let i: u32 = 0; i < n; i++) {
    const entry = plan + 24 + (<usize>i << 4),
      kind = load<u32>(entry, 4),
      value = load<u64>(values + (<usize>load<u32>(entry) << 3));
    at = copyText(at, load<u32>(entry, 8), load<u32>(entry, 12));
    if (kind == 1) at = hex(at, <u32>value, false);
    else if (kind == 2) at = decimal(at, value, pairs, scratch);
  }
  // CRC-32 (zlib's), four bytes a step (slicing by 4), then byte by byte.
  let crc: u32 = 0xffffffff,
    p = out;
  for (; p + 4 <= at; p += 4) {
    crc ^= load<u32>(p);
    crc =
      load<u32>(tables + 3072 + ((crc & 0xff) << 2)) ^
      load<u32>(tables + 2048 + (((crc >> 8) & 0xff) << 2)) ^
      load<u32>(tables + 1024 + (((crc >> 16) & 0xff) << 2)) ^
      load<u32>(tables + ((crc >> 24) << 2));
  }
  for (; p < at; p++) crc = load<u32>(tables + (<usize>((crc ^ load<u8>(p)) & 0xff) << 2)) ^ (crc >> 8);
  at = copyText(at, load<u32>(plan, 16), load<u32>(plan, 20));
  return hex(at, ~crc, true);
}
