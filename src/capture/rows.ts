/** A trait store as people read it: rows of key, name, length and value, as a table or JSON. */
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
