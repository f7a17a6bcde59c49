/** `packet-traits pcap annotate` and `pcap show`: captures in and out, streamed (src/capture/). */
import { toProfile } from "../core/options.js";
import { KeyRegistry } from "../registry/registry.js";
import { annotateInput, annotateRegistry, setting } from "../capture/annotate.js";
import { showCapture } from "../capture/show.js";
import { FileError, TextOut, openInput } from "../capture/io.js";
import { exportInput, type ExportOptions } from "../export/export.js";
import { ParquetPacketWriter } from "../export/writer.js";
import { stopOnSignals, transform } from "./transform.js";
import { UsageError, integer, parse, print, type Io } from "./args.js";

/** The usage text of `pcap`. */
export const PCAP_USAGE = `usage: packet-traits pcap annotate IN OUT [--registry FILE] [--set NAME=VALUE]... [--no-comment] [--profile v1|flags] [-c N]
       packet-traits pcap show FILE [--registry FILE] [--profile v1|flags] [--json] [-c N]
       packet-traits pcap export IN OUT.parquet [--registry FILE] [--profile v1|flags] [--rows-per-file N] [-c N] ...

IN, OUT and FILE may be - for stdin and stdout.`;

/** The usage text of `pcap annotate`. */
export const ANNOTATE_USAGE = `usage: packet-traits pcap annotate IN OUT [--registry FILE] [--set NAME=VALUE]... [--no-comment] [--profile v1|flags] [-c N]

Reads a pcap or pcapng capture (IN, or - for stdin) and writes pcapng (OUT, or - for stdout) whose
packets carry a trait store: packet_id, rx_timestamp, rx_hash and rss_hash_type (and vlan_tci,
vlan_proto) as a NIC would give them, and each --set key; the standard options epb_packetid and
epb_hash repeat packet_id and rx_hash for Wireshark, and a comment the traits (for wireshark/traits.lua).
OUT is written through a temporary file in
its directory, renamed into place when complete: on any error, SIGINT, SIGTERM or SIGHUP it is untouched.
  --registry FILE   key names and sizes (packet_id is registered if absent)
  --set NAME=VALUE  a registry key, to the same value in every packet (decimal or 0x-hex; NAME alone for a flag)
  --no-comment      leave out the "traits: NAME=VALUE ..." comment (smaller, faster; the plugin then shows no traits)
  --profile P       v1 (default) or flags
  -c, --count N     stop after N packets`;

/** The usage text of `pcap show`. */
export const SHOW_USAGE = `usage: packet-traits pcap show FILE [--registry FILE] [--profile v1|flags] [--json] [-c N]

Prints each packet's traits, as it reads them, by name: from --registry, else from the capture's own
names, else the hardware keys' names; other keys by number.
  --json            one JSON object a line: { packet, profile, capacity, size, entries: [{ key, name, length, hex, value }] }
  -c, --count N     stop after N packets`;

/** The usage text of `pcap export`. */
export const EXPORT_USAGE = `usage: packet-traits pcap export IN OUT.parquet [--registry FILE] [--profile v1|flags] [--rows-per-file N] [--row-group N] [--compression snappy|zstd|none] [-c N]

Writes each packet of a pcap or pcapng capture (IN, or - for stdin) as a row of a Parquet file (OUT,
or - for stdout), for DuckDB, Polars, Spark or Trino: packet, capture_time (TIMESTAMP, ns), interface,
queue, captured_length, original_length, xdp_verdict, src_addr, dst_addr, ip_proto, src_port,
dst_port, then one column per trait, by name (from --registry, else the capture's names). OUT is
written through a temporary file (or folder) renamed into place when complete: on any error, SIGINT,
SIGTERM or SIGHUP it is untouched.
  --rows-per-file N   write a folder OUT of files part-00000.parquet, ... of N rows each
  --row-group N       rows per row group (default 131072)
  --compression C     snappy (default), zstd or none
  -c, --count N       stop after N packets`;

const COMMON = {
  registry: { type: "string" },
  profile: { type: "string" },
  count: { type: "string", short: "c" },
} as const;
const ANNOTATE = {
  ...COMMON,
  set: { type: "string", multiple: true },
  comment: { type: "boolean" },
  "no-comment": { type: "boolean" },
} as const;
const SHOW = { ...COMMON, json: { type: "boolean" } } as const;
const EXPORT = {
  ...COMMON,
  "rows-per-file": { type: "string" },
  "row-group": { type: "string" },
  compression: { type: "string" },
} as const;

const count = (text: string | undefined): number =>
  text === undefined ? Infinity : integer(text, "-c", 0, Number.MAX_SAFE_INTEGER);

/**
 * Runs `pcap annotate`; returns the exit code, or a promise of it once the arguments are checked
 * (the capture is read between turns of the event loop, so that SIGINT, SIGTERM and SIGHUP stop it
 * with OUT as it was).
 */
export function annotate(argv: string[], io: Io): number | Promise<number> {
  const p = parse(argv, ANNOTATE, ANNOTATE_USAGE, io);
  if (!p) return 0;
  const { values: v, positionals } = p,
    [input, output] = positionals;
  if (input === undefined || output === undefined || positionals.length > 2)
    throw new UsageError("pcap annotate takes IN OUT");
  const profile = toProfile(v.profile),
    loaded = v.registry === undefined ? undefined : KeyRegistry.load(v.registry);
  if (loaded && loaded.profile !== profile)
    throw new UsageError(`the registry is for profile ${loaded.profile}; pass --profile ${loaded.profile}`);
  const registry = annotateRegistry(loaded, profile),
    limit = count(v.count);
  const sets = (v.set ?? []).map((spec) => setting(spec, registry));
  return transform(input, output, io, (source, sink, signal) =>
    annotateInput(
      source,
      sink,
      {
        profile,
        packetIdKey: registry.lookup("packet_id")!.key,
        sets,
        names: registry.entries(),
        comment: v["no-comment"] !== true,
        limit,
      },
      signal,
    ),
  ).then((packets) => {
    if (output !== "-") print(io.stdout, `annotated ${packets} packets: ${output}\n`);
    return 0;
  });
}

/** Runs `pcap show`; returns the exit code. */
export function show(argv: string[], io: Io): number {
  const p = parse(argv, SHOW, SHOW_USAGE, io);
  if (!p) return 0;
  const { values: v, positionals } = p,
    [input] = positionals;
  if (input === undefined || positionals.length > 1) throw new UsageError("pcap show takes FILE");
  const profile = v.profile === undefined ? undefined : toProfile(v.profile),
    limit = count(v.count);
  const registry =
    v.registry === undefined
      ? undefined
      : new Map(
          KeyRegistry.load(v.registry)
            .entries()
            .map((e) => [e.key, e.name] as const),
        );
  const source = openInput(input, io.stdin),
    out = new TextOut(io.stdout);
  try {
    // What is printed goes out before each read: the first packets show before a slow input ends.
    const flushing = {
      read: (into: Uint8Array, at: number, length: number) => (out.flush(), source.source.read(into, at, length)),
    };
    showCapture(flushing, (text) => out.line(text), {
      ...(registry && { registry }),
      ...(profile && { profile }),
      json: v.json ?? false,
      limit,
    });
    out.flush();
  } catch (error) {
    throw FileError.from(error, "cannot write stdout");
  } finally {
    source.close();
  }
  return 0;
}

/**
 * Runs `pcap export`; returns the exit code, or a promise of it once the arguments are checked (the
 * capture is read between turns of the event loop, so that SIGINT, SIGTERM and SIGHUP stop it with
 * OUT as it was).
 */
export function exportParquet(argv: string[], io: Io): number | Promise<number> {
  const p = parse(argv, EXPORT, EXPORT_USAGE, io);
  if (!p) return 0;
  const { values: v, positionals } = p,
    [input, output] = positionals;
  if (input === undefined || output === undefined || positionals.length > 2)
    throw new UsageError("pcap export takes IN OUT.parquet");
  const compression = v.compression ?? "snappy";
  if (compression !== "snappy" && compression !== "zstd" && compression !== "none")
    throw new UsageError(`--compression must be snappy, zstd or none, not ${JSON.stringify(compression)}`);
  const rowsPerFile =
    v["rows-per-file"] === undefined ? undefined : integer(v["rows-per-file"], "--rows-per-file", 1, 2 ** 53 - 1);
  if (rowsPerFile !== undefined && output === "-")
    throw new UsageError("--rows-per-file writes a folder, not stdout (-)");
  const options: ExportOptions = {
    ...(v.registry !== undefined && { names: KeyRegistry.load(v.registry).entries() }),
    ...(v.profile !== undefined && { profile: toProfile(v.profile) }),
    ...(rowsPerFile !== undefined && { rowsPerFile }),
    ...(v["row-group"] !== undefined && { rowGroupRows: integer(v["row-group"], "--row-group", 1, 2 ** 31 - 1) }),
    compression,
    limit: count(v.count),
    stdout: io.stdout,
  };
  const source = openInput(input, io.stdin);
  // The handlers go in before the temporary file (or folder) exists, and out at once if OUT is written in place.
  const stop = stopOnSignals(output);
  let writer: ParquetPacketWriter;
  try {
    writer = new ParquetPacketWriter(output, options);
    if (writer.inPlace) stop.off();
  } catch (error) {
    stop.off();
    source.close();
    throw error;
  }
  return exportInput(source.input, writer, options, stop.signal)
    .finally(() => {
      stop.off();
      source.close();
    })
    .then((result) => {
      if (output !== "-")
        print(
          io.stdout,
          `exported ${result.rows} packets: ${output}${rowsPerFile === undefined ? "" : ` (${result.files.length} file${result.files.length === 1 ? "" : "s"})`}\n`,
        );
      return 0;
    });
}
