/**
 * The JS twin's view of its memory and the frames a loop runs on: the selected frames of a pool (the
 * batch calls) or one store (setMany and decode of one store). The loops of js-loops.ts read it.
 */
import { PoolControl } from "./abi.js";
import type { BufferSource } from "./contract.js";
import { Fields, unitOf } from "./js-offsets.js";

/**
 * Typed-array views of one memory (recreated when it grows) and the current selection: frame i is
 * i32[desc + i] (desc >= 0) or first + i, frames 0..count-1; its store has capacity caps[metas + frame]
 * and ends at the head caps[heads + frame], at base + frame * frameSize + head. For a pool (see
 * assembly/batch.ts) caps is i32; for one store, `single` holding its capacity, with heads = metas = 0
 * and frameSize 0 (so that it starts at base). unit is the profile's (see js-offsets.ts).
 */
export class JsFrames {
  u8!: Uint8Array;
  u16!: Uint16Array;
  dv!: DataView;
  i32!: Int32Array;
  base = 0;
  frameSize = 0;
  count = 0;
  desc = -1;
  first = 0;
  caps: Int32Array = new Int32Array(1);
  heads = 0;
  metas = 0;
  readonly single = new Int32Array(1);
  unit = unitOf(0);
  /** The field list of setManyLoop, prepared by its caller. */
  readonly fields = new Fields();
  /** What decodeLoop found in the last distinct header: each entry as its offset in the store << 16 | key << 8 | length. */
  readonly memoEntries = new Int32Array(64);

  constructor(private readonly source: BufferSource) {
    this.refresh();
  }

  /** Recreates the views if the memory grew (a detached view has length 0). */
  refresh(): void {
    const buffer = this.source.buffer;
    if (this.u8?.length === buffer.byteLength) return;
    this.u8 = new Uint8Array(buffer);
    this.u16 = new Uint16Array(buffer, 0, buffer.byteLength >>> 1);
    this.dv = new DataView(buffer);
    this.i32 = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
  }

  /**
   * The capacity of a store at `start` the views can reach: `cap`, after recreating them if the memory
   * grew; 0 if the buffer was detached (transferred) or shrank, so that the operation fails with
   * ENOMEM, touching nothing.
   */
  reach(start: number, cap: number): number {
    if (start + cap <= this.u8.length) return cap;
    this.refresh();
    return start + cap <= this.u8.length ? cap : 0;
  }

  /** Selects one store (for a loop of one frame). */
  store(start: number, cap: number, profile: number): void {
    cap = this.reach(start, cap);
    this.base = start;
    this.frameSize = 0;
    this.count = 1;
    this.desc = -1;
    this.first = 0;
    this.single[0] = cap;
    this.caps = this.single;
    this.heads = 0;
    this.metas = 0;
    this.unit = unitOf(profile);
  }

  /** Selects the frames of a batch call from a pool control block (see assembly/batch.ts). */
  pool(pool: number, desc: number, first: number): void {
    this.refresh();
    const i32 = this.i32,
      p = pool >>> 2;
    this.base = i32[p + (PoolControl.BASE >>> 2)]!;
    this.frameSize = i32[p + (PoolControl.FRAME_SIZE >>> 2)]!;
    this.count = i32[p + (PoolControl.COUNT >>> 2)]!;
    this.caps = i32;
    this.heads = i32[p + (PoolControl.HEADS >>> 2)]! >>> 2;
    this.metas = i32[p + (PoolControl.METAS >>> 2)]! >>> 2;
    this.unit = unitOf(i32[p + (PoolControl.PROFILE >>> 2)]!);
    this.desc = desc === 0 ? -1 : desc >>> 2;
    this.first = first;
  }

  /**
   * True if the selection (of a pool, see pool()) is n frames in a row that exist, each store at its frame
   * start (placement "frame"): the per-frame loops of js-fast.ts serve it.
   */
  contiguous(n: number): boolean {
    return this.desc < 0 && this.heads === this.metas && this.first >= 0 && n <= this.count - this.first;
  }

  /**
   * True if 8 frames spread over a contiguous selection of n (the first, the last and 6 between) have
   * stores of 16 bytes or more and the same header: a burst of one flow, which the memo of js-loops.ts
   * serves better than js-fast.ts (as oneFlow in assembly/batch.ts). A guess: both give the same results.
   */
  oneFlow(n: number): boolean {
    if (n < 8) return false;
    const i32 = this.i32,
      w = (this.base + this.first * this.frameSize) >>> 2,
      step = this.frameSize >>> 2,
      c = this.metas + this.first;
    let differ = 0;
    for (let j = 0; j < 8; j++) {
      const i = Math.floor((j * (n - 1)) / 7),
        at = w + i * step;
      if (i32[c + i]! < 16) return false;
      differ |=
        (i32[at]! ^ i32[w]!) |
        (i32[at + 1]! ^ i32[w + 1]!) |
        (i32[at + 2]! ^ i32[w + 2]!) |
        (i32[at + 3]! ^ i32[w + 3]!);
    }
    return differ === 0;
  }
}
