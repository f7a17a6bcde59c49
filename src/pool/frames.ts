/**
 * FramePool: packet frames in one WebAssembly.Memory, laid out like XDP buffers: their layout,
 * heads, data and redirects. PacketPool (pool.ts) adds the batch operations.
 *
 * Frame layout (frameSize bytes, default 2048 like an AF_XDP UMEM chunk):
 *   [ trait store | free headroom | packet data (length bytes) | tailroom ]
 *   ^ frame start (8-aligned)       ^ head: data start = the store's hard end
 */
import { PoolControl, Scratch } from "../core/abi.js";
import type { Core, Impl } from "../core/contract.js";
import { TraitsError } from "../core/errors.js";
import { PROFILE_ID, checkInteger, describe, toImpl, toProfile, type Profile } from "../core/options.js";
import { arenaOf } from "../core/memory.js";
import { coreOf } from "../core/select.js";
import { TraitStore, setHardEnd } from "../store/store.js";
import { HINTS_BYTES, HardwareKey, toPlacement, type HardwarePlacement } from "../store/hardware.js";
import type { KeyLookup } from "../registry/registry.js";

/** Options of a PacketPool. */
export interface PoolOptions {
  /** Number of frames, at least 1. */
  count: number;
  /** Bytes per frame, a multiple of 8 from 64 to 65536; default 2048. */
  frameSize?: number;
  /** Initial data offset in each frame (the store's capacity), 16 to frameSize; default 256 (XDP_PACKET_HEADROOM). */
  headroom?: number;
  /** Memory to place the pool in (several pools may share one); default a new memory of its own. */
  memory?: WebAssembly.Memory;
  /** Store profile; default "v1". */
  profile?: Profile;
  /** Implementation of the store and batch operations; default as for stores. */
  impl?: Impl;
  /** Strict pool: sets accept only keys registered here, with their registered size. */
  registry?: KeyLookup;
  /** Where hardware keys live: "struct" (default: a 32-byte hints area at the end of each frame), "keys" (application keys 59..63) or "off". */
  hardwareKeys?: HardwarePlacement;
}

/** Where a pool lives in its memory: what a worker needs to attach to it. */
export interface PoolLayout {
  memory: WebAssembly.Memory;
  count: number;
  frameSize: number;
  headroom: number;
  profile: Profile;
  hardwareKeys: HardwarePlacement;
  dataEnd: number;
  base: number;
  control: number;
  heads: number;
  lengths: number;
}

/** @internal What a worker's view of a pool is made of: the layout another thread made, this thread's core, scratch and registry. */
export class PoolView {
  constructor(
    readonly layout: PoolLayout,
    readonly core: Core,
    readonly scratch: number,
    readonly registry: KeyLookup | undefined,
  ) {}
}

/** Largest number of bytes a pool may take: WebAssembly memory (wasm32) ends at 4 GiB. */
const MAX_POOL_BYTES = 2 ** 32 - 2 ** 20;
/** Bytes before a pool's scratch: its control block (PoolControl.BYTES), rounded up to keep the scratch 32-byte aligned. */
const CONTROL = 32;

/**
 * Packet frames in WebAssembly memory, each with a trait store at its start (the frame half of
 * PacketPool, which is what applications create). Views it returns (`data`, `frameBytes`, a
 * Burst's arrays) are recreated after memory grows: take them again rather than keeping them
 * across anything that allocates (a new pool, burst or store in the same memory).
 */
export class FramePool {
  readonly memory: WebAssembly.Memory;
  readonly count: number;
  readonly frameSize: number;
  readonly headroom: number;
  readonly profile: Profile;
  /** The registry of a strict pool, if any. */
  readonly registry: KeyLookup | undefined;
  /** Where hardware keys live. */
  readonly hardwareKeys: HardwarePlacement;
  /** Bytes of a frame that packet data may use (frameSize, less the hints area with placement "struct"). */
  readonly dataEnd: number;
  /** Address of frame 0 in memory. */
  readonly base: number;
  /** @internal */ readonly core: Core;
  /** @internal Address of the control block, then the scratch area. */
  readonly control: number;
  private readonly heads: number;
  private readonly lengths: number;
  #u32: Uint32Array;
  private readonly stores: Array<TraitStore | undefined> = [];
  /** Address of this thread's scratch: broadcast values, then a field list (each worker has its own). */
  protected readonly scratch: number;
  /** True in a worker's view of a pool (see PoolView): it must not allocate in the shared memory. */
  protected readonly attached: boolean;

  /** Creates a pool; throws EINVAL for bad options, ENOMEM if the memory cannot hold it. */
  constructor(options: PoolOptions);
  /** @internal A worker's view of a pool another thread laid out: allocates and initialises nothing. */
  constructor(options: PoolOptions, view: PoolView);
  constructor(options: PoolOptions, view?: PoolView) {
    if (view !== undefined) {
      if (!(view instanceof PoolView)) throw new TraitsError("EINVAL", "a pool takes one argument, its options");
      ({ memory: this.memory, count: this.count, frameSize: this.frameSize, headroom: this.headroom, profile: this.profile } = view.layout);
      ({ hardwareKeys: this.hardwareKeys, dataEnd: this.dataEnd, base: this.base, control: this.control, heads: this.heads, lengths: this.lengths } = view.layout);
      ({ core: this.core, registry: this.registry, scratch: this.scratch } = view);
      this.#u32 = new Uint32Array(this.memory.buffer);
      this.attached = true;
      return;
    }
    this.attached = false;
    if (typeof options !== "object" || options === null) throw new TraitsError("EINVAL", `pool options must be an object, not ${describe(options)}`);
    this.count = checkInteger(options.count, "count", 1, 2 ** 24);
    this.frameSize = checkInteger(options.frameSize ?? 2048, "frameSize", 64, 65536);
    if (this.frameSize % 8 !== 0) throw new TraitsError("EINVAL", `frameSize ${this.frameSize} is not a multiple of 8`);
    this.headroom = checkInteger(options.headroom ?? 256, "headroom", 16, this.frameSize);
    if (this.count * this.frameSize > MAX_POOL_BYTES) throw new TraitsError("ENOMEM", `${this.count} frames of ${this.frameSize} bytes do not fit in a 4 GiB WebAssembly memory`);
    this.profile = toProfile(options.profile);
    this.hardwareKeys = toPlacement(options.hardwareKeys, "struct");
    this.dataEnd = this.frameSize - (this.hardwareKeys === "struct" ? HINTS_BYTES : 0);
    if (this.headroom > this.dataEnd) throw new TraitsError("EINVAL", `headroom ${this.headroom} leaves no room for data before the hints area at ${this.dataEnd}`);
    this.registry = options.registry;
    const impl = toImpl(options.impl);
    if (options.memory !== undefined && !(options.memory instanceof WebAssembly.Memory)) throw new TraitsError("EINVAL", `memory must be a WebAssembly.Memory, not ${describe(options.memory)}`);
    this.memory = options.memory ?? new WebAssembly.Memory({ initial: 1, maximum: 65536 });
    this.core = coreOf(this.memory, impl);
    const arena = arenaOf(this.memory);
    this.base = arena.alloc(this.count * this.frameSize, 64);
    this.heads = arena.alloc(4 * this.count, 64);
    this.lengths = arena.alloc(4 * this.count, 64);
    this.control = arena.alloc(CONTROL + Scratch.BYTES, 64);
    this.scratch = this.control + CONTROL;
    this.#u32 = new Uint32Array(this.memory.buffer);
    const words = this.words(), at = this.control >>> 2;
    words[at + (PoolControl.BASE >>> 2)] = this.base;
    words[at + (PoolControl.FRAME_SIZE >>> 2)] = this.frameSize;
    words[at + (PoolControl.COUNT >>> 2)] = this.count;
    words[at + (PoolControl.HEADS >>> 2)] = this.heads;
    words[at + (PoolControl.PROFILE >>> 2)] = PROFILE_ID[this.profile];
    this.words().fill(this.headroom, this.heads >>> 2, (this.heads >>> 2) + this.count);
    this.words().fill(0, this.lengths >>> 2, (this.lengths >>> 2) + this.count);
  }

  /** The pool's layout in its memory, to attach to it in a worker (WorkerGroup does). */
  layout(): PoolLayout {
    const { memory, count, frameSize, headroom, profile, hardwareKeys, dataEnd, base, control, heads, lengths } = this;
    return { memory, count, frameSize, headroom, profile, hardwareKeys, dataEnd, base, control, heads, lengths };
  }

  /** Which implementation runs this pool's operations. */
  get impl(): Impl {
    return this.core.impl;
  }

  /** @internal The memory as u32 words, recreated after growth. */
  words(): Uint32Array {
    if (this.#u32.byteLength !== this.memory.buffer.byteLength) this.#u32 = new Uint32Array(this.memory.buffer);
    return this.#u32;
  }

  /** Throws EINVAL in a worker's view of the pool, which must not allocate: its thread has no say over the shared memory's arena. */
  protected allocating(what: string): void {
    if (this.attached) throw new TraitsError("EINVAL", `${what}(): a worker cannot allocate in the shared memory; use the burst its WorkerGroup gives it`);
  }

  /** Checks a frame index; throws EINVAL. */
  private frameIndex(frame: number): number {
    return checkInteger(frame, "frame", 0, this.count - 1);
  }

  /** Data offset (the store's capacity) of a frame. */
  head(frame: number): number {
    return this.words()[(this.heads >>> 2) + this.frameIndex(frame)]!;
  }

  /** Packet length of a frame. */
  length(frame: number): number {
    return this.words()[(this.lengths >>> 2) + this.frameIndex(frame)]!;
  }

  /** Address of a frame's start (its store) in memory. */
  frameStart(frame: number): number {
    return this.base + this.frameIndex(frame) * this.frameSize;
  }

  /** A view of the whole frame. */
  frameBytes(frame: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, this.frameStart(frame), this.frameSize);
  }

  /** A view of the packet data [head, head + length) of a frame (zero-copy). */
  data(frame: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, this.frameStart(frame) + this.head(frame), this.length(frame));
  }

  /** Sets the packet length; throws EINVAL if head + length would pass the frame's end. */
  setLength(frame: number, length: number): void {
    const head = this.head(frame);
    checkInteger(length, "length", 0, this.dataEnd - head);
    this.words()[(this.lengths >>> 2) + frame] = length;
  }

  /** Copies `packet` into the frame's data area and sets its length; throws EINVAL if it does not fit. */
  write(frame: number, packet: Uint8Array): void {
    if (!(packet instanceof Uint8Array)) throw new TraitsError("EINVAL", `packet must be a Uint8Array, not ${describe(packet)}`);
    this.setLength(frame, packet.length);
    this.data(frame).set(packet);
  }

  /**
   * Moves the data start by `delta` bytes, as bpf_xdp_adjust_head: negative pushes headers into the
   * headroom, positive pulls them off. The store's hard end follows. Returns the new head.
   * Throws ENOSPC if a push would overlap bytes the store uses, EBADMSG if its header is corrupt,
   * EINVAL for a pull past the data's end or a bad delta. On error nothing changes.
   */
  adjustHead(frame: number, delta: number): number {
    const head = this.head(frame), length = this.length(frame);
    checkInteger(delta, "delta", -head, length);
    const next = head + delta;
    const used = this.traits(frame).trySize();
    if (used < 0) this.traits(frame).validate();
    if (next < used) throw new TraitsError("ENOSPC", `adjustHead(${frame}, ${delta}): the data would start at ${next}, over the ${used} bytes the trait store uses`);
    const w = this.words();
    w[(this.heads >>> 2) + frame] = next;
    w[(this.lengths >>> 2) + frame] = length - delta;
    const store = this.stores[frame];
    if (store) setHardEnd(store, next);
    return next;
  }

  /** The trait store of a frame: its capacity is the frame's current head. */
  traits(frame: number): TraitStore {
    let store = this.stores[this.frameIndex(frame)];
    if (!store) {
      const start = this.frameStart(frame);
      store = TraitStore.create({ core: this.core, source: this.memory, start, capacity: this.head(frame), profile: this.profile, registry: this.registry, hardwareKeys: this.hardwareKeys, hints: start + this.frameSize - HINTS_BYTES });
      this.stores[frame] = store;
    }
    return store;
  }

  /**
   * Copies the traits of `frame` to `dstFrame` of `dst` (this pool by default), replacing its traits.
   * Throws EBADMSG if the source is corrupt, ENOSPC if they do not fit before the destination's head,
   * EINVAL if the pools' profiles differ.
   */
  copyTraits(frame: number, dstFrame: number, dst: FramePool = this): void {
    if (!(dst instanceof FramePool)) throw new TraitsError("EINVAL", `dst must be a PacketPool, not ${describe(dst)}`);
    if (dst.profile !== this.profile) throw new TraitsError("EINVAL", `cannot copy traits from a ${this.profile} pool to a ${dst.profile} pool`);
    const size = this.traits(frame).size, room = dst.head(dstFrame);
    if (size > room) throw new TraitsError("ENOSPC", `traits of frame ${frame} take ${size} bytes; frame ${dstFrame} has room for ${room}`);
    dst.frameBytes(dstFrame).set(this.frameBytes(frame).subarray(0, size));
    this.copyHardwareKeys(frame, dstFrame, dst);
  }

  /** Copies the hardware keys that live outside the store (placement "struct") to another frame, in its placement. */
  private copyHardwareKeys(frame: number, dstFrame: number, dst: FramePool): void {
    if (this.hardwareKeys !== "struct" && dst.hardwareKeys !== "struct") return;
    const from = this.traits(frame), to = dst.traits(dstFrame), value = new Uint32Array(2);
    for (const key of Object.values(HardwareKey)) {
      const len = from.tryGet(key, value);
      if (len >= 0) to.trySet(key, value[0]!, value[1]!, len);
      else to.tryDelete(key);
    }
  }

  /**
   * Redirects a packet: copies the data and traits of `frame` to `dstFrame` of `dst` (this pool by
   * default), at the same head, as XDP_REDIRECT keeps metadata. With `move`, the source frame is
   * then emptied (no traits, no data, default head). Throws as copyTraits, and ENOSPC if the
   * packet does not fit the destination frame.
   */
  transfer(frame: number, dstFrame: number, dst: FramePool = this, { move = false }: { move?: boolean } = {}): void {
    if (!(dst instanceof FramePool)) throw new TraitsError("EINVAL", `dst must be a PacketPool, not ${describe(dst)}`);
    const head = this.head(frame), length = this.length(frame);
    dst.frameIndex(dstFrame);
    if (head + length > dst.dataEnd) throw new TraitsError("ENOSPC", `packet of frame ${frame} (head ${head}, ${length} bytes) does not fit a ${dst.frameSize}-byte frame`);
    if (dst.profile !== this.profile) throw new TraitsError("EINVAL", `cannot copy traits from a ${this.profile} pool to a ${dst.profile} pool`);
    const size = this.traits(frame).size;
    if (frame === dstFrame && dst === this) return;
    dst.setHead(dstFrame, head, length);
    dst.frameBytes(dstFrame).set(this.frameBytes(frame).subarray(0, size));
    dst.data(dstFrame).set(this.data(frame));
    this.copyHardwareKeys(frame, dstFrame, dst);
    if (move) this.reset(frame);
  }

  /** Empties a frame: no traits, no hardware keys, no data, the default head. */
  reset(frame: number): void {
    this.setHead(frame, this.headroom, 0);
    this.traits(frame).clear();
    if (this.hardwareKeys === "struct") this.frameBytes(frame).fill(0, this.frameSize - HINTS_BYTES);
  }

  /** Sets head and length of a frame without checks (callers checked them). */
  private setHead(frame: number, head: number, length: number): void {
    const w = this.words();
    w[(this.heads >>> 2) + frame] = head;
    w[(this.lengths >>> 2) + frame] = length;
    const store = this.stores[frame];
    if (store) setHardEnd(store, head);
  }
}
