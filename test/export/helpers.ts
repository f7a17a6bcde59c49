// Helpers of the export tests: a real engine (DuckDB) to read what pcap export writes, and captures
// made byte by byte with the traits option and the standard EPB options (queue, verdict).
import { createStore } from "../../src/index.js";
import { block, idb, option } from "../capture/helpers.js";

/** DuckDB, if its native binding loads here: a function running a query, rows as JSON (big integers and times as strings). */
export let query: ((sql: string) => Promise<Array<Record<string, unknown>>>) | undefined;
/** Why DuckDB did not load. */
export let duckdbMissing = "";
try {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const connection = await (await DuckDBInstance.create(":memory:", { threads: "1" })).connect();
  query = async (sql) => (await connection.runAndReadAll(sql)).getRowObjectsJson() as Array<Record<string, unknown>>;
} catch (error) {
  duckdbMissing = String((error as Error).message ?? error).split("\n")[0]!;
}

/** A path as an SQL string literal. */
export const literal = (path: string): string => `'${path.replaceAll("'", "''")}'`;

const PEN = 32473;
const u32 = (x: number, le: boolean): Buffer => {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(x >>> 0);
  else b.writeUInt32BE(x >>> 0);
  return b;
};

/** Our names option (SHB): "traits-keys PROFILE NAME=KEY:LEN ...". */
export const namesOption = (text: string, le = true): Buffer =>
  option(2988, Buffer.concat([u32(PEN, le), Buffer.from(text)]), le);

/** Our traits option (EPB) carrying `store`'s bytes. */
export const traitsOption = (store: Uint8Array, le = true): Buffer =>
  option(2989, Buffer.concat([u32(PEN, le), Buffer.from(store)]), le);

/** A store of `profile` (capacity 64) holding `entries`: [key, value, length] (length 0: a flag). */
export function storeBytes(profile: "v1" | "flags", entries: Array<[number, number | bigint, number]>): Uint8Array {
  const store = createStore(64, { profile, impl: "js" });
  for (const [key, value, length] of entries)
    if (length === 0) store.setFlag(key);
    else store.set(key, value, length);
  return store.bytes().slice();
}

/** epb_queue (code 6): a u32. */
export const queueOption = (queue: number, le = true): Buffer => option(6, u32(queue, le), le);

/** epb_verdict (code 7) of type 2 (eBPF XDP): the action as a u64. */
export const xdpVerdictOption = (action: bigint, le = true): Buffer => {
  const value = Buffer.alloc(9);
  value[0] = 2;
  if (le) value.writeBigUInt64LE(action, 1);
  else value.writeBigUInt64BE(action, 1);
  return option(7, value, le);
};

/** An enhanced packet block on interface `interfaceId`, `ticks` in the interface's resolution. */
export function epbOn(
  interfaceId: number,
  data: Buffer,
  { le = true, ticks = 0n, original = data.length, opts = [] as Buffer[] } = {},
): Buffer {
  const words = [interfaceId, Number(ticks >> 32n), Number(ticks & 0xffffffffn), data.length, original];
  return block(
    6,
    Buffer.concat([
      ...words.map((w) => u32(w, le)),
      data,
      Buffer.alloc((4 - (data.length % 4)) % 4),
      ...(opts.length ? [...opts, u32(0, le)] : []),
    ]),
    le,
  );
}

const padded = (data: Buffer): Buffer => Buffer.concat([data, Buffer.alloc((4 - (data.length % 4)) % 4)]);

/** A simple packet block (little-endian): the original length, the data. */
export const spb = (data: Buffer, original = data.length): Buffer =>
  block(3, Buffer.concat([u32(original, true), padded(data)]));

/** An obsolete packet block (little-endian) of interface 0: the drop count, ticks, lengths (original: 10 more), data, options. */
export function opb(data: Buffer, drops: number, ticks: bigint, opts: Buffer[] = []): Buffer {
  const words = [Number(ticks >> 32n), Number(ticks & 0xffffffffn), data.length, data.length + 10];
  return block(
    2,
    Buffer.concat([
      Buffer.from(new Uint16Array([0, drops]).buffer),
      ...words.map((w) => u32(w, true)),
      padded(data),
      ...(opts.length ? [...opts, u32(0, true)] : []),
    ]),
  );
}

/** An interface description block (Ethernet, little-endian) with snap length `snap`. */
export function idbSnap(snap: number): Buffer {
  const b = idb();
  b.writeUInt32LE(snap, 12);
  return b;
}
