/**
 * The Parquet encoder's thread (a Node worker started by ParquetPacketWriter): batches of packet
 * columns come in, each becomes an Arrow record batch (apache-arrow, in Arrow's IPC form), and
 * parquet-wasm (the Rust Parquet writer of Apache Arrow, compiled to WebAssembly) encodes them into
 * one Parquet stream per file, written as it is made to the file's descriptor (which the writer
 * opened, and commits once told the file has ended). parquet-wasm
 * writes only asynchronously: this thread runs it, so that the writer's callers (a capture loop, the
 * command line) stay synchronous, and encoding overlaps their reading on a second core.
 */
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import { writeAll } from "../capture/io.js";
import * as arrow from "apache-arrow";
import * as parquet from "parquet-wasm";
import type { Batch, Column, Compression } from "./columns.js";

/** What the writer sends: a file begins (its descriptor, its columns and how to encode them), a batch of its rows, the file ends. */
export type EncoderRequest =
  | { type: "file"; fd: number; columns: Column[]; rowGroupRows: number; compression: Compression; createdBy: string }
  | { type: "batch"; batch: Batch }
  | { type: "end" };

/** What the encoder answers: a batch is taken (its slot is free again), the file is written, or an error (`code`: the errno name of a failed write). */
export type EncoderReply = { type: "taken" } | { type: "ended" } | { type: "error"; message: string; code?: string };

/** What the worker gets at its start: this module's URL, the port it answers on, and a word it bumps (and notifies) after each answer. */
export interface EncoderData {
  entry: string;
  port: MessagePort;
  signal: Int32Array;
}

const CODECS: Record<Compression, parquet.Compression> = {
  snappy: parquet.Compression.SNAPPY,
  zstd: parquet.Compression.ZSTD,
  none: parquet.Compression.UNCOMPRESSED,
};

/** The Arrow type of a column (u64 and timestamp values arrive as u32 pairs: the same bytes as 64-bit little-endian words). */
function arrowType(column: Column): arrow.DataType {
  switch (column.type) {
    case "bool":
      return new arrow.Bool();
    case "u8":
      return new arrow.Uint8();
    case "u16":
      return new arrow.Uint16();
    case "u32":
      return new arrow.Uint32();
    case "u64":
      return new arrow.Uint64();
    case "timestamp":
      // No time zone: engines read TIMESTAMP(NANOS) adjusted to UTC as microseconds (DuckDB's TIMESTAMPTZ).
      return new arrow.TimestampNanosecond();
    case "text":
      return new arrow.Utf8();
  }
}

/**
 * An Arrow IPC stream writer into one buffer, reused for every batch (apache-arrow's writer hands
 * each part of a message to _write): a batch makes no garbage, where tableToIPC allocates a buffer
 * of the batch's size, and V8 collects a thread's dead buffers only every 64 MB or so.
 */
class IpcBuffer extends arrow.RecordBatchStreamWriter {
  bytes = new Uint8Array(4 << 20);
  length = 0;

  /** The batch `batch` of `fields` as an IPC stream: a view of the buffer, valid until the next call. */
  encode(fields: arrow.Field[], schema: arrow.Schema, batch: Batch): Uint8Array {
    const children = batch.columns.map((c, i) => {
      const type = fields[i]!.type,
        values =
          type instanceof arrow.Uint64 || type instanceof arrow.Timestamp
            ? new BigUint64Array(c.values.buffer, c.values.byteOffset, batch.rows)
            : c.values;
      return (arrow.makeData as (props: object) => arrow.Data)({
        type,
        length: batch.rows,
        nullCount: c.nulls,
        nullBitmap: c.valid,
        data: values,
        ...(c.offsets && { valueOffsets: c.offsets }),
      });
    });
    const data = arrow.makeData({ type: new arrow.Struct(fields), length: batch.rows, nullCount: 0, children });
    this.reset();
    this.length = 0;
    this.write(new arrow.RecordBatch(schema, data));
    this.finish();
    return this.bytes.subarray(0, this.length);
  }

  protected override _write(chunk: ArrayBufferView): this {
    if (!this._started || chunk.byteLength === 0) return this;
    const n = chunk.byteLength;
    if (this.length + n > this.bytes.length) {
      const grown = new Uint8Array(Math.max(2 * this.bytes.length, this.length + n));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(new Uint8Array(chunk.buffer, chunk.byteOffset, n), this.length);
    this.length += n;
    this._position += n;
    return this;
  }
}

const ipc = new IpcBuffer();

const { port, signal } = workerData as EncoderData;

/** Answers the writer, and wakes it if it waits. */
function reply(message: EncoderReply): void {
  port.postMessage(message);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

/** The file being written: its batches not yet taken by the encoder, and the wake-up of a pull waiting for one. */
let file:
  | { fields: arrow.Field[]; schema: arrow.Schema; queue: Batch[]; ended: boolean; wake: (() => void) | undefined }
  | undefined;

async function encode(request: Extract<EncoderRequest, { type: "file" }>): Promise<void> {
  const fields = request.columns.map((c) => new arrow.Field(c.name, arrowType(c), !c.required));
  const current = { fields, schema: new arrow.Schema(fields), queue: [] as Batch[], ended: false, wake: undefined };
  file = current;
  const batches = new ReadableStream<parquet.RecordBatch>(
    {
      async pull(controller) {
        while (current.queue.length === 0 && !current.ended)
          await new Promise<void>((resolve) => ((current as { wake?: () => void }).wake = resolve));
        const batch = current.queue.shift();
        if (!batch) return controller.close();
        const table = parquet.Table.fromIPCStream(ipc.encode(current.fields, current.schema, batch));
        const recordBatch = table.recordBatch(0)!;
        table.free();
        reply({ type: "taken" });
        controller.enqueue(recordBatch);
      },
    },
    { highWaterMark: 0 },
  );
  const properties = new parquet.WriterPropertiesBuilder()
    .setCompression(CODECS[request.compression])
    // Dictionary encoding costs 5x the time of the rest in parquet-wasm, statistics a third more: only
    // the ordered columns have them (min and max per row group let engines skip row groups by time).
    .setDictionaryEnabled(false)
    .setStatisticsEnabled(parquet.EnabledStatistics.None)
    .setColumnStatisticsEnabled("packet", parquet.EnabledStatistics.Chunk)
    .setColumnStatisticsEnabled("capture_time", parquet.EnabledStatistics.Chunk)
    .setMaxRowGroupSize(request.rowGroupRows)
    .setCreatedBy(request.createdBy)
    .build();
  const bytes = await parquet.transformParquetStream(batches, properties);
  for await (const chunk of bytes as ReadableStream<Uint8Array>) writeAll(request.fd, chunk, 0, chunk.length);
  reply({ type: "ended" });
}

function fail(error: unknown): void {
  const { code, syscall } = (error ?? {}) as NodeJS.ErrnoException;
  reply({
    type: "error",
    message: error instanceof Error ? error.message : String(error),
    ...(typeof code === "string" && typeof syscall === "string" && { code }),
  });
}

// Whatever fails in this thread reaches the writer as an answer: it waits on the signal, not on events.
process.on("uncaughtException", fail);
process.on("unhandledRejection", fail);
parentPort!.on("message", (request: EncoderRequest) => {
  if (request.type === "file") encode(request).catch(fail);
  else if (request.type === "batch") file!.queue.push(request.batch);
  else file!.ended = true;
  file?.wake?.();
});
