// Our EPB comment on the fast path of `pcap annotate` (pipeline.ts): "traits: NAME=VALUE ...
// crc32:XXXXXXXX", byte for byte what StoreShow.comment (src/capture/epb.ts) writes for the same
// store, from the u64 value slots of the packet and a plan the caller prepares (annotate.ts):
//   u32 at 0: entries n; 4: the CRC-32 table (256 u32); 8, 12: "traits:" (address, length);
//   16, 20: " crc32:" (address, length); from 24, n entries of 16 bytes, in key order: the value's
//   slot, its notation (0 none: a flag; 1 0x-hex of the low 32 bits; 2 decimal u64), and " NAME=" or
//   " NAME=0x" (address, length).

// @ts-ignore: decorator
@inline function copyBytes(to: usize, from: usize, n: u32): usize {
  memory.copy(to, from, n);
  return to + n;
}

/** Writes `value` in lowercase hex at `at` (8 digits if `full`, else without leading zeros); returns the end. */
function hex(at: usize, value: u32, full: bool): usize {
  let digits: u32 = full ? 8 : max<u32>(1, (35 - clz<u32>(value)) >> 2);
  for (let i: u32 = 0; i < digits; i++) {
    const d = (value >> ((digits - 1 - i) << 2)) & 15;
    store<u8>(at + i, d < 10 ? 0x30 + d : 0x57 + d);
  }
  return at + digits;
}

/** Writes `value` in decimal at `at`; returns the end. */
function decimal(at: usize, value: u64): usize {
  let n: usize = 1;
  for (let t = value; t >= 10; t /= 10) n++;
  for (let i = n; i > 0; i--) {
    store<u8>(at + i - 1, <u8>(0x30 + value % 10));
    value /= 10;
  }
  return at + n;
}

/** Writes our comment's text for the value slots at `values` by the plan at `plan` at `out`; returns its end. */
export function commentText(out: usize, plan: usize, values: usize): usize {
  let at = copyBytes(out, load<u32>(plan, 8), load<u32>(plan, 12));
  const n = load<u32>(plan);
  for (let i: u32 = 0; i < n; i++) {
    const entry = plan + 24 + (<usize>i << 4),
      kind = load<u32>(entry, 4),
      value = load<u64>(values + (<usize>load<u32>(entry) << 3));
    at = copyBytes(at, load<u32>(entry, 8), load<u32>(entry, 12));
    if (kind == 1) at = hex(at, <u32>value, false);
    else if (kind == 2) at = decimal(at, value);
  }
  const table = <usize>load<u32>(plan, 4);
  let crc: u32 = 0xffffffff;
  for (let p = out; p < at; p++) crc = load<u32>(table + (<usize>((crc ^ load<u8>(p)) & 0xff) << 2)) ^ (crc >> 8);
  at = copyBytes(at, load<u32>(plan, 16), load<u32>(plan, 20));
  return hex(at, ~crc, true);
}
