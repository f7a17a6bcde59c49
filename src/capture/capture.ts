/**
 * Captures, streamed: CaptureReader reads classic pcap (pcap.ts) and pcapng (pcapng.ts), either
 * byte order, one record at a time out of a bounded buffer (record.ts), refilled from a ByteSource in
 * chunks or fed. Every read is bounds-checked: malformed input is an EBADMSG naming its byte offset
 * (and the packet). This module dispatches to the formats and holds what both share beyond the
 * buffer: our options and the timestamps.
 */
import { END, MORE, SHB, TRAITS_OPTION, TRAITS_PEN } from "./format.js";
import { isPcapMagic, readPcapHeader, readPcapRecord } from "./pcap.js";
import { customOption, readBlock } from "./pcapng.js";
import { CaptureBuffer } from "./record.js";
import { mulAdd } from "./time.js";

export * from "./format.js";
export * from "./record.js";
export { keysText, parseKeysText, type KeyName } from "./names.js";
export { writePcap } from "./pcap.js";
export { mulAdd } from "./time.js";

/**
 * Reads a capture record by record through bytes[from, from + READER_BYTES) of a buffer (typically
 * WebAssembly memory, so that records can be copied in place), from `source`, or, without one, from
 * what it is fed: next() then returns MORE when a record is not all in the buffer yet, and the input
 * goes to room() and received() (so that reads can be asynchronous, or chunks pushed as they come).
 * After next() the fields describe the current record; its bytes stay where they are until
 * next(true) or room() (which may move the unread tail to the front of the buffer to make room).
 */
export class CaptureReader extends CaptureBuffer {
  /** "pcap" or "pcapng", known after the first next(). */
  format: "pcap" | "pcapng" | undefined;

  /**
   * Advances to the next record: PACKET (a pcap record, or an EPB, SPB or OPB), BLOCK (any other
   * pcapng block, the SHB and IDBs included), END, or, when the record is not all in the buffer yet,
   * STALL (with a source and `mayMove` false: call again with true once the current records are
   * used) or MORE (without a source: feed it through room() and received(), then call again).
   * Nothing is consumed by STALL or MORE. Throws EBADMSG for a malformed or truncated record.
   */
  next(mayMove: boolean): number {
    if (this.format === undefined) return this.start();
    const need = this.format === "pcap" ? 16 : 12;
    let wait = this.ensure(1, mayMove);
    if (wait !== 0) return wait;
    if (this.filled === this.pos) return END;
    wait = this.ensure(need, mayMove);
    if (wait !== 0) return wait;
    if (this.filled - this.pos < need)
      this.bad(
        this.offsetOf(this.pos),
        this.format === "pcap" ? "truncated pcap record header (16 bytes)" : "truncated block header",
      );
    return this.format === "pcap" ? readPcapRecord(this, mayMove) : readBlock(this, mayMove);
  }

  /** Reads the file header: pcap's 24 bytes, or recognises a pcapng SHB (read as the first BLOCK). */
  private start(): number {
    if (this.ensure(24, true) === MORE) return MORE;
    const left = this.filled - this.pos;
    if (left < 4) this.bad(0, `${left} bytes is too short for a capture`);
    const magic = this.view.getUint32(this.pos, true);
    if (magic === SHB) {
      this.format = "pcapng";
      return this.next(true);
    }
    if (!isPcapMagic(magic))
      this.bad(0, `not a pcap or pcapng capture (magic 0x${magic.toString(16).padStart(8, "0")})`);
    readPcapHeader(this);
    this.format = "pcap";
    return this.next(true);
  }

  /** The value (after the PEN) of our custom option `code` in the current SHB's or packet's options, as a view into the buffer; or undefined. */
  ourOption(code: number): Uint8Array | undefined {
    if (this.type === SHB) return customOption(this, this.at + 24, this.at + this.length - 4, code, TRAITS_PEN);
    if (code !== TRAITS_OPTION) return customOption(this, this.optionsAt, this.optionsEnd, code, TRAITS_PEN);
    // A packet's traits option: found by the reader's check of its options.
    return this.traitsAt < 0 ? undefined : this.bytes.subarray(this.traitsAt, this.traitsAt + this.traitsLength);
  }

  /**
   * Writes the current packet's time in ns since the epoch as a u64 (lo, hi) at out[at], out[at + 1].
   * Throws EBADMSG naming the packet and its byte offset if it is before 1970 or past 2^64 ns.
   */
  timestampNs(out: Uint32Array, at: number): void {
    const iface = this.interfaces[this.interfaceId]!;
    if (this.format === "pcap") {
      if (!mulAdd(0, this.tsHigh, 1e9, this.tsLow * iface.nsPerTick, out, at)) this.outOfRange();
      return;
    }
    if (iface.nsPerTick > 0 && iface.offsetSeconds === 0n) {
      if (!mulAdd(this.tsHigh, this.tsLow, iface.nsPerTick, 0, out, at)) this.outOfRange();
      return;
    }
    const ns = this.timestampBig();
    if (ns < 0n || ns >= 1n << 64n) this.outOfRange();
    out[at] = Number(ns & 0xffffffffn);
    out[at + 1] = Number(ns >> 32n);
  }

  /** The current packet's time in ns since the epoch, exactly (may be out of the u64 range). */
  timestampBig(): bigint {
    const iface = this.interfaces[this.interfaceId]!;
    if (this.format === "pcap") return BigInt(this.tsHigh) * 1_000_000_000n + BigInt(this.tsLow * iface.nsPerTick);
    const ticks = (BigInt(this.tsHigh) << 32n) | BigInt(this.tsLow);
    return (ticks * 1_000_000_000n) / iface.ticksPerSecond + iface.offsetSeconds * 1_000_000_000n;
  }

  private outOfRange(): never {
    this.bad(
      this.offset + (this.format === "pcap" ? 0 : 12),
      `packet ${this.packet}: timestamp ${this.timestampBig()} ns is out of the range of rx_timestamp (0 to 2^64 - 1 ns since 1970)`,
    );
  }
}
