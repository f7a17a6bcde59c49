/**
 * A capture to Parquet: every packet of a pcap or pcapng capture (streamed record by record) as a row
 * of a ParquetPacketWriter, with what the capture says of it: its interface, the rx queue (pcapng's
 * epb_queue) and XDP verdict (epb_verdict of type eBPF XDP, or the trait xdp run writes), and its
 * traits by the names of the capture's names option (or a registry's).
 */
import { TraitsError } from "../core/errors.js";
import type { Profile } from "../core/options.js";
import {
  BLOCK,
  CaptureReader,
  END,
  KEYS_OPTION,
  MORE,
  PACKET,
  READER_BYTES,
  SHB,
  SPB,
  parseKeysText,
  type AsyncByteSource,
  type ByteSource,
  type KeyName,
  type StopSignal,
} from "../capture/capture.js";
import { openInput } from "../capture/io.js";
import type { PacketFields } from "./table.js";
import { type ExportResult, ParquetPacketWriter, type ParquetWriterOptions } from "./writer.js";

/** What exportCapture writes (ParquetWriterOptions: names, rows per file, row groups, compression). */
export interface ExportOptions extends ParquetWriterOptions {
  /** Names of keys (a registry's entries()): they win over the capture's names option. */
  names?: readonly KeyName[];
  /** The profile of the stores; default the capture's (from its names option), else v1. */
  profile?: Profile;
  /** Stop after this many packets. */
  limit?: number;
  /** The descriptor read for the input "-" (default 0, stdin). */
  stdin?: number;
}

/**
 * Writes every packet of the capture `input` (a path, "-" for stdin, or a ByteSource) as a row of
 * the Parquet file (or folder, with rowsPerFile) `target`, synchronously. Returns the rows and files
 * written. Throws EBADMSG naming the byte offset and packet of a malformed record or trait store,
 * EINVAL for a trait that has no column, FileError for the files; on any error nothing is left at
 * `target`.
 */
export function exportCapture(input: string | ByteSource, target: string, options: ExportOptions = {}): ExportResult {
  const file = typeof input === "string" ? openInput(input, options.stdin) : undefined;
  try {
    const writer = new ParquetPacketWriter(target, options);
    try {
      new CaptureExport(file?.source ?? (input as ByteSource), writer, options).pump();
      return writer.close();
    } catch (error) {
      writer.abort();
      throw error;
    }
  } finally {
    file?.close();
  }
}

/**
 * Writes every packet of the capture `input` gives as a row of `writer`, reading a chunk at a time
 * so that the event loop turns between chunks (a signal is handled, a pipe waited on without
 * blocking), then closes the writer. Once `signal` aborts, stops at the next read (a read waiting for
 * input at once). Resolves to what close() returns; rejects as exportCapture throws, with the
 * signal's reason, or what the input rejects with, having aborted the writer (its target untouched).
 */
export async function exportInput(
  input: AsyncByteSource,
  writer: ParquetPacketWriter,
  options: ExportOptions = {},
  signal?: StopSignal,
): Promise<ExportResult> {
  try {
    const capture = new CaptureExport(undefined, writer, options),
      { reader } = capture;
    while (capture.pump() === MORE) {
      const length = reader.room(); // first: it may move the unread bytes, and so unreadEnd
      reader.received(await input.read(reader.bytes, reader.unreadEnd, length, signal));
      signal?.throwIfAborted();
    }
    return writer.close();
  } catch (error) {
    writer.abort();
    throw error;
  }
}

/** The rows of a capture, read record by record (from its source, or fed) into a writer. */
class CaptureExport {
  readonly reader: CaptureReader;
  private readonly view: DataView;
  private readonly decoder = new TextDecoder();
  private readonly time = new Uint32Array(2);
  private readonly fields: PacketFields = {
    interfaceId: 0,
    queue: -1,
    verdict: -1,
    captured: 0,
    original: 0,
    linkType: 0,
  };
  private profile: Profile = "v1";

  private count = 0;

  constructor(
    source: ByteSource | undefined,
    private readonly writer: ParquetPacketWriter,
    private readonly options: ExportOptions,
  ) {
    const bytes = Buffer.allocUnsafeSlow(READER_BYTES); // pages are touched only as records fill them
    this.reader = new CaptureReader(source, bytes);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /**
   * Writes the rows of the records the reader holds or its source gives: returns MORE when a reader
   * without a source needs input (feed it, then pump again), or END at the end of the capture or of
   * the packets asked for. Throws what the reader and the writer throw, naming the byte offset and
   * the packet.
   */
  pump(): number {
    const { reader } = this,
      limit = this.options.limit ?? Number.POSITIVE_INFINITY;
    while (this.count < limit) {
      const kind = reader.next(true);
      if (kind === END || kind === MORE) return kind;
      const packet = kind === PACKET;
      try {
        if ((kind === BLOCK && reader.type === SHB) || (reader.format === "pcap" && reader.packet === 0))
          this.section();
        if (!packet) continue;
        this.count++;
        this.packet();
      } catch (error) {
        const message = error instanceof TraitsError ? error.message.replace(/^[A-Z]+: /, "") : "";
        if (!(error instanceof TraitsError) || message.startsWith("byte offset ")) throw error;
        const where = `byte offset ${reader.offset}: ${packet ? `packet ${reader.packet}: ` : ""}`;
        throw new TraitsError(error.code, `${where}${message}`);
      }
    }
    return END;
  }

  /** A new section: its names option (if any) names the keys, the registry's names over them. */
  private section(): void {
    const value = this.reader.format === "pcapng" ? this.reader.ourOption(KEYS_OPTION) : undefined;
    const ours = value && parseKeysText(this.decoder.decode(value));
    this.profile = this.options.profile ?? ours?.profile ?? "v1";
    const names = new Map<number, KeyName>();
    for (const k of [...(ours?.keys ?? []), ...(this.options.names ?? [])]) names.set(k.key, k);
    this.writer.table.useNames([...names.values()]);
  }

  private packet(): void {
    const { reader, fields, writer } = this;
    fields.interfaceId = reader.interfaceId;
    fields.captured = reader.captured;
    fields.original = reader.original;
    fields.linkType = reader.interfaces[reader.interfaceId]!.linkType;
    this.readOptions();
    // A simple packet block has no capture time (null), as it has no options.
    const timed = reader.type !== SPB;
    if (timed) reader.timestampNs(this.time, 0);
    const traits =
      reader.traitsAt < 0 ? undefined : writer.decode(reader.bytes, reader.traitsAt, reader.traitsLength, this.profile);
    writer.add(reader.bytes, reader.dataAt, fields, this.time[0]!, timed ? this.time[1]! : -1, traits);
  }

  /** Reads the packet's queue and XDP verdict from the options the reader found (its check of the options records where they are). */
  private readOptions(): void {
    const { reader, view, fields } = this,
      le = reader.littleEndian,
      queue = reader.queueAt,
      verdict = reader.verdictAt;
    fields.queue = queue < 0 ? -1 : view.getUint32(queue, le);
    fields.verdict = -1;
    if (verdict >= 0) {
      // The action is a u64 after the type octet.
      const lo = le ? verdict + 1 : verdict + 5,
        hi = le ? verdict + 5 : verdict + 1;
      if (view.getUint32(hi, le) !== 0)
        throw new TraitsError(
          "EBADMSG",
          `its XDP verdict ${view.getBigUint64(verdict + 1, le)} (epb_verdict) is not an XDP action (a u32)`,
        );
      fields.verdict = view.getUint32(lo, le);
    }
  }
}
