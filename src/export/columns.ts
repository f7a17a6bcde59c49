/**
 * The rows of a Parquet export, built column by column in the main thread: one batch of up to
 * BATCH_ROWS packets at a time, in typed arrays that are handed (transferred, not copied) to the
 * encoder thread. 64-bit values are pairs of u32 words (lo, hi), so no bigint is made per packet;
 * nulls are validity bitmaps, as Arrow has them.
 */

/** A column's type: an unsigned integer (Parquet UINT_8..UINT_64), a flag (BOOLEAN), a time in ns (TIMESTAMP(NANOS)), or UTF-8 text. */
export type ColumnType = "bool" | "u8" | "u16" | "u32" | "u64" | "timestamp" | "text";

/** A column of the export: its name and type (every column is nullable but packet and capture_time). */
export interface Column {
  name: string;
  type: ColumnType;
}

/**
 * One column of a batch as the encoder gets it: `values` (u64 and timestamp: u32 pairs, lo first;
 * bool: a bitmap; text: UTF-8 bytes, with `offsets`), and `valid`, a bitmap of the rows that are
 * not null (absent: none is null).
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

/** Rows of a batch: 65536 packets make about 4 MB of columns. */
export const BATCH_ROWS = 65536;

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, i) => i.toString(2).replaceAll("0", "").length);

/** One column of the batch being filled. Rows not set are null. */
export class ColumnBuffer {
  values!: Uint8Array | Uint16Array | Uint32Array;
  valid: Uint8Array | undefined;
  offsets: Int32Array | undefined;
  /** Text: bytes in use, and the last row whose offset is written. */
  private textEnd = 0;
  private textRow = 0;

  constructor(
    readonly column: Column,
    readonly nullable: boolean,
  ) {
    this.reset();
  }

  /** New (zeroed) arrays for a batch. */
  reset(): void {
    const n = BATCH_ROWS,
      { type } = this.column;
    this.values =
      type === "bool"
        ? new Uint8Array(n >> 3)
        : type === "u8"
          ? new Uint8Array(n)
          : type === "u16"
            ? new Uint16Array(n)
            : type === "u32"
              ? new Uint32Array(n)
              : type === "text"
                ? new Uint8Array(16 * n)
                : new Uint32Array(2 * n);
    this.valid = this.nullable ? new Uint8Array(n >> 3) : undefined;
    this.offsets = type === "text" ? new Int32Array(n + 1) : undefined;
    this.textEnd = this.textRow = 0;
  }

  /** Marks row `row` as not null. */
  present(row: number): void {
    this.valid![row >> 3]! |= 1 << (row & 7);
  }

  /** Sets row `row` of a numeric column (u8..u32) to `value` and marks it present. */
  set(row: number, value: number): void {
    this.values[row] = value;
    if (this.valid) this.valid[row >> 3]! |= 1 << (row & 7);
  }

  /** Sets row `row` of a u64 or timestamp column to (hi * 2^32 + lo) and marks it present. */
  set64(row: number, lo: number, hi: number): void {
    this.values[2 * row] = lo;
    this.values[2 * row + 1] = hi;
    if (this.valid) this.valid[row >> 3]! |= 1 << (row & 7);
  }

  /** Sets row `row` of a bool column and marks it present. */
  setFlag(row: number, on: boolean): void {
    if (on) this.values[row >> 3]! |= 1 << (row & 7);
    this.valid![row >> 3]! |= 1 << (row & 7);
  }

  /**
   * Room for `n` more bytes of text in row `row` (rows since the last text row are null): returns
   * the index in `values` to write at; call endText(row, end) after writing.
   */
  text(row: number, n: number): number {
    const offsets = this.offsets!;
    while (this.textRow < row) offsets[++this.textRow] = this.textEnd;
    if (this.textEnd + n > this.values.length) {
      const grown = new Uint8Array(Math.max(2 * this.values.length, this.textEnd + n));
      grown.set(this.values.subarray(0, this.textEnd));
      this.values = grown;
    }
    return this.textEnd;
  }

  /** Ends row `row`'s text at byte `end` and marks it present. */
  endText(row: number, end: number): void {
    this.textEnd = end;
    this.offsets![(this.textRow = row + 1)] = end;
    this.present(row);
  }

  /** The first `rows` rows as a BatchColumn (the arrays are handed over: reset() before the next batch). */
  take(rows: number): BatchColumn {
    const { valid, offsets } = this;
    let nulls = 0;
    if (valid) {
      const full = rows >> 3;
      for (let i = 0; i < full; i++) nulls += 8 - POPCOUNT[valid[i]!]!;
      for (let row = full << 3; row < rows; row++) nulls += (valid[row >> 3]! >> (row & 7)) & 1 ? 0 : 1;
    }
    if (offsets) while (this.textRow < rows) offsets[++this.textRow] = this.textEnd;
    return {
      values: this.values,
      nulls,
      ...(valid && { valid }),
      ...(offsets && { offsets }),
    };
  }
}
