/**
 * Packets to Parquet, one row each, synchronously and in bounded memory: rows fill a PacketTable in
 * the caller's thread, in shared memory; every BATCH_ROWS rows the batch goes to the encoder thread
 * (encoder.ts), which writes the Parquet bytes to the output's descriptor as they are made. At most
 * IN_FLIGHT batches wait for the encoder (the caller blocks, rather than buffer more), and parquet-wasm
 * keeps at most a row group.
 * Output never loses data: a file goes through a temporary file renamed into place when complete
 * (capture/io.ts's Output); a folder of parts is written as a temporary folder, renamed into place,
 * or, for a live capture, part by part into the folder, each part published as soon as it is complete.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from "node:worker_threads";
import { TraitsError } from "../core/errors.js";
import { toProfile, type Profile } from "../core/options.js";
import type { KeyName } from "../capture/capture.js";
import { FileError, Output } from "../capture/io.js";
import { BATCH_ROWS, SLOTS } from "./columns.js";
import type { Compression } from "./columns.js";
import type { EncoderData, EncoderReply, EncoderRequest } from "./encoder.js";
import { StoreDecoder } from "./stores.js";
import { type DecodedTraits, type PacketFields, PacketTable } from "./table.js";

/** How a ParquetPacketWriter writes. */
export interface ParquetWriterOptions {
  /** Names (and sizes) of the trait keys, e.g. a KeyRegistry's entries(): each gets a column. Keys 59..63 without a name take the hardware keys' names. */
  names?: readonly KeyName[];
  /** Profile of the trait stores given to write() (default v1). */
  profile?: Profile;
  /** Rows per file: the target becomes a folder of part-00000.parquet, part-00001.parquet, ... (default: one file). */
  rowsPerFile?: number;
  /** Rows per Parquet row group (default 131072). */
  rowGroupRows?: number;
  /** Compression of the column chunks (default "snappy"). */
  compression?: Compression;
  /** The descriptor written for the target "-" (default 1, stdout). */
  stdout?: number;
  /**
   * Write as a live capture does: with rowsPerFile, each part goes into the folder `target` (made if
   * absent; the parts of an earlier capture there are removed first, as tcpdump -w truncates its
   * file) and is published (renamed from its temporary name) as soon as it is complete, so that it
   * can be read while the capture goes on and outlives a crash; abort() keeps the parts published.
   * One file is written through a temporary file as without it (a Parquet file is readable only once
   * complete). Default false.
   */
  live?: boolean;
}

/** A packet to write: its bytes and what the capture says of it. */
export interface PacketRecord {
  /** The captured bytes (a view is enough: they are read during write() only). */
  data: Uint8Array;
  /** Capture time in ns since 1970 (0 to 2^64 - 1); absent if not known (capture_time is then null). */
  timestampNs?: bigint | undefined;
  /** The link type of its interface (pcap LINKTYPE_*, 1 for Ethernet): where the flow's headers are. */
  linkType: number;
  /** Its length on the wire (default data.length). */
  originalLength?: number;
  /** The interface it came in on (default 0), the rx queue and the XDP verdict, if known. */
  interfaceId?: number;
  queue?: number;
  verdict?: number;
  /** Its trait store's bytes, if it has one. */
  traits?: Uint8Array;
}

/** What an export wrote: the rows, and the files (one, or each part of a folder). */
export interface ExportResult {
  rows: number;
  files: string[];
}

/** Batches sent to the encoder and not yet taken, at most (the table fills the next slot meanwhile). */
const IN_FLIGHT = SLOTS - 1;
const ROW_GROUP_ROWS = 131072;

/** The module of the encoder thread: encoder.js beside this module (in dist/export/ and dist/cjs/export/, and from the bundled command line in dist/cli/). */
function encoderEntry(): URL {
  const here = new URL(import.meta.url);
  return new URL(here.pathname.endsWith("/cli/bin.js") ? "../export/encoder.js" : "./encoder.js", here);
}

/**
 * The encoder thread's first code (CommonJS or ES module alike): loads the encoder, or answers why it
 * cannot (the writer, blocked waiting, would not see the worker's error event).
 */
const BOOT = `import("node:worker_threads").then(({ workerData }) =>
  import(workerData.entry).catch((error) => {
    workerData.port.postMessage({ type: "error", message: "cannot load the Parquet encoder: " + error.message });
    Atomics.add(workerData.signal, 0, 1);
    Atomics.notify(workerData.signal, 0);
  }),
);`;
/** The longest wait for an answer of the encoder: past it, the encoder thread is taken as dead. */
const ENCODER_TIMEOUT_MS = 60_000;

/**
 * Writes packets as rows of a Parquet file (or a folder of files), streamed: call write() per packet
 * (or use exportCapture for a whole capture), then close(); on any error, abort() (the target is
 * then untouched). Columns: packet (its index from 0), capture_time (TIMESTAMP in ns, UTC, no time
 * zone), interface, queue, captured_length, original_length, xdp_verdict, the flow the RSS hash
 * reads (src_addr, dst_addr as text, ip_proto, src_port, dst_port), then one column per trait.
 * Node only (a worker thread encodes).
 */
export class ParquetPacketWriter {
  /** @internal The rows being filled. */
  readonly table = new PacketTable();
  private readonly options: Required<Omit<ParquetWriterOptions, "names" | "live">>;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly signal = new Int32Array(new SharedArrayBuffer(4));
  /** The folder of parts being written (a temporary one beside the target, or the target itself when live), or undefined for one file. */
  private readonly folder: string | undefined;
  /** Whether parts are published as each is complete (ParquetWriterOptions.live). */
  private readonly live: boolean;
  /** The file being written, and whether the encoder has begun it (with the first batch). */
  private output: { name: string; out: Output; begun: boolean } | undefined;
  /** The files completed. */
  private readonly files: string[] = [];
  /** Whether the target is written in place (stdout, a FIFO, a device): no temporary file or folder stands for it. */
  readonly inPlace: boolean;
  private sent = 0;
  private taken = 0;
  private rowsInFile = 0;
  private total = 0;
  private closed = false;
  /** The decoding of the packets' trait stores. */
  private stores: StoreDecoder | undefined;

  /**
   * Opens `target` (a file, "-" for stdout, or with rowsPerFile a folder) and starts the encoder.
   * Throws EINVAL for bad options, FileError if the target cannot be written.
   */
  constructor(
    readonly target: string,
    options: ParquetWriterOptions = {},
  ) {
    const rowsPerFile = options.rowsPerFile ?? Number.POSITIVE_INFINITY,
      rowGroupRows = options.rowGroupRows ?? ROW_GROUP_ROWS;
    if (!(rowsPerFile === Number.POSITIVE_INFINITY || (Number.isSafeInteger(rowsPerFile) && rowsPerFile > 0)))
      throw new TraitsError("EINVAL", `rowsPerFile must be a positive integer, not ${rowsPerFile}`);
    if (!Number.isSafeInteger(rowGroupRows) || rowGroupRows <= 0)
      throw new TraitsError("EINVAL", `rowGroupRows must be a positive integer, not ${rowGroupRows}`);
    const compression = options.compression ?? "snappy";
    if (!["snappy", "zstd", "none"].includes(compression))
      throw new TraitsError("EINVAL", `compression must be "snappy", "zstd" or "none", not ${String(compression)}`);
    if (target === "-" && rowsPerFile !== Number.POSITIVE_INFINITY)
      throw new TraitsError("EINVAL", "rows per file need a folder to write, not stdout (-)");
    this.options = {
      profile: toProfile(options.profile),
      rowsPerFile,
      rowGroupRows,
      compression,
      stdout: options.stdout ?? 1,
    };
    this.table.useNames(options.names ?? []);
    this.live = options.live === true && rowsPerFile !== Number.POSITIVE_INFINITY;
    this.folder =
      rowsPerFile === Number.POSITIVE_INFINITY ? undefined : this.live ? liveFolder(target) : temporaryFolder(target);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(BOOT, {
      eval: true,
      // None of the process's flags (--input-type=module would make BOOT a module...): only our code runs there.
      execArgv: [],
      workerData: { entry: encoderEntry().href, port: port2, signal: this.signal } satisfies EncoderData,
      transferList: [port2],
    });
    this.worker.unref();
    try {
      this.startFile();
    } catch (error) {
      this.abort();
      throw error;
    }
    this.inPlace = !this.folder && this.output!.out.temporary === undefined;
  }

  /** Adds a packet as a row. Throws EBADMSG for a corrupt trait store, EINVAL for a trait that has no column (see PacketTable), FileError. */
  write(packet: PacketRecord): void {
    const time = packet.timestampNs;
    if (time !== undefined && (typeof time !== "bigint" || time < 0n || time >= 1n << 64n))
      throw new TraitsError("EINVAL", `timestampNs must be a bigint in 0..2^64 - 1, not ${String(time)}`);
    const fields: PacketFields = {
      interfaceId: packet.interfaceId ?? 0,
      queue: packet.queue ?? -1,
      verdict: packet.verdict ?? -1,
      captured: packet.data.length,
      original: packet.originalLength ?? packet.data.length,
      linkType: packet.linkType,
    };
    const traits = packet.traits && this.decode(packet.traits, 0, packet.traits.length, this.options.profile);
    if (time === undefined) this.add(packet.data, 0, fields, 0, -1, traits);
    else this.add(packet.data, 0, fields, Number(time & 0xffffffffn), Number(time >> 32n), traits);
  }

  /** @internal Adds a row (PacketTable.add), sending the batch when it is full or the file has its rows. */
  add(
    bytes: Uint8Array,
    at: number,
    fields: PacketFields,
    timeLo: number,
    timeHi: number,
    traits?: DecodedTraits,
  ): void {
    if (this.closed) throw new TraitsError("EINVAL", "the writer is closed");
    this.table.add(bytes, at, fields, timeLo, timeHi, traits);
    this.rowsInFile++;
    this.total++;
    if (this.table.rows === BATCH_ROWS || this.rowsInFile === this.options.rowsPerFile) this.send();
    if (this.rowsInFile === this.options.rowsPerFile) {
      this.endFile();
      this.startFile();
    }
  }

  /** @internal Decodes the store bytes[at, at + length) of `profile` (StoreDecoder.decode): its entries, valid until the next call. Throws EBADMSG. */
  decode(bytes: Uint8Array, at: number, length: number, profile: Profile): DecodedTraits {
    return (this.stores ??= new StoreDecoder()).decode(bytes, at, length, profile);
  }

  /** Rows written so far. */
  get rows(): number {
    return this.total;
  }

  /** Writes the last rows and completes the output (renames it into place). Returns what was written. Throws as write() does. */
  close(): ExportResult {
    if (this.closed) throw new TraitsError("EINVAL", "the writer is closed");
    try {
      // The file opened after the last full one stays empty: it is not written.
      if (this.rowsInFile > 0 || this.files.length === 0) this.endFile();
      this.closed = true;
      this.output?.out.abort();
      this.output = undefined;
      this.worker.terminate();
      if (this.folder && !this.live) publishFolder(this.folder, this.target);
    } catch (error) {
      this.abort();
      throw error;
    }
    return {
      rows: this.total,
      files: this.folder ? this.files.map((f) => join(this.target, basename(f))) : this.files,
    };
  }

  /** Gives up: stops the encoder and removes what was written (the target is untouched; when live, the parts published stay). Idempotent. */
  abort(): void {
    this.closed = true;
    this.worker.terminate();
    this.output?.out.abort();
    this.output = undefined;
    if (this.folder && !this.live) rmSync(this.folder, { recursive: true, force: true });
  }

  private request(message: EncoderRequest): void {
    this.worker.postMessage(message);
  }

  private startFile(): void {
    const name = this.folder
      ? join(this.folder, `part-${String(this.files.length).padStart(5, "0")}.parquet`)
      : this.target;
    this.output = { name, out: Output.open(name, this.options.stdout), begun: false };
    this.rowsInFile = 0;
  }

  /** Sends the rows filled to the encoder (the first batch of a file begins it; the first of all fixes the columns). */
  private send(): void {
    const output = this.output!;
    if (!output.begun) {
      this.request({
        type: "file",
        fd: output.out.fd,
        columns: this.table.columns,
        rowGroupRows: this.options.rowGroupRows,
        compression: this.options.compression,
        createdBy: "packet-traits",
      });
      output.begun = true;
    }
    const batch = this.table.take();
    this.request({ type: "batch", batch });
    this.sent++;
    this.answers(() => this.sent - this.taken <= IN_FLIGHT);
  }

  /** Ends the current file: the last rows, the encoder's last bytes, the output committed. */
  private endFile(): void {
    const output = this.output!;
    if (this.table.rows > 0 || !output.begun) this.send();
    this.request({ type: "end" });
    let ended = false;
    this.answers(
      () => ended,
      () => (ended = true),
    );
    output.out.commit();
    this.files.push(output.name);
    this.output = undefined;
  }

  /** Handles the encoder's answers (writing its bytes) until `done()`, blocking while there are none. */
  private answers(done: () => boolean, onEnded?: () => void): void {
    for (;;) {
      const seen = Atomics.load(this.signal, 0);
      for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) {
        const reply = m.message as EncoderReply;
        if (reply.type === "taken") this.taken++;
        else if (reply.type === "ended") onEnded?.();
        else if (reply.code)
          throw FileError.from(
            Object.assign(new Error(reply.message), { code: reply.code, syscall: "write" }),
            `cannot write ${this.target === "-" ? "stdout" : this.target}`,
          );
        else throw new FileError("EIO", `cannot write ${this.target}: the Parquet encoder failed: ${reply.message}`);
      }
      if (done()) return;
      if (Atomics.wait(this.signal, 0, seen, ENCODER_TIMEOUT_MS) === "timed-out")
        throw new FileError(
          "EIO",
          `cannot write ${this.target}: the Parquet encoder thread gave no answer for ${ENCODER_TIMEOUT_MS / 1000} s`,
        );
    }
  }
}

/** A new temporary folder beside `target` for its parts. Throws FileError. */
function temporaryFolder(target: string): string {
  checkFolderTarget(target);
  const folder = join(
    dirname(target),
    `.${basename(target)}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`,
  );
  try {
    mkdirSync(folder);
  } catch (error) {
    throw FileError.from(error, `cannot write ${target}`);
  }
  return folder;
}

const PART = /^part-\d{5,}\.parquet$/;

/** The folder `target` of a live capture's parts: made if absent, emptied of an earlier capture's parts. Throws FileError (EEXIST: see checkFolderTarget). */
function liveFolder(target: string): string {
  checkFolderTarget(target);
  try {
    mkdirSync(target, { recursive: true });
    for (const part of readdirSync(target)) rmSync(join(target, part));
  } catch (error) {
    throw FileError.from(error, `cannot write ${target}`);
  }
  return target;
}

/** Refuses a target that exists and is not a folder of parts (which would be replaced): EEXIST. */
function checkFolderTarget(target: string): void {
  let entries: string[];
  try {
    if (!statSync(target).isDirectory())
      throw new FileError(
        "EEXIST",
        `cannot write ${target}: it exists and is not a folder (rows per file write a folder)`,
      );
    entries = readdirSync(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw FileError.from(error, `cannot write ${target}`);
  }
  const other = entries.find((e) => !PART.test(e));
  if (other !== undefined)
    throw new FileError(
      "EEXIST",
      `cannot write ${target}: the folder holds ${other}, not only part-NNNNN.parquet files (an export would replace them)`,
    );
}

/** Renames the complete folder of parts over `target`, replacing an earlier export's parts. Throws FileError. */
function publishFolder(folder: string, target: string): void {
  const old = `${folder}.old`;
  try {
    checkFolderTarget(target);
    let replaced = false;
    try {
      renameSync(target, old);
      replaced = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    try {
      renameSync(folder, target);
    } catch (error) {
      if (replaced) renameSync(old, target);
      throw error;
    }
    if (replaced) rmSync(old, { recursive: true, force: true });
  } catch (error) {
    throw FileError.from(error, `cannot write ${target}`);
  }
}
