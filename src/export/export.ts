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
  OPT_END,
  PACKET,
  READER_BYTES,
  SHB,
  SPB,
  TRAITS_OPTION,
  TRAITS_PEN,
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

/** pcapng's standard EPB options: the rx queue (u32), and the verdict (a type byte, then for type 2, eBPF XDP, the action as a u64). */
const EPB_QUEUE = 6,
  EPB_VERDICT = 7,
  VERDICT_XDP = 2;

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
  /** The current packet's traits option: [traitsAt, traitsAt + traitsLength), or traitsAt -1. */
  private traitsAt = -1;
  private traitsLength = 0;

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
      this.traitsAt < 0 ? undefined : writer.decode(reader.bytes, this.traitsAt, this.traitsLength, this.profile);
    writer.add(reader.bytes, reader.dataAt, fields, this.time[0]!, timed ? this.time[1]! : -1, traits);
  }

  /** Reads the packet's options (already checked by the reader): queue, verdict and our traits option. */
  private readOptions(): void {
    const { reader, view, fields } = this,
      le = reader.littleEndian;
    fields.queue = fields.verdict = this.traitsAt = -1;
    for (let at = reader.optionsAt, end = reader.optionsEnd; at + 4 <= end; ) {
      const code = view.getUint16(at, le),
        length = view.getUint16(at + 2, le);
      if (code === OPT_END) break;
      if (code === EPB_QUEUE && length === 4) fields.queue = view.getUint32(at + 4, le);
      else if (code === EPB_VERDICT && length === 9 && reader.bytes[at + 4] === VERDICT_XDP) {
        const [lo, hi] = le ? [at + 5, at + 9] : [at + 9, at + 5];
        if (view.getUint32(hi, le) !== 0)
          throw new TraitsError(
            "EBADMSG",
            `its XDP verdict ${view.getBigUint64(at + 5, le)} (epb_verdict) is not an XDP action (a u32)`,
          );
        fields.verdict = view.getUint32(lo, le);
      } else if (code === TRAITS_OPTION && length >= 4 && view.getUint32(at + 4, le) === TRAITS_PEN) {
        this.traitsAt = at + 8;
        this.traitsLength = length - 4;
      }
      at += 4 + length + ((4 - (length % 4)) % 4);
    }
  }
}
