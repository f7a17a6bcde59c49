/**
 * A live capture's packets as Parquet rows (`xdp capture --format parquet`): each packet as it is
 * received, from the frame where it lies, with the queue it came in on and its trait store; with
 * rows per file, each part is published in the folder as soon as it is complete (see
 * ParquetWriterOptions.live), so that a capture that runs for days never holds more than a part.
 */
import type { KeyName } from "../capture/capture.js";
import type { Profile } from "../core/options.js";
import { type ExportResult, ParquetPacketWriter } from "./writer.js";
import type { PacketFields } from "./table.js";

/** XDP_REDIRECT: the verdict of every packet an AF_XDP socket receives (its program redirected it there). */
const XDP_REDIRECT = 4;
/** LINKTYPE_ETHERNET: what an interface's frames are. */
const ETHERNET = 1;

/** How a LiveParquetWriter writes. */
export interface LiveParquetOptions {
  /** The names of the trait keys (each gets a column), and the profile of the stores. */
  names: readonly KeyName[];
  profile: Profile;
  /** Rows per part of the folder `target` (default: one file, complete at close()). */
  rowsPerFile?: number | undefined;
  /** The descriptor written for the target "-" (default 1). */
  stdout?: number;
}

/** Rows of a live capture, one a packet, written as they come (see the top of this file). */
export class LiveParquetWriter {
  private readonly writer: ParquetPacketWriter;
  private readonly fields: PacketFields;
  private readonly profile: Profile;

  /** Opens `target` (a file, "-", or with rowsPerFile a folder) and starts the encoder. Throws as ParquetPacketWriter's constructor does. */
  constructor(target: string, options: LiveParquetOptions) {
    this.writer = new ParquetPacketWriter(target, {
      names: options.names,
      profile: options.profile,
      live: true,
      ...(options.rowsPerFile !== undefined && { rowsPerFile: options.rowsPerFile }),
      ...(options.stdout !== undefined && { stdout: options.stdout }),
    });
    this.profile = options.profile;
    this.fields = {
      interfaceId: 0,
      queue: 0,
      verdict: XDP_REDIRECT,
      captured: 0,
      original: 0,
      linkType: ETHERNET,
    };
  }

  /**
   * Adds the packet bytes[dataAt, dataAt + length), received on rx queue `queue` at `timeNs` ns since 1970, whose trait
   * store is bytes[storeAt, storeAt + storeSize) (storeSize < 0: none; its trait columns are null).
   * Throws EBADMSG for a corrupt store, EINVAL for a trait with no column, FileError.
   */
  packet(
    queue: number,
    bytes: Uint8Array,
    dataAt: number,
    length: number,
    timeNs: bigint,
    storeAt: number,
    storeSize: number,
  ): void {
    const { writer, fields } = this;
    fields.queue = queue;
    fields.captured = fields.original = length;
    const traits = storeSize < 0 ? undefined : writer.decode(bytes, storeAt, storeSize, this.profile);
    writer.add(bytes, dataAt, fields, Number(timeNs & 0xffffffffn), Number(timeNs >> 32n), traits);
  }

  /** Writes the last rows and completes the output. Returns what was written. */
  close(): ExportResult {
    return this.writer.close();
  }

  /** Gives up: the parts published stay; the file or part being written is removed. */
  abort(): void {
    this.writer.abort();
  }
}
