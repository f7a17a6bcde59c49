/** A trait store as people and tools read it: rows of key, name, length and value, as a table, JSON or a capture comment. */
import type { TraitStore } from "../store/store.js";
import { HARDWARE_FIRST_APP_KEY, HARDWARE_NAMES } from "../store/hardware.js";

/** One entry of a store: key, name ("" if unknown), length, value as hex (as stored) and as an unsigned decimal. */
export interface Row {
  key: number;
  name: string;
  length: number;
  hex: string;
  value: string;
}

const VLAN_PROTO_KEY = HARDWARE_FIRST_APP_KEY + HARDWARE_NAMES.indexOf("vlan_proto");

/**
 * The entries of a store as rows: values as unsigned integers, little-endian (the VLAN protocol, kept
 * in network order in its first two bytes, big-endian). Throws EBADMSG for a corrupt store.
 */
export function storeRows(store: TraitStore, names: ReadonlyMap<number, string>): Row[] {
  return store.keys().map((key) => {
    const bytes = store.getBytes(key)!,
      bigEndian = key === VLAN_PROTO_KEY && names.get(key) === "vlan_proto";
    const value =
      bytes.length === 0
        ? ""
        : String(
            (bigEndian ? bytes.subarray(0, 2) : bytes.slice().reverse()).reduce((v, b) => (v << 8n) | BigInt(b), 0n),
          );
    return { key, name: names.get(key) ?? "", length: bytes.length, hex: Buffer.from(bytes).toString("hex"), value };
  });
}

/** Rows as an aligned text table with a header line. */
export function rowsTable(rows: readonly Row[]): string {
  const head = ["key", "name", "length", "hex", "unsigned"],
    body = rows.map((r) => [String(r.key), r.name, String(r.length), r.hex, r.value]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body]
    .map((cells) =>
      cells
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** CRC-32 (IEEE 802.3, as zlib's crc32) lookup table. */
const CRC_TABLE = Int32Array.from({ length: 256 }, (_, i) => {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

/** The CRC-32 of an ASCII string's bytes (zlib's crc32), as 8 hex digits. */
function crc32Hex(text: string): string {
  let c = -1;
  for (let i = 0; i < text.length; i++) c = CRC_TABLE[(c ^ text.charCodeAt(i)) & 0xff]! ^ (c >>> 8);
  return ((c ^ -1) >>> 0).toString(16).padStart(8, "0");
}

/**
 * Rows as the EPB comment annotate writes with --comment (and the Wireshark plugin parses):
 * "traits: NAME=VALUE ... crc32:XXXXXXXX", a key without a name as its number, 2- and 4-byte values
 * in 0x-hex, 8-byte values in decimal, flags as NAME alone, and last the CRC-32 (zlib's) of the text
 * before " crc32:" (ASCII: names are [a-z0-9_.-]), in 8 hex digits: how the plugin, which cannot see
 * the binary option this comment follows, tells it from a user's own "traits: ..." comment.
 */
export function commentText(rows: readonly Row[]): string {
  const body = `traits:${rows
    .map((r) => {
      const name = r.name || String(r.key);
      if (r.length === 0) return ` ${name}`;
      return ` ${name}=${r.length === 8 ? r.value : `0x${BigInt(r.value).toString(16)}`}`;
    })
    .join("")}`;
  return `${body} crc32:${crc32Hex(body)}`;
}
