/**
 * What our Enhanced Packet Blocks carry besides the trait store, read from the store itself (no
 * BigInt, no allocation): the traits the standard EPB options repeat (packet_id, rx_queue,
 * xdp_verdict, rx_hash with rss_hash_type), found by the section's names, and our comment,
 * "traits: NAME=VALUE ... crc32:XXXXXXXX", which the Wireshark plugin reads (Wireshark 4.0 gives a
 * Lua dissector the comments, not the custom options).
 */
import { bytesBelow } from "../core/js-offsets.js";
import type { Profile } from "../core/options.js";
import { HARDWARE_FIRST_APP_KEY, HARDWARE_NAMES } from "../store/hardware.js";
import type { KeyName } from "./names.js";

const VLAN_PROTO_KEY = HARDWARE_FIRST_APP_KEY + HARDWARE_NAMES.indexOf("vlan_proto");
const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
const TRAITS = ascii("traits:"),
  CHECK = ascii(" crc32:"),
  HEX = ascii("0123456789abcdef");

/** CRC-32 (IEEE 802.3, as zlib's crc32) lookup table. */
export const CRC_TABLE = Int32Array.from({ length: 256 }, (_, i) => {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

/** The CRC-32 (zlib's) of bytes[from, to). */
export function crc32(bytes: Uint8Array, from: number, to: number): number {
  let c = -1;
  for (let i = from; i < to; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** Longest comment a store can give: "traits:", 64 entries of a 63-character name and a 20-digit value, the check. */
export const MAX_COMMENT = TRAITS.length + 64 * (1 + 63 + 1 + 20) + CHECK.length + 8;

/**
 * A section's traits as our EPBs show them: the keys of the traits that standard options repeat,
 * and each key's name as our comment writes it. Reads stores in a byte array through `view` (stores
 * are little-endian and valid: the caller has checked them).
 */
export class StoreShow {
  /** Keys of the traits the standard options repeat (-1: not named in the section). */
  readonly packetIdKey: number;
  readonly queueKey: number;
  readonly verdictKey: number;
  readonly hashKey: number;
  readonly hashTypeKey: number;
  /** After find(): the value's length in bytes. */
  length = 0;
  /** Bytes of a 01 size code in 2-byte units: 1 in v1 (2 bytes), 0 in flags (a flag). */
  private readonly unit: number;
  /** " NAME" of each key (its number where it has no name). */
  private readonly prefixes: Uint8Array[];
  /** The key whose value reads big-endian (vlan_proto, kept in network order), or -1. */
  private readonly bigEndianKey: number;
  private readonly digits = new Uint8Array(20);

  constructor(
    profile: Profile,
    names: readonly KeyName[],
    private readonly bytes: Uint8Array,
    private readonly view: DataView,
  ) {
    this.unit = profile === "v1" ? 1 : 0;
    const named = (name: string, sizes: readonly number[]): number =>
      names.find((k) => k.name === name && sizes.includes(k.size))?.key ?? -1;
    this.packetIdKey = named("packet_id", [8]);
    this.queueKey = named("rx_queue", [2, 4]);
    this.verdictKey = named("xdp_verdict", [4]);
    this.hashKey = named("rx_hash", [4]);
    this.hashTypeKey = named("rss_hash_type", [4]);
    const byKey = new Map(names.map((k) => [k.key, k.name]));
    this.prefixes = Array.from({ length: 64 }, (_, key) => ascii(` ${byKey.get(key) ?? key}`));
    this.bigEndianKey = byKey.get(VLAN_PROTO_KEY) === "vlan_proto" ? VLAN_PROTO_KEY : -1;
  }

  /** The index of key's value in the store at `store` (length in `length`), or -1 if the store lacks it (or key is -1). */
  find(store: number, key: number): number {
    if (key < 0) return -1;
    const { view } = this,
      h0 = view.getUint32(store, true),
      h1 = view.getUint32(store + 4, true),
      l0 = view.getUint32(store + 8, true),
      l1 = view.getUint32(store + 12, true),
      bit = 1 << (key & 31),
      high = (key < 32 ? h0 : h1) & bit,
      low = (key < 32 ? l0 : l1) & bit;
    if (!high && !low) return -1;
    this.length = high && low ? 8 : high ? 4 : 2 * this.unit;
    return store + 16 + bytesBelow(h0, l0, h1, l1, key, this.unit);
  }

  /**
   * The value of a u32 trait `key` (2 or 4 bytes) in the store at `store`, or -1 if absent; for
   * rx_hash (hashKey), -1 also when rss_hash_type says the packet has no hash (0).
   */
  u32(store: number, key: number): number {
    if (key < 0 || (key === this.hashKey && this.u32(store, this.hashTypeKey) === 0)) return -1;
    const at = this.find(store, key);
    if (at < 0) return -1;
    return this.length === 2 ? this.view.getUint16(at, true) : this.view.getUint32(at, true);
  }

  /**
   * Writes our comment's text for the store at `store` at bytes[at]: "traits:", then per key in
   * order " NAME=VALUE" (8-byte values in decimal, others in 0x-hex, vlan_proto in network order, a
   * flag as " NAME"), then " crc32:" and the CRC-32 of what comes before it, in 8 hex digits. Returns where it ends.
   */
  comment(store: number, at: number): number {
    const { bytes, view } = this,
      start = at,
      words = [view.getUint32(store, true), view.getUint32(store + 4, true)],
      lows = [view.getUint32(store + 8, true), view.getUint32(store + 12, true)];
    bytes.set(TRAITS, at);
    at += TRAITS.length;
    let value = store + 16;
    for (let key = 0; key < 64; key++) {
      const bit = 1 << (key & 31),
        high = words[key >> 5]! & bit,
        low = lows[key >> 5]! & bit;
      if (!high && !low) continue;
      const length = high && low ? 8 : high ? 4 : 2 * this.unit,
        prefix = this.prefixes[key]!;
      bytes.set(prefix, at);
      at += prefix.length;
      if (length === 8) {
        bytes[at++] = 0x3d; // =
        at = this.decimal(at, view.getUint32(value, true), view.getUint32(value + 4, true));
      } else if (length > 0) {
        bytes[at] = 0x3d;
        bytes[at + 1] = 0x30; // 0
        bytes[at + 2] = 0x78; // x
        const number =
          key === this.bigEndianKey
            ? view.getUint16(value, false)
            : length === 2
              ? view.getUint16(value, true)
              : view.getUint32(value, true);
        at = this.hex(at + 3, number, false);
      }
      value += length;
    }
    const check = crc32(bytes, start, at);
    bytes.set(CHECK, at);
    return this.hex(at + CHECK.length, check, true);
  }

  /** Writes u32 `value` in lowercase hex at bytes[at] (8 digits if `full`, else without leading zeros); returns the end. */
  private hex(at: number, value: number, full: boolean): number {
    let shift = 28;
    if (!full) while (shift > 0 && value >>> shift === 0) shift -= 4;
    for (; shift >= 0; shift -= 4) this.bytes[at++] = HEX[(value >>> shift) & 15]!;
    return at;
  }

  /** Writes the u64 (lo, hi) in decimal at bytes[at]; returns the end. */
  private decimal(at: number, lo: number, hi: number): number {
    const { digits } = this;
    let n = 0;
    if (hi < 0x200000) {
      // Below 2^53: exact as a double.
      let v = hi * 4294967296 + lo;
      do {
        digits[n++] = v % 10;
        v = Math.floor(v / 10);
      } while (v > 0);
    } else {
      // 16-bit limbs, most significant first, divided by 10 000 while not 0: four digits a step.
      const limbs = [hi >>> 16, hi & 0xffff, lo >>> 16, lo & 0xffff];
      while (limbs[0]! | limbs[1]! | limbs[2]! | limbs[3]!) {
        let rest = 0;
        for (let i = 0; i < 4; i++) {
          const x = rest * 65536 + limbs[i]!;
          limbs[i] = Math.floor(x / 10000);
          rest = x % 10000;
        }
        for (let d = 0; d < 4; d++, rest = Math.floor(rest / 10)) digits[n++] = rest % 10;
      }
      while (n > 1 && digits[n - 1] === 0) n--;
    }
    while (n > 0) this.bytes[at++] = 0x30 + digits[--n]!;
    return at;
  }
}
