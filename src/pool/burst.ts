/** Burst and DecodeBuffer: the arrays of batch calls, in a pool's WebAssembly memory. */
import { TraitsError } from "../core/errors.js";
import { checkInteger } from "../core/options.js";
import { arenaOf } from "../core/memory.js";
import type { FramePool } from "./frames.js";

/**
 * The arrays of one batch call, in its pool's memory: frame descriptors, a status per frame, and
 * `slots` u64 value slots per frame (as u32 lo/hi pairs in `values`, or as `values64`).
 * Select frames with selectRange or selectFrames before a batch call.
 */
export class Burst {
  /** The pool whose frames the burst selects. */
  readonly pool: FramePool;
  /** Most frames one selection may hold. */
  readonly capacity: number;
  /** u64 value slots per frame. */
  readonly slots: number;
  /** @internal Addresses of the descriptors, statuses and values; the value stride in bytes. */
  readonly desc: number;
  /** @internal */ readonly stat: number;
  /** @internal */ readonly vals: number;
  /** @internal */ readonly stride: number;
  /** True for a view of another burst's arrays (attach): releasing it gives nothing back. */
  readonly #borrowed: boolean;
  // The selection and the lifecycle change through methods only: a length over the capacity would
  // let a batch call write past the burst's arrays.
  #length = 0;
  #first = 0;
  #ranged = true;
  #released = false;

  /** Every field but the selection is frozen: a caller cannot point a burst at other arrays. */
  private constructor(
    pool: FramePool,
    capacity: number,
    slots: number,
    arrays?: Pick<BurstLayout, "desc" | "stat" | "vals">,
  ) {
    this.pool = pool;
    this.capacity = capacity;
    this.slots = slots;
    this.stride = 8 * slots;
    this.#borrowed = arrays !== undefined;
    if (arrays) {
      ({ desc: this.desc, stat: this.stat, vals: this.vals } = arrays);
    } else {
      const arena = arenaOf(pool.memory);
      // Offsets by 64 + 128 bytes keep the arrays off the frames' 4 KiB page offsets (4K aliasing).
      this.desc = arena.alloc(4 * capacity + 64, 64) + 64;
      this.stat = arena.alloc(4 * capacity + 128, 64) + 128;
      this.vals = arena.alloc(8 * slots * capacity + 192, 64) + 192;
    }
    Object.freeze(this);
  }

  /** @internal A burst with arrays of its own in the pool's memory (PacketPool.burst checks the arguments). */
  static allocate(pool: FramePool, capacity: number, slots: number): Burst {
    return new Burst(pool, capacity, slots);
  }

  /** Number of frames selected. */
  get length(): number {
    return this.#length;
  }

  /** @internal First frame of a range selection. */
  get first(): number {
    return this.#first;
  }

  /** @internal True when the selection is a range. */
  get ranged(): boolean {
    return this.#ranged;
  }

  /** True once released: every use then throws EINVAL. */
  get released(): boolean {
    return this.#released;
  }

  /** @internal Throws EINVAL if the burst was released (its arrays may belong to someone else now). */
  checkLive(): void {
    if (this.#released)
      throw new TraitsError("EINVAL", "this burst was released; its arrays may now belong to another burst");
  }

  /** Where the burst's arrays are: to attach to them in a worker, or to a part of them (see part). */
  layout(): BurstLayout {
    return { capacity: this.capacity, slots: this.slots, desc: this.desc, stat: this.stat, vals: this.vals };
  }

  /** @internal A burst over arrays another burst (or thread) allocated: entries from `offset` on, `capacity` of them. */
  static attach(pool: FramePool, layout: BurstLayout, offset = 0, capacity = layout.capacity - offset): Burst {
    const { slots } = layout;
    return new Burst(pool, capacity, slots, {
      desc: layout.desc + 4 * offset,
      stat: layout.stat + 4 * offset,
      vals: layout.vals + 8 * slots * offset,
    });
  }

  /** Selects frames first .. first + n - 1. Throws EINVAL if they are not all in the pool or n > capacity. Returns the burst. */
  selectRange(first: number, n: number): this {
    this.checkLive();
    checkInteger(n, "n", 0, this.capacity);
    checkInteger(first, "first", 0, this.pool.count - n);
    this.#first = first;
    this.#length = n;
    this.#ranged = true;
    return this;
  }

  /**
   * Selects the frames whose indices are in `frames` (copied into the descriptor array), or, without
   * it, the first `n` descriptors already written to `frames()`. Out-of-range indices get EINVAL in
   * their status at the batch call. Returns the burst.
   */
  selectFrames(frames?: ArrayLike<number>, n = frames?.length ?? 0): this {
    this.checkLive();
    checkInteger(n, "n", 0, this.capacity);
    if (frames !== undefined) {
      if (frames.length < n)
        throw new TraitsError("EINVAL", `frames has ${frames.length} entries, fewer than n = ${n}`);
      const d = this.frames();
      for (let i = 0; i < n; i++) d[i] = checkInteger(frames[i], `frames[${i}]`, 0, 0xffffffff);
    }
    this.#length = n;
    this.#ranged = false;
    return this;
  }

  /** The descriptor array (capacity u32 frame indices), a live view. */
  frames(): Uint32Array {
    return this.view(Uint32Array, this.desc, this.capacity);
  }

  /** The status of each selected frame (length, 0/1, count or a negative errno), a live view of `length` entries. */
  status(): Int32Array {
    return this.view(Int32Array, this.stat, this.length);
  }

  /** The value slots as u32 pairs: frame i, slot j at [2 * (i * slots + j)] (lo) and [+1] (hi). A live view. */
  values(): Uint32Array {
    return this.view(Uint32Array, this.vals, 2 * this.slots * this.capacity);
  }

  /** The value slots as u64: frame i, slot j at [i * slots + j]. A live view. */
  values64(): BigUint64Array {
    return this.view(BigUint64Array, this.vals, this.slots * this.capacity);
  }

  /** Gives the arrays back to the memory's arena; the burst must not be used afterwards. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#borrowed) return;
    const arena = arenaOf(this.pool.memory);
    arena.release(this.desc - 64, 4 * this.capacity + 64, 64);
    arena.release(this.stat - 128, 4 * this.capacity + 128, 64);
    arena.release(this.vals - 192, 8 * this.slots * this.capacity + 192, 64);
  }

  private view<T>(
    kind: new (buffer: ArrayBufferLike, offset: number, length: number) => T,
    at: number,
    length: number,
  ): T {
    this.checkLive();
    return new kind(this.pool.memory.buffer, at, length);
  }
}

/** Where a burst's arrays are in its pool's memory. */
export interface BurstLayout {
  capacity: number;
  slots: number;
  desc: number;
  stat: number;
  vals: number;
}

/** Parallel arrays that batchDecode fills: entry i is keys[i], lens[i] and values (u32 pair 2i, 2i+1). */
export class DecodeBuffer {
  /** The memory the arrays live in. */
  readonly memory: WebAssembly.Memory;
  /** Most entries one batchDecode may write. */
  readonly room: number;
  /** @internal */ readonly keysAt: number;
  /** @internal */ readonly lensAt: number;
  /** @internal */ readonly valuesAt: number;
  #count = 0;

  /** Every field is frozen: a room over the arrays' size would let batchDecode write past them. */
  private constructor(memory: WebAssembly.Memory, room: number) {
    this.memory = memory;
    this.room = room;
    const arena = arenaOf(memory);
    this.valuesAt = arena.alloc(8 * room, 64);
    this.keysAt = arena.alloc(room, 8);
    this.lensAt = arena.alloc(room, 8);
    Object.freeze(this);
  }

  /** @internal Arrays for `room` entries in `memory` (PacketPool.decodeBuffer checks the arguments). */
  static allocate(memory: WebAssembly.Memory, room: number): DecodeBuffer {
    return new DecodeBuffer(memory, room);
  }

  /** Entries written by the last batchDecode. */
  get count(): number {
    return this.#count;
  }

  /** @internal Records what a batchDecode wrote (at most room). */
  filled(count: number): number {
    this.#count = count;
    return count;
  }

  /** Keys of the entries (live view of `count`). */
  keys(): Uint8Array {
    return new Uint8Array(this.memory.buffer, this.keysAt, this.#count);
  }

  /** Lengths of the entries (live view of `count`). */
  lens(): Uint8Array {
    return new Uint8Array(this.memory.buffer, this.lensAt, this.#count);
  }

  /** Values of the entries as u32 pairs (live view of 2 * count). */
  values(): Uint32Array {
    return new Uint32Array(this.memory.buffer, this.valuesAt, 2 * this.#count);
  }
}
