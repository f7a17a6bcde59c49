/**
 * The Parquet encoder's thread (a Node worker started by ParquetPacketWriter): batches of packet
 * columns come in, each becomes an Arrow record batch (apache-arrow, in Arrow's IPC form), and
 * parquet-wasm (the Rust Parquet writer of Apache Arrow, compiled to WebAssembly) encodes them into
 * one Parquet stream per file, whose bytes go back to the writer as they are made. parquet-wasm
 * writes only asynchronously: this thread runs it, so that the writer's callers (a capture loop, the
 * command line) stay synchronous, and encoding overlaps their reading on a second core.
 */
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import * as arrow from "apache-arrow";
import * as parquet from "parquet-wasm";
import type { Batch, Column } from "./columns.js";

/** What the writer sends: a file begins (its columns and how to encode them), a batch of its rows, the file ends. */
export type EncoderRequest =
  | { type: "file"; columns: Column[]; rowGroupRows: number; compression: Compression; createdBy: string }
  | { type: "batch"; batch: Batch }
  | { type: "end" };

/** What the encoder answers: a batch is taken (its memory may be counted free), bytes of the file, the file is complete, or an error. */
export type EncoderReply =
  | { type: "taken" }
  | { type: "bytes"; bytes: Uint8Array }
  | { type: "ended" }
  | { type: "error"; message: string };

/** Parquet compression codecs offered. */
export type Compression = "snappy" | "zstd" | "none";

/** What the worker gets at its start: the port it answers on, and a word it bumps (and notifies) after each answer. */
export interface EncoderData {
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

/** One batch as an Arrow IPC stream with one record batch. */
function toIpc(fields: arrow.Field[], schema: arrow.Schema, batch: Batch): Uint8Array {
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
  return arrow.tableToIPC(new arrow.Table([new arrow.RecordBatch(schema, data)]), "stream");
}

const { port, signal } = workerData as EncoderData;

function reply(message: EncoderReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

/** The file being written: its batches not yet taken by the encoder, and the wake-up of a pull waiting for one. */
let file:
  | { fields: arrow.Field[]; schema: arrow.Schema; queue: Batch[]; ended: boolean; wake: (() => void) | undefined }
  | undefined;

async function encode(request: Extract<EncoderRequest, { type: "file" }>): Promise<void> {
  const fields = request.columns.map(
    (c) => new arrow.Field(c.name, arrowType(c), c.name !== "packet" && c.name !== "capture_time"),
  );
  const current = { fields, schema: new arrow.Schema(fields), queue: [] as Batch[], ended: false, wake: undefined };
  file = current;
  const batches = new ReadableStream<parquet.RecordBatch>(
    {
      async pull(controller) {
        while (current.queue.length === 0 && !current.ended)
          await new Promise<void>((resolve) => ((current as { wake?: () => void }).wake = resolve));
        const batch = current.queue.shift();
        if (!batch) return controller.close();
        const table = parquet.Table.fromIPCStream(toIpc(current.fields, current.schema, batch));
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
    // Dictionary encoding costs 5x the time of the rest in parquet-wasm (bench/pipeline.js --export); chunk statistics let engines skip row groups.
    .setDictionaryEnabled(false)
    .setStatisticsEnabled(parquet.EnabledStatistics.Chunk)
    .setMaxRowGroupSize(request.rowGroupRows)
    .setCreatedBy(request.createdBy)
    .build();
  const bytes = await parquet.transformParquetStream(batches, properties);
  for await (const chunk of bytes as ReadableStream<Uint8Array>) {
    const whole = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength;
    reply({ type: "bytes", bytes: chunk }, whole ? [chunk.buffer as ArrayBuffer] : []);
  }
  reply({ type: "ended" });
}

function fail(error: unknown): void {
  reply({ type: "error", message: error instanceof Error ? error.message : String(error) });
}

parentPort!.on("message", (request: EncoderRequest) => {
  if (request.type === "file") encode(request).catch(fail);
  else if (request.type === "batch") file!.queue.push(request.batch);
  else file!.ended = true;
  file?.wake?.();
});
