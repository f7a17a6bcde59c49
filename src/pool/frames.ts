/**
 * FramePool: packet frames in one WebAssembly.Memory, laid out like XDP buffers: their layout,
 * heads, data and redirects. PacketPool (pool.ts) adds the batch operations; placements.ts says where
 * a frame's store and hardware keys are, and how traits travel between placements.
 *
 * Frame layout (frameSize bytes, default 2048 like an AF_XDP UMEM chunk), placement "frame":
 *   [ trait store | free headroom | packet data (length bytes) | tailroom ]
 *   ^ frame start (8-aligned)       ^ head: data start = the store's hard end
 * placement "metadata" (XDP and AF_XDP: the store is the metadata area right before the packet):
 *   [ free headroom | trait store (metaLength bytes) | packet data (length bytes) | tailroom ]
 *                   ^ head - metaLength (4-aligned)  ^ head
 */
import { PoolControl, Scratch } from "../core/abi.js";
import type { Core, Impl } from "../core/contract.js";
import { TraitsError } from "../core/errors.js";
import { PROFILE_ID, checkInteger, describe, toImpl, toProfile, type Profile } from "../core/options.js";
import { arenaOf } from "../core/memory.js";
import { coreOf } from "../core/select.js";
import { TraitStore, setHardEnd } from "../store/store.js";
import { HINTS_BYTES, toPlacement, type HardwarePlacement } from "../store/hardware.js";
import type { KeyLookup } from "../registry/registry.js";
import {
  applyHardware,
  copyHints,
  copyStore,
  hardwarePlan,
  toStorePlacement,
  type PlacedFrames,
  type StorePlacement,
} from "./placements.js";

export type { StorePlacement } from "./placements.js";

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
  /** Where each frame's store is: "frame" (default: at the frame start, its capacity the head) or "metadata" (the metaLength bytes right before the head, as XDP's metadata area). */
  placement?: StorePlacement;
  /** Placement "metadata": each frame's initial store capacity, a multiple of 4 from 0 to headroom; default 32. */
  metaLength?: number;
}

/** Where a pool lives in its memory: what a worker needs to attach to it. */
export interface PoolLayout {
  memory: WebAssembly.Memory;
  count: number;
  frameSize: number;
  headroom: number;
  profile: Profile;
  hardwareKeys: HardwarePlacement;
  placement: StorePlacement;
  metaLength: number;
  dataEnd: number;
  base: number;
  control: number;
  heads: number;
  lengths: number;
  metas: number;
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
export class FramePool implements PlacedFrames {
  readonly memory: WebAssembly.Memory;
  readonly count: number;
  readonly frameSize: number;
  readonly headroom: number;
  readonly profile: Profile;
  /** The registry of a strict pool, if any. */
  readonly registry: KeyLookup | undefined;
  /** Where hardware keys live. */
  readonly hardwareKeys: HardwarePlacement;
  /** Where each frame's store is. */
  readonly placement: StorePlacement;
  /** Each frame's initial store capacity in placement "metadata" (0 in placement "frame", where it is the head). */
  readonly metaLength: number;
  /** Bytes of a frame that packet data may use (frameSize, less the hints area with placement "struct"). */
  readonly dataEnd: number;
  /** Address of frame 0 in memory. */
  readonly base: number;
  /** @internal */ readonly core: Core;
  /** @internal Address of the control block, then the scratch area. */
  readonly control: number;
  private readonly heads: number;
  private readonly lengths: number;
  /** Address of the u32 store capacities (the heads' address in placement "frame"). */
  private readonly metas: number;
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
      ({
        memory: this.memory,
        count: this.count,
        frameSize: this.frameSize,
        headroom: this.headroom,
        profile: this.profile,
      } = view.layout);
      ({
        hardwareKeys: this.hardwareKeys,
        dataEnd: this.dataEnd,
        base: this.base,
        control: this.control,
        heads: this.heads,
        lengths: this.lengths,
      } = view.layout);
      ({ placement: this.placement, metaLength: this.metaLength, metas: this.metas } = view.layout);
      ({ core: this.core, registry: this.registry, scratch: this.scratch } = view);
      this.#u32 = new Uint32Array(this.memory.buffer);
      this.attached = true;
      return;
    }
    this.attached = false;
    if (typeof options !== "object" || options === null)
      throw new TraitsError("EINVAL", `pool options must be an object, not ${describe(options)}`);
    this.count = checkInteger(options.count, "count", 1, 2 ** 24);
    this.frameSize = checkInteger(options.frameSize ?? 2048, "frameSize", 64, 65536);
    if (this.frameSize % 8 !== 0) throw new TraitsError("EINVAL", `frameSize ${this.frameSize} is not a multiple of 8`);
    this.headroom = checkInteger(options.headroom ?? 256, "headroom", 16, this.frameSize);
    if (this.count * this.frameSize > MAX_POOL_BYTES)
      throw new TraitsError(
        "ENOMEM",
        `${this.count} frames of ${this.frameSize} bytes do not fit in a 4 GiB WebAssembly memory`,
      );
    this.profile = toProfile(options.profile);
    this.hardwareKeys = toPlacement(options.hardwareKeys, "struct");
    this.dataEnd = this.frameSize - (this.hardwareKeys === "struct" ? HINTS_BYTES : 0);
    if (this.headroom > this.dataEnd)
      throw new TraitsError(
        "EINVAL",
        `headroom ${this.headroom} leaves no room for data before the hints area at ${this.dataEnd}`,
      );
    this.placement = toStorePlacement(options.placement);
    if (this.placement === "frame" && options.metaLength !== undefined)
      throw new TraitsError(
        "EINVAL",
        `metaLength is for placement "metadata"; with placement "frame" the store's capacity is the head`,
      );
    this.metaLength =
      this.placement === "frame" ? 0 : checkInteger(options.metaLength ?? 32, "metaLength", 0, this.headroom);
    if (this.metaLength % 4 !== 0)
      throw new TraitsError("EINVAL", `metaLength ${this.metaLength} is not a multiple of 4 (as XDP's metadata area)`);
    if (this.placement === "metadata" && this.headroom % 4 !== 0)
      throw new TraitsError(
        "EINVAL",
        `headroom ${this.headroom} is not a multiple of 4: the store before it would be unaligned`,
      );
    this.registry = options.registry;
    const impl = toImpl(options.impl);
    if (options.memory !== undefined && !(options.memory instanceof WebAssembly.Memory))
      throw new TraitsError("EINVAL", `memory must be a WebAssembly.Memory, not ${describe(options.memory)}`);
    this.memory = options.memory ?? new WebAssembly.Memory({ initial: 1, maximum: 65536 });
    this.core = coreOf(this.memory, impl);
    const arena = arenaOf(this.memory);
    this.base = arena.alloc(this.count * this.frameSize, 4096); // a page: AF_XDP registers the frames as its UMEM from a page boundary
    this.heads = arena.alloc(4 * this.count, 64);
    this.lengths = arena.alloc(4 * this.count, 64);
    this.metas = this.placement === "frame" ? this.heads : arena.alloc(4 * this.count, 64);
    this.control = arena.alloc(CONTROL + Scratch.BYTES, 64);
    this.scratch = this.control + CONTROL;
    this.#u32 = new Uint32Array(this.memory.buffer);
    const words = this.words(),
      at = this.control >>> 2;
    words[at + (PoolControl.BASE >>> 2)] = this.base;
    words[at + (PoolControl.FRAME_SIZE >>> 2)] = this.frameSize;
    words[at + (PoolControl.COUNT >>> 2)] = this.count;
    words[at + (PoolControl.HEADS >>> 2)] = this.heads;
    words[at + (PoolControl.PROFILE >>> 2)] = PROFILE_ID[this.profile];
    words[at + (PoolControl.METAS >>> 2)] = this.metas;
    this.words().fill(this.headroom, this.heads >>> 2, (this.heads >>> 2) + this.count);
    this.words().fill(0, this.lengths >>> 2, (this.lengths >>> 2) + this.count);
    if (this.placement === "metadata")
      this.words().fill(this.metaLength, this.metas >>> 2, (this.metas >>> 2) + this.count);
  }

  /** The pool's layout in its memory, to attach to it in a worker (WorkerGroup does). */
  layout(): PoolLayout {
    const {
      memory,
      count,
      frameSize,
      headroom,
      profile,
      hardwareKeys,
      placement,
      metaLength,
      dataEnd,
      base,
      control,
      heads,
      lengths,
      metas,
    } = this;
    return {
      memory,
      count,
      frameSize,
      headroom,
      profile,
      hardwareKeys,
      placement,
      metaLength,
      dataEnd,
      base,
      control,
      heads,
      lengths,
      metas,
    };
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

  /**
   * @internal A u32 view of the memory that reaches byte `end`: the cached one while it does, without
   * asking the engine for memory.buffer (a call into C++, 50-100 ns); else words(). A grown memory
   * detached the cached view (its length is 0) unless it is shared, where the old view still maps its bytes.
   */
  wordsTo(end: number): Uint32Array {
    return this.#u32.byteLength >= end ? this.#u32 : this.words();
  }

  /** Throws EINVAL in a worker's view of the pool, which must not allocate: its thread has no say over the shared memory's arena. */
  protected allocating(what: string): void {
    if (this.attached)
      throw new TraitsError(
        "EINVAL",
        `${what}(): a worker cannot allocate in the shared memory; use the burst its WorkerGroup gives it`,
      );
  }

  /** Checks a frame index; throws EINVAL. */
  private frameIndex(frame: number): number {
    return checkInteger(frame, "frame", 0, this.count - 1);
  }

  /** Data offset of a frame: where its store ends (in placement "frame", the store's capacity). */
  head(frame: number): number {
    return this.words()[(this.heads >>> 2) + this.frameIndex(frame)]!;
  }

  /** Capacity of a frame's store, which ends at the head: its metadata length (in placement "frame", the head). */
  metaLengthOf(frame: number): number {
    return this.words()[(this.metas >>> 2) + this.frameIndex(frame)]!;
  }

  /** Address of a frame's store in memory: the frame start, or head - metadata length in placement "metadata". */
  storeStart(frame: number): number {
    return this.frameStart(frame) + this.head(frame) - this.metaLengthOf(frame);
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
    if (!(packet instanceof Uint8Array))
      throw new TraitsError("EINVAL", `packet must be a Uint8Array, not ${describe(packet)}`);
    this.setLength(frame, packet.length);
    this.data(frame).set(packet);
  }

  /**
   * Moves the data start by `delta` bytes, as bpf_xdp_adjust_head: negative pushes headers into the
   * headroom, positive pulls them off. In placement "frame" the store's hard end follows; in placement
   * "metadata" the store moves with the data (its bytes are copied, as the kernel moves the metadata).
   * Returns the new head. Throws ENOSPC if a push would overlap bytes the store uses ("frame") or
   * push the store out of the frame ("metadata"), EBADMSG if its header is corrupt ("frame"),
   * EINVAL for a pull past the data's end, a bad delta, or ("metadata") a store start that would not
   * be 4-byte aligned. On error nothing changes.
   */
  adjustHead(frame: number, delta: number): number {
    const head = this.head(frame),
      length = this.length(frame);
    checkInteger(delta, "delta", -head, length);
    const next = head + delta;
    if (this.placement === "metadata") {
      const meta = this.metaLengthOf(frame);
      if (next < meta)
        throw new TraitsError(
          "ENOSPC",
          `adjustHead(${frame}, ${delta}): the data would start at ${next}, leaving no room for the ${meta}-byte metadata area before it`,
        );
      if (delta % 4 !== 0)
        throw new TraitsError(
          "EINVAL",
          `adjustHead(${frame}, ${delta}): the metadata area before the data would start at an offset that is not a multiple of 4`,
        );
      const start = this.frameStart(frame);
      new Uint8Array(this.memory.buffer).copyWithin(start + next - meta, start + head - meta, start + head);
      this.setHead(frame, next, length - delta, meta);
      return next;
    }
    const used = this.traits(frame).trySize();
    if (used < 0) this.traits(frame).validate();
    if (next < used)
      throw new TraitsError(
        "ENOSPC",
        `adjustHead(${frame}, ${delta}): the data would start at ${next}, over the ${used} bytes the trait store uses`,
      );
    this.setHead(frame, next, length - delta, next);
    return next;
  }

  /**
   * Moves the start of a frame's metadata area by `delta` bytes, as bpf_xdp_adjust_meta: negative
   * grows it, positive shrinks it; no byte moves, so after growing, init() the store (its header is
   * whatever the headroom held). Returns the new metadata length. Throws EINVAL in placement "frame",
   * for a delta that is not a multiple of 4, or one that would take the area past the frame start
   * (grow) or below 0 bytes (shrink). On error nothing changes.
   */
  adjustMeta(frame: number, delta: number): number {
    if (this.placement !== "metadata")
      throw new TraitsError(
        "EINVAL",
        `adjustMeta(): the pool's stores are at the frame start (placement "frame"), not in a metadata area`,
      );
    const head = this.head(frame),
      meta = this.metaLengthOf(frame);
    checkInteger(delta, "delta", meta - head, meta);
    if (delta % 4 !== 0)
      throw new TraitsError(
        "EINVAL",
        `adjustMeta(${frame}, ${delta}): delta is not a multiple of 4 (as XDP's metadata area)`,
      );
    this.setHead(frame, head, this.length(frame), meta - delta);
    return meta - delta;
  }

  /** The trait store of a frame: its capacity is the frame's current head, or its metadata length in placement "metadata" (see storeStart). */
  traits(frame: number): TraitStore {
    let store = this.stores[this.frameIndex(frame)];
    if (!store) {
      const start = this.frameStart(frame);
      store = TraitStore.create({
        core: this.core,
        source: this.memory,
        start: this.storeStart(frame),
        capacity: this.metaLengthOf(frame),
        profile: this.profile,
        registry: this.registry,
        hardwareKeys: this.hardwareKeys,
        hints: start + this.frameSize - HINTS_BYTES,
      });
      this.stores[frame] = store;
    }
    return store;
  }

  /**
   * Copies the traits of `frame` to `dstFrame` of `dst` (this pool by default), replacing its traits;
   * the pools' placements may differ. Throws EBADMSG if the source is corrupt, ENOSPC if they do not
   * fit the destination's store, EINVAL if the pools' profiles differ.
   */
  copyTraits(frame: number, dstFrame: number, dst: FramePool = this): void {
    if (!(dst instanceof FramePool)) throw new TraitsError("EINVAL", `dst must be a PacketPool, not ${describe(dst)}`);
    if (dst.profile !== this.profile)
      throw new TraitsError("EINVAL", `cannot copy traits from a ${this.profile} pool to a ${dst.profile} pool`);
    const hardware = hardwarePlan(this, frame, dst, dstFrame, dst.metaLengthOf(dstFrame));
    copyStore(this, frame, dst, dstFrame, this.traits(frame).size);
    copyHints(this, frame, dst, dstFrame);
    applyHardware(dst, dstFrame, hardware);
  }

  /**
   * Redirects a packet: copies the data and traits of `frame` to `dstFrame` of `dst` (this pool by
   * default), at the same head, as XDP_REDIRECT keeps metadata; a "metadata" destination gets the
   * source's store capacity as its metadata length (a "frame" source's store: its used bytes, rounded
   * up to 4). With `move`, the source frame is then emptied (no traits, no data, default head).
   * Throws as copyTraits, and ENOSPC if the packet or the store does not fit the destination frame.
   */
  transfer(frame: number, dstFrame: number, dst: FramePool = this, { move = false }: { move?: boolean } = {}): void {
    if (!(dst instanceof FramePool)) throw new TraitsError("EINVAL", `dst must be a PacketPool, not ${describe(dst)}`);
    const head = this.head(frame),
      length = this.length(frame);
    dst.frameIndex(dstFrame);
    if (head + length > dst.dataEnd)
      throw new TraitsError(
        "ENOSPC",
        `packet of frame ${frame} (head ${head}, ${length} bytes) does not fit a ${dst.frameSize}-byte frame`,
      );
    if (dst.profile !== this.profile)
      throw new TraitsError("EINVAL", `cannot copy traits from a ${this.profile} pool to a ${dst.profile} pool`);
    const size = this.traits(frame).size;
    const meta =
      dst.placement === "frame" ? head : this.placement === "metadata" ? this.metaLengthOf(frame) : (size + 3) & ~3;
    if (dst.placement === "metadata" && (meta > head || head % 4 !== 0))
      throw new TraitsError(
        "ENOSPC",
        `traits of frame ${frame} (${size} bytes) do not fit a 4-aligned metadata area before head ${head}`,
      );
    const hardware = hardwarePlan(this, frame, dst, dstFrame, meta);
    if (frame === dstFrame && dst === this) return;
    dst.setHead(dstFrame, head, length, meta);
    copyStore(this, frame, dst, dstFrame, size);
    copyHints(this, frame, dst, dstFrame);
    dst.data(dstFrame).set(this.data(frame));
    applyHardware(dst, dstFrame, hardware);
    if (move) this.reset(frame);
  }

  /** Empties a frame: no traits, no hardware keys, no data, the default head and metadata length. */
  reset(frame: number): void {
    this.setHead(frame, this.headroom, 0, this.placement === "frame" ? this.headroom : this.metaLength);
    this.traits(frame).clear();
    if (this.hardwareKeys === "struct") this.frameBytes(frame).fill(0, this.frameSize - HINTS_BYTES);
  }

  /**
   * @internal Sets head, length and store capacity (metadata length; the head in placement "frame")
   * of a frame without checks: callers checked them. Its store object follows.
   */
  setHead(frame: number, head: number, length: number, meta: number): void {
    const w = this.words();
    w[(this.heads >>> 2) + frame] = head;
    w[(this.lengths >>> 2) + frame] = length;
    w[(this.metas >>> 2) + frame] = meta;
    const store = this.stores[frame];
    if (store) setHardEnd(store, meta, this.frameStart(frame) + head - meta);
  }
}
