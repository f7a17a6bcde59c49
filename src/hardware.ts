/**
 * Well-known hardware keys: the rx metadata a NIC driver provides (as XDP's rx metadata kfuncs),
 * reached through the same get/set/has/delete as application keys. Their keys lie above the 64
 * application keys (the key space is u64) and are stable: numbers that may also be passed as bigints.
 */
import { TraitsError } from "./errors.js";
import { describe } from "./args.js";

/** The well-known hardware keys. */
export const HardwareKey = {
  /** RSS hash of the packet: u32. */
  RX_HASH: 0x1_0000,
  /** Type of that hash (the xdp_rss_hash_type values): u32. */
  RSS_HASH_TYPE: 0x1_0001,
  /** VLAN tag control information: u16. */
  VLAN_TCI: 0x1_0002,
  /** VLAN protocol (0x8100, 0x88a8): u16, stored in network byte order as on the wire. */
  VLAN_PROTO: 0x1_0003,
  /** Receive timestamp in nanoseconds: u64. */
  RX_TIMESTAMP: 0x1_0004,
} as const;

/**
 * Where a pool keeps hardware keys: "struct", a fixed 32-byte hints area at the end of each frame
 * with presence bits (in the spirit of the kernel's xdp_rx_meta); "keys", mapped onto application
 * keys 59..63; "off", none (all 64 keys left to applications; hardware keys read as absent and
 * refuse writes).
 */
export type HardwarePlacement = "struct" | "keys" | "off";

/** Value bytes of each hardware key, by index (key - 0x10000). */
export const HARDWARE_SIZES = [4, 4, 2, 2, 8] as const;
/** Placement "keys": hardware key i lives in application key 59 + i. */
export const HARDWARE_FIRST_APP_KEY = 59;
/** Placement "struct": the hints area's size, and each field's offset in it (presence bits: u32 at 0). */
export const HINTS_BYTES = 32;
export const HINT_OFFSETS = [4, 8, 12, 14, 16] as const;
/** Names of the hardware keys, by index, as tools show them. */
export const HARDWARE_NAMES = ["rx_hash", "rss_hash_type", "vlan_tci", "vlan_proto", "rx_timestamp"] as const;

/** The index (0..4) of a hardware key given as a number or a bigint, or -1. */
export function hardwareIndex(key: unknown): number {
  const k = typeof key === "number" ? key : typeof key === "bigint" && key >= 0n && key < 2n ** 53n ? Number(key) : -1;
  const i = k - HardwareKey.RX_HASH;
  return i >= 0 && i < HARDWARE_SIZES.length && Number.isInteger(i) ? i : -1;
}

/** Checks a placement option (default "struct" in pools, "off" in standalone stores); throws EINVAL. */
export function toPlacement(value: unknown, fallback: HardwarePlacement): HardwarePlacement {
  if (value === undefined) return fallback;
  if (value === "struct" || value === "keys" || value === "off") return value;
  throw new TraitsError("EINVAL", `hardwareKeys must be "struct", "keys" or "off", not ${describe(value)}`);
}
