/**
 * `packet-traits/parquet` (Node only): captures and packets as Parquet, the columnar format that
 * DuckDB, Polars, Spark and Trino read. exportCapture writes a whole pcap or pcapng capture, streamed;
 * ParquetPacketWriter takes packets one by one (a live capture), in a file or a folder of parts.
 * Encoding runs in a worker thread (parquet-wasm, Apache Arrow's Rust Parquet writer).
 */
export { exportCapture, exportInput, type ExportOptions } from "./export/export.js";
export {
  ParquetPacketWriter,
  type ExportResult,
  type PacketRecord,
  type ParquetWriterOptions,
} from "./export/writer.js";
export { PACKET_COLUMNS } from "./export/table.js";
export type { Column, ColumnType } from "./export/columns.js";
export type { Compression } from "./export/columns.js";
