/**
 * Well-known hardware keys: the rx metadata a NIC driver provides (as XDP's rx metadata kfuncs),
 * reached through the same get/set/has/delete as application keys. Their keys lie above the 64
 * application keys (the key space is u64) and are stable: numbers that may also be passed as bigints.
 */
import { Errno, TraitsError } from "../core/errors.js";
import { describe, type Profile } from "../core/options.js";
import type { BufferSource, Core } from "../core/contract.js";

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
/** Placement "struct": each hardware key's offset in the hints area, by index. */
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

/** Index of VLAN_PROTO: its value is stored in network byte order. */
export const VLAN_PROTO = hardwareIndex(HardwareKey.VLAN_PROTO);

/** The hardware-key placement of a store outside a pool: "keys" or "off" ("struct" needs a frame's hints area). */
export function standalonePlacement(value: unknown): HardwarePlacement {
  const placement = toPlacement(value, "off");
  if (placement === "struct")
    throw new TraitsError("EINVAL", `hardwareKeys "struct" needs a pool frame's hints area; use "keys" or "off"`);
  return placement;
}

/** A value's bytes as stored, from its little-endian bytes: VLAN_PROTO (id 64 + its index) reversed to network order. */
export function storedBytes(id: number, littleEndian: Uint8Array): Uint8Array {
  return id === 64 + VLAN_PROTO ? littleEndian.slice().reverse() : littleEndian;
}

function swap16(x: number): number {
  return ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
}

/** What the routing of hardware keys needs of a store (a TraitStore). */
export interface HardwareStore {
  readonly core: Core;
  readonly source: BufferSource;
  readonly start: number;
  readonly capacity: number;
  readonly p: number;
  readonly profile: Profile;
  readonly hardwareKeys: HardwarePlacement;
  readonly hints: number;
}

// The C-style operations on hardware key i of a store, in its placement: "keys" maps it onto
// application key 59 + i, "struct" reads the hints area, "off" has none. Results as the core's.

function hints(s: HardwareStore): DataView {
  return new DataView(s.source.buffer, s.hints, HINTS_BYTES);
}

function present(s: HardwareStore, i: number): boolean {
  return s.hardwareKeys === "struct" && ((hints(s).getUint32(0, true) >>> i) & 1) === 1;
}

/** Bytes hardware key i takes as application key 59 + i (placement "keys"): its size, but 4 for a u16 in profile flags (which has no 2-byte size). */
export function appLength(i: number, profile: Profile): number {
  const size = HARDWARE_SIZES[i]!;
  return size === 2 && profile === "flags" ? 4 : size;
}

const probe = new Uint32Array(2);

/**
 * True if application key 59 + i (placement "keys") holds what a driver would have put there for
 * hardware key i: its length, and for a u16 kept in 4 bytes (profile flags) a value below 2^16.
 * Anything else was written by an application, and does not read as the hardware key.
 */
function driverWrote(i: number, profile: Profile, len: number, lo: number): boolean {
  return len === appLength(i, profile) && (HARDWARE_SIZES[i] !== 2 || lo <= 0xffff);
}

/** 1 or 0; placement "keys": EBADMSG if application key 59 + i holds another length than the hardware key's, or the store's error. */
export function hardwareHas(s: HardwareStore, i: number): number {
  if (s.hardwareKeys !== "keys") return present(s, i) ? 1 : 0;
  const len = s.core.get(s.start, s.capacity, s.p, HARDWARE_FIRST_APP_KEY + i, 8, probe);
  if (len === Errno.ENOENT) return 0;
  return len < 0 ? len : driverWrote(i, s.profile, len, probe[0]!) ? 1 : Errno.EBADMSG;
}

/** The value to out[0] (lo), out[1] (hi); its length, or ENOENT, ENOSPC (longer than outLen), EBADMSG (placement "keys": the key holds another length), or the store's error. */
export function hardwareGet(s: HardwareStore, i: number, outLen: number, out: Uint32Array): number {
  const size = HARDWARE_SIZES[i]!;
  if (s.hardwareKeys === "keys") {
    const len = s.core.get(s.start, s.capacity, s.p, HARDWARE_FIRST_APP_KEY + i, 8, out);
    if (len < 0) return len;
    if (!driverWrote(i, s.profile, len, out[0]!)) return Errno.EBADMSG;
    if (size > outLen) return Errno.ENOSPC;
    if (i === VLAN_PROTO) out[0] = swap16(out[0]!);
    return size;
  }
  if (!present(s, i)) return Errno.ENOENT;
  if (size > outLen) return Errno.ENOSPC;
  const view = hints(s),
    at = HINT_OFFSETS[i]!;
  out[0] = size === 2 ? view.getUint16(at, i !== VLAN_PROTO) : view.getUint32(at, true);
  out[1] = size === 8 ? view.getUint32(at + 4, true) : 0;
  return size;
}

/** Sets it to the low `len` bytes of (hi:lo): 0, or EINVAL (not its size), EOPNOTSUPP (placement off), or the store's error. */
export function hardwareSet(s: HardwareStore, i: number, len: number, lo: number, hi: number): number {
  if (len !== HARDWARE_SIZES[i]) return Errno.EINVAL;
  if (s.hardwareKeys === "off") return Errno.EOPNOTSUPP;
  if (s.hardwareKeys === "keys") {
    return s.core.set(
      s.start,
      s.capacity,
      s.p,
      HARDWARE_FIRST_APP_KEY + i,
      appLength(i, s.profile),
      i === VLAN_PROTO ? swap16(lo) : lo,
      hi,
    );
  }
  const view = hints(s),
    at = HINT_OFFSETS[i]!;
  if (len === 2) view.setUint16(at, lo, i !== VLAN_PROTO);
  else view.setUint32(at, lo, true);
  if (len === 8) view.setUint32(at + 4, hi, true);
  view.setUint32(0, view.getUint32(0, true) | (1 << i), true);
  return 0;
}

/** Removes it: 0, or ENOENT, or the store's error. */
export function hardwareDelete(s: HardwareStore, i: number): number {
  if (s.hardwareKeys === "keys") return s.core.del(s.start, s.capacity, s.p, HARDWARE_FIRST_APP_KEY + i);
  if (!present(s, i)) return Errno.ENOENT;
  const view = hints(s);
  view.setUint32(0, view.getUint32(0, true) & ~(1 << i), true);
  return 0;
}
