/**
 * The rows of a Parquet export, built column by column in the main thread: one batch of up to
 * BATCH_ROWS packets at a time, in typed arrays in shared memory that the encoder thread reads. 64-bit
 * values are pairs of u32 words (lo, hi), so no bigint is made per packet; nulls are validity
 * bitmaps, as Arrow has them.
 */

/** A column's type: an unsigned integer (Parquet UINT_8..UINT_64), a flag (BOOLEAN), a time in ns (TIMESTAMP(NANOS)), or UTF-8 text. */
export type ColumnType = "bool" | "u8" | "u16" | "u32" | "u64" | "timestamp" | "text";

/** A column of the export: its name, its type, and whether every row has a value (Parquet REQUIRED: no null, no definition levels to write). */
export interface Column {
  name: string;
  type: ColumnType;
  required?: boolean;
}

/**
 * One column of a batch as the encoder gets it: `values` (u64 and timestamp: u32 pairs, lo first;
 * bool: a bitmap; text: UTF-8 bytes, row i at [offsets[i], offsets[i + 1])), and `valid`, a bitmap
 * of the rows that are not null (absent: none is null).
 */
export interface BatchColumn {
  values: Uint8Array | Uint16Array | Uint32Array;
  offsets?: Int32Array;
  valid?: Uint8Array;
  nulls: number;
}

/** A batch of rows as the encoder gets it. */
export interface Batch {
  rows: number;
  columns: BatchColumn[];
}

/** Rows of a batch: 32768 packets make about 2 MB of columns. */
export const BATCH_ROWS = 32768;
/**
 * Batches filled or in flight at once. Each has its arrays, allocated once in shared memory: they go
 * to the encoder neither copied nor transferred (a transfer detaches a buffer, and from the first
 * detached buffer on, V8 checks every typed array access of the thread: a loop over typed arrays ran
 * 2.2x slower after one in Node 20).
 */
export const SLOTS = 3;

const shared = (bytes: number) => new SharedArrayBuffer(bytes);
const EMPTY_BYTES = new Uint8Array(0),
  EMPTY_U16 = new Uint16Array(0),
  EMPTY_U32 = new Uint32Array(0),
  EMPTY_OFFSETS = new Int32Array(0),
  EMPTY_VIEW = new DataView(new ArrayBuffer(0));
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, i) => i.toString(2).replaceAll("0", "").length);

/**
 * One column of the batch being filled, in the typed array of its type (the others stay empty, so
 * that every access site sees one kind of array). Rows not set are null.
 */
export class ColumnBuffer {
  /** u8, bool (a bitmap) and text values. */
  bytes: Uint8Array = EMPTY_BYTES;
  u16: Uint16Array = EMPTY_U16;
  /** u32 values, and u64 and timestamp values as (lo, hi) pairs. */
  u32: Uint32Array = EMPTY_U32;
  /** The bitmap of rows that are not null (empty for a column without nulls). */
  valid: Uint8Array = EMPTY_BYTES;
  /** Text: where each row starts (row i ends where row i + 1 starts). */
  offsets: Int32Array = EMPTY_OFFSETS;
  /** Text: a view of `bytes`, to write text a word at a time. */
  view: DataView = EMPTY_VIEW;
  /** Text: bytes in use, and the last row whose end is written. */
  private textEnd = 0;
  private textRow = 0;
  /** Each slot's arrays, and the slot in use. */
  private readonly slots: BatchColumn[] = [];
  private slot = 0;

  constructor(
    readonly column: Column,
    readonly nullable: boolean,
  ) {
    this.reset(0);
  }

  /** Begins a batch in the arrays of slot `slot` (made on first use; the encoder must be done with them). */
  reset(slot: number): void {
    const arrays = (this.slots[slot] ??= this.allocate()),
      { type } = this.column;
    this.slot = slot;
    this.textEnd = this.textRow = 0;
    if (arrays.valid) this.valid = arrays.valid.fill(0);
    if (type === "u16") this.u16 = arrays.values as Uint16Array;
    else if (type === "u32" || type === "u64" || type === "timestamp") this.u32 = arrays.values as Uint32Array;
    else if (type === "bool") this.bytes = (arrays.values as Uint8Array).fill(0);
    else this.bytes = arrays.values as Uint8Array;
    if (arrays.offsets) {
      this.offsets = arrays.offsets;
      this.view = new DataView(this.bytes.buffer);
    }
  }

  private allocate(): BatchColumn {
    const n = BATCH_ROWS,
      { type } = this.column;
    const values =
      type === "u16"
        ? new Uint16Array(shared(2 * n))
        : type === "u32"
          ? new Uint32Array(shared(4 * n))
          : type === "u64" || type === "timestamp"
            ? new Uint32Array(shared(8 * n))
            : new Uint8Array(shared(type === "bool" ? n >> 3 : type === "u8" ? n : 16 * n));
    return {
      values,
      nulls: 0,
      ...(this.nullable && { valid: new Uint8Array(shared(n >> 3)) }),
      ...(type === "text" && { offsets: new Int32Array(shared(4 * (n + 1))) }),
    };
  }

  /** Marks row `row` as not null. */
  present(row: number): void {
    this.valid[row >> 3]! |= 1 << (row & 7);
  }

  /** Sets row `row` of a u8 column. */
  setU8(row: number, value: number): void {
    this.bytes[row] = value;
    this.valid[row >> 3]! |= 1 << (row & 7);
  }

  /** Sets row `row` of a u16 column. */
  setU16(row: number, value: number): void {
    this.u16[row] = value;
    this.valid[row >> 3]! |= 1 << (row & 7);
  }

  /** Sets row `row` of a u32 column (marked present if the column is nullable). */
  setU32(row: number, value: number): void {
    this.u32[row] = value;
    if (this.nullable) this.valid[row >> 3]! |= 1 << (row & 7);
  }

  /** Sets row `row` of a u64 or timestamp column to (hi * 2^32 + lo) (marked present if the column is nullable). */
  set64(row: number, lo: number, hi: number): void {
    this.u32[2 * row] = lo;
    this.u32[2 * row + 1] = hi;
    if (this.nullable) this.valid[row >> 3]! |= 1 << (row & 7);
  }

  /** Sets row `row` of a bool column. */
  setFlag(row: number, on: boolean): void {
    if (on) this.bytes[row >> 3]! |= 1 << (row & 7);
    this.valid[row >> 3]! |= 1 << (row & 7);
  }

  /**
   * Room for `n` more bytes of text in row `row` (rows since the last text row are null): returns
   * the index in `bytes` (and `view`) to write at; call endText(row, end) after writing.
   */
  text(row: number, n: number): number {
    const offsets = this.offsets;
    while (this.textRow < row) offsets[++this.textRow] = this.textEnd;
    if (this.textEnd + n > this.bytes.length) {
      const grown = new Uint8Array(shared(Math.max(2 * this.bytes.length, this.textEnd + n)));
      grown.set(this.bytes.subarray(0, this.textEnd));
      this.bytes = this.slots[this.slot]!.values = grown;
      this.view = new DataView(grown.buffer);
    }
    return this.textEnd;
  }

  /** Ends row `row`'s text at byte `end` and marks it present. */
  endText(row: number, end: number): void {
    this.textEnd = end;
    this.offsets[(this.textRow = row + 1)] = end;
    this.valid[row >> 3]! |= 1 << (row & 7);
  }

  /** The first `rows` rows as a BatchColumn (over the slot's arrays: reset() another slot for the next batch). */
  take(rows: number): BatchColumn {
    const arrays = this.slots[this.slot]!,
      { valid } = this;
    let nulls = 0;
    if (this.nullable) {
      const full = rows >> 3;
      for (let i = 0; i < full; i++) nulls += 8 - POPCOUNT[valid[i]!]!;
      for (let row = full << 3; row < rows; row++) nulls += (valid[row >> 3]! >> (row & 7)) & 1 ? 0 : 1;
    }
    if (this.column.type === "text") while (this.textRow < rows) this.offsets[++this.textRow] = this.textEnd;
    return { ...arrays, nulls };
  }
}

/** Parquet compression codecs offered. */
export type Compression = "snappy" | "zstd" | "none";
