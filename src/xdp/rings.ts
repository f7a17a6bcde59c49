/**
 * The user side of an AF_XDP socket's rings, over any memory (XskSocket's mapping of the kernel's
 * rings, or plain buffers in a test): Ring (one ring's producer, consumer, flags and entries),
 * ringSizes and XskRings (the four rings over a pool's frames, every descriptor checked and every
 * frame's owner tracked). Not exported by packet-traits/xdp.
 */
import { Errno, TraitsError } from "../core/errors.js";
import type { Burst } from "../pool/burst.js";
import type { PacketPool } from "../pool/pool.js";
import { BpfError } from "./errors.js";

/** The flag the kernel sets in a ring's flags word when it needs a syscall to go on (XDP_RING_NEED_WAKEUP). */
const XDP_RING_NEED_WAKEUP = 1;
/** Where the kernel puts packet data in a frame it fills in copy mode (the UMEM has no headroom of its own). */
export const XDP_PACKET_HEADROOM = 256;

/**
 * One ring of an AF_XDP socket (XskSocket's; not exported by packet-traits/xdp), over any memory (the socket's mapping, or a plain buffer in
 * a test): its producer and consumer words and its entries, read as u32 words. Offsets are in bytes.
 */
export class Ring {
  readonly words: Uint32Array;
  private readonly producerAt: number;
  private readonly consumerAt: number;
  /** Index in `words` of the first entry. */
  readonly descAt: number;
  private readonly flagsAt: number;

  /** `flagsAt`: where the kernel's flags word is (XDP_RING_NEED_WAKEUP); -1 for none (a wakeup is then always asked for). */
  constructor(
    buffer: ArrayBuffer,
    readonly size: number,
    producerAt: number,
    consumerAt: number,
    descAt: number,
    flagsAt = -1,
  ) {
    this.words = new Uint32Array(buffer);
    this.producerAt = producerAt >>> 2;
    this.consumerAt = consumerAt >>> 2;
    this.descAt = descAt >>> 2;
    this.flagsAt = flagsAt < 0 ? -1 : flagsAt >>> 2;
  }
  get producer(): number {
    return Atomics.load(this.words, this.producerAt);
  }
  set producer(value: number) {
    Atomics.store(this.words, this.producerAt, value >>> 0);
  }
  get consumer(): number {
    return Atomics.load(this.words, this.consumerAt);
  }
  set consumer(value: number) {
    Atomics.store(this.words, this.consumerAt, value >>> 0);
  }
  /** Entries between consumer and producer. */
  get filled(): number {
    return (this.producer - this.consumer) >>> 0;
  }
  /** True when the kernel asks for a syscall to go on with this ring (XDP_RING_NEED_WAKEUP; always true without a flags word). */
  get needsWakeup(): boolean {
    return this.flagsAt < 0 || (Atomics.load(this.words, this.flagsAt) & XDP_RING_NEED_WAKEUP) !== 0;
  }
}

/**
 * The entries of each of a socket's rings for its `ringSize`: the fill ring twice the others. The
 * kernel publishes a packet on the rx ring before it publishes having taken its frame from the fill
 * ring (xsk_flush: the rx producer, then the fill consumer), so a frame received and given straight
 * back could find a fill ring of `ringSize` full for that instant (release(): ENOSPC, seen at 1.2
 * Mpps). Twice the size leaves room for every frame the rx ring can hold on top of those the fill
 * ring holds; xdpsock sizes its fill ring the same way.
 */
export function ringSizes(ringSize: number): { fill: number; completion: number; rx: number; tx: number } {
  return { fill: 2 * ringSize, completion: ringSize, rx: ringSize, tx: ringSize };
}

/** Which of a pool's frames a socket's rings use (XskRings): [first, first + count), and the frame at the UMEM's address 0. */
export interface XskSpan {
  first: number;
  count: number;
  umemFirst: number;
}

/** Where a frame is: the user's (received, reclaimed, or never given), or the kernel's (fill/rx ring, tx ring). */
const USER = 0,
  KERNEL_RX = 1,
  KERNEL_TX = 2,
  /** During receive(): taken by a descriptor of this batch (a second one for the same frame is refused). */
  CLAIMED = 3;
/**
 * The word written before the expected metadata area and at its start when a frame goes to the fill
 * ring (see XskRings.receive). As the first word of a store it would declare keys 0..31 with at least
 * 4 bytes each: no store of a metadata area (at most 252 bytes) of a program that declares them so.
 */
const MARK = 0xffffffff;

/**
 * The user side of an AF_XDP socket's four rings over a pool's frames (not exported by
 * packet-traits/xdp: XskSocket drives it
 * on the socket's mapped rings; tests drive it on rings in plain memory). Every descriptor the kernel
 * writes is checked before use, and every frame's owner (the user, the kernel's fill/rx side, its tx
 * side) is tracked, so that a frame is never handed out or given back twice.
 */
export class XskRings {
  /** Each frame's owner (USER, KERNEL_RX, KERNEL_TX). */
  private readonly owner: Uint8Array;
  /** receive()'s descriptors as checked, before anything changes: frame, head and length of each. */
  private taken = new Uint32Array(0);
  private heads = new Uint32Array(0);
  private lengths = new Uint32Array(0);

  /**
   * `name` says which socket in messages ("eth0 queue 0"); `wake()` asks the kernel to transmit and
   * returns 0, or the errno of a failed wakeup; `headroom` is where the kernel puts packet data in a
   * frame (XDP_PACKET_HEADROOM); `span` the frames of the pool these rings use (default all, the
   * UMEM starting at frame 0): a descriptor of another frame is refused.
   */
  constructor(
    readonly pool: PacketPool,
    readonly rx: Ring,
    readonly fill: Ring,
    readonly tx: Ring,
    readonly completion: Ring,
    private readonly name: string,
    private readonly wake: () => number,
    private readonly headroom = XDP_PACKET_HEADROOM,
    readonly span: XskSpan = { first: 0, count: pool.count, umemFirst: 0 },
  ) {
    this.owner = new Uint8Array(pool.count);
  }

  /** Gives the span's first n frames to the fill ring (at open). */
  fillFirst(n: number): void {
    const words = this.marking();
    for (let k = 0; k < n; k++) this.give(this.span.first + k, k, words);
    this.fill.producer = this.fill.producer + n;
    this.given = n;
  }

  /** How many of the span's frames are not the kernel's to fill: received and not released, or sent and not reclaimed. */
  held(): number {
    const { first, count } = this.span;
    let n = 0;
    for (let f = first; f < first + count; f++) if (this.owner[f] !== KERNEL_RX) n++;
    return n - (count - this.given);
  }
  /** Frames given to the fill ring at open (the span's others were never the kernel's). */
  private given = 0;

  /** The pool's memory as words, to mark frames with (the view is taken per call: the memory may have grown). */
  private marking(): Uint32Array {
    return new Uint32Array(this.pool.memory.buffer);
  }

  /**
   * Writes frame `frame`'s chunk address at the fill ring's producer + k (published by the caller),
   * marks the words before and at the start of the metadata area the kernel will copy before the
   * packet, and makes the frame the kernel's.
   */
  private give(frame: number, k: number, words: Uint32Array): void {
    const { fill, pool } = this,
      at = fill.descAt + 2 * ((fill.producer + k) & (fill.size - 1)),
      chunk = (frame - this.span.umemFirst) * pool.frameSize,
      store = (pool.frameStart(frame) + this.headroom - pool.metaLength) >>> 2;
    fill.words[at] = chunk >>> 0;
    fill.words[at + 1] = Math.floor(chunk / 2 ** 32);
    if (store > 0) words[store - 1] = MARK;
    words[store] = MARK;
    this.owner[frame] = KERNEL_RX;
  }

  /**
   * Takes up to `max` received packets off the rx ring (see XskSocket.receive). Every descriptor is
   * checked first; on a malformed one nothing changes (the ring, the pool, the burst) and it throws
   * TraitsError EBADMSG.
   */
  receive(burst: Burst, max: number = burst.capacity): number {
    const { rx, pool } = this,
      { first, count, umemFirst } = this.span;
    if (burst.pool !== pool) throw new TraitsError("EINVAL", "receive(): the burst belongs to another pool");
    const consumer = rx.consumer,
      n = Math.min(rx.filled, burst.capacity, max),
      w = rx.words;
    if (this.heads.length < n) {
      this.taken = new Uint32Array(burst.capacity);
      this.heads = new Uint32Array(burst.capacity);
      this.lengths = new Uint32Array(burst.capacity);
    }
    const { taken, heads, lengths, owner } = this;
    let i = 0;
    try {
      for (; i < n; i++) {
        const at = rx.descAt + 4 * ((consumer + i) & (rx.size - 1)),
          address = w[at + 1]! * 2 ** 32 + w[at]!,
          length = w[at + 2]!,
          options = w[at + 3]!;
        const frame = umemFirst + Math.floor(address / pool.frameSize),
          head = address % pool.frameSize;
        const wrong =
          frame < first || frame >= first + count
            ? count === pool.count
              ? `is outside the UMEM (${pool.count} frames of ${pool.frameSize} bytes)`
              : `is outside the socket's frames (${count} frames of ${pool.frameSize} bytes from frame ${first})`
            : head % 4 !== 0
              ? "puts the packet at an offset that is not a multiple of 4 (the store before it would be unaligned)"
              : head < pool.metaLength
                ? `leaves no room for the ${pool.metaLength}-byte metadata area before the packet`
                : length === 0 || head + length > pool.dataEnd
                  ? `has a packet of ${length} bytes, which does not fit frame ${frame} after offset ${head}`
                  : options !== 0
                    ? `has options 0x${options.toString(16)} (a packet in several buffers: this socket takes none)`
                    : owner[frame] !== KERNEL_RX
                      ? `is frame ${frame}, which the kernel was not given to fill${owner[frame] === CLAIMED ? " (it is in this batch twice)" : ""}`
                      : undefined;
        if (wrong !== undefined)
          throw new TraitsError(
            "EBADMSG",
            `rx descriptor ${consumer + i} on ${this.name} (address ${address}, length ${length}) ${wrong}`,
          );
        owner[frame] = CLAIMED;
        taken[i] = frame;
        heads[i] = head;
        lengths[i] = length;
      }
    } catch (error) {
      for (let j = 0; j < i; j++) owner[taken[j]!] = KERNEL_RX;
      throw error;
    }
    const frames = burst.frames(),
      words = this.marking(),
      meta = pool.metaLength;
    for (let i = 0; i < n; i++) {
      const frame = taken[i]!;
      owner[frame] = USER;
      frames[i] = frame;
      pool.setHead(frame, heads[i]!, lengths[i]!, meta);
    }
    rx.consumer = consumer + n;
    burst.selectFrames(undefined, n);
    // The kernel copied the program's metadata area right before the packet, and no other byte of the
    // frame: a mark still at the store's start means a shorter area, one overwritten before it a longer one.
    const status = burst.status();
    for (let i = 0; i < n; i++) {
      const store = (pool.frameStart(taken[i]!) + heads[i]! - meta) >>> 2;
      status[i] =
        heads[i] === this.headroom && (words[store] === MARK || (store > 0 && words[store - 1] !== MARK))
          ? Errno.EBADMSG
          : 0;
    }
    return n;
  }

  /** Gives the frames the burst selects back to the fill ring (see XskSocket.release). */
  release(burst: Burst): void {
    const { fill, pool } = this;
    if (burst.pool !== pool) throw new TraitsError("EINVAL", "release(): the burst belongs to another pool");
    const n = burst.length,
      frames = this.selected(burst, "release");
    if (fill.filled + n > fill.size)
      throw new TraitsError(
        "ENOSPC",
        `release(): the fill ring has room for ${fill.size - fill.filled} frames, not ${n}`,
      );
    const words = this.marking();
    for (let i = 0; i < n; i++) this.give(frames[i]!, i, words);
    fill.producer = fill.producer + n;
    burst.selectFrames(undefined, 0);
  }

  /**
   * The frames a burst selects, each checked to be a frame of the pool that is the user's; throws
   * EINVAL (nothing changed) for one that is not, or is selected twice.
   */
  private selected(burst: Burst, what: string): ArrayLike<number> {
    const { pool, owner } = this,
      { first, count } = this.span,
      n = burst.length,
      frames = burst.ranged ? Array.from({ length: n }, (_, i) => burst.first + i) : burst.frames();
    let i = 0;
    try {
      for (; i < n; i++) {
        const frame = frames[i]!;
        if (!Number.isInteger(frame) || frame < first || frame >= first + count)
          throw new TraitsError(
            "EINVAL",
            Number.isInteger(frame) && frame >= 0 && frame < pool.count
              ? `${what}(): frame ${frame} is not one of this socket's frames (${count} from frame ${first})`
              : `${what}(): frame ${frame} is not in the pool (${pool.count} frames)`,
          );
        if (owner[frame] !== USER)
          throw new TraitsError(
            "EINVAL",
            `${what}(): frame ${frame} is the kernel's${owner[frame] === CLAIMED ? " (selected twice)" : owner[frame] === KERNEL_TX ? " (sent and not reclaimed)" : " (released already)"}`,
          );
        owner[frame] = CLAIMED;
      }
    } finally {
      for (let j = 0; j < i; j++) owner[frames[j]!] = USER;
    }
    return frames;
  }

  /** Puts the burst's frames on the tx ring and wakes the kernel (see XskSocket.send). */
  send(burst: Burst): number {
    const { tx, pool, owner } = this;
    if (burst.pool !== pool) throw new TraitsError("EINVAL", "send(): the burst belongs to another pool");
    const frames = this.selected(burst, "send"),
      producer = tx.producer,
      n = Math.min(tx.size - tx.filled, burst.length);
    for (let i = 0; i < n; i++) {
      const frame = frames[i]!,
        at = tx.descAt + 4 * ((producer + i) & (tx.size - 1)),
        address = (frame - this.span.umemFirst) * pool.frameSize + pool.head(frame);
      tx.words[at] = address >>> 0;
      tx.words[at + 1] = Math.floor(address / 2 ** 32);
      tx.words[at + 2] = pool.length(frame);
      tx.words[at + 3] = 0;
      owner[frame] = KERNEL_TX;
    }
    tx.producer = producer + n;
    // In copy mode each wakeup transmits at most 32 descriptors (the kernel's TX_BATCH_SIZE) and then
    // answers EAGAIN: wake it until the ring is drained, or it is out of room (ENOBUFS: a full
    // completion ring) or busy (EBUSY): what is left then goes with the next send().
    // With need-wakeup, the kernel says when it needs one (zero-copy drivers transmit on their own otherwise).
    for (let wakeups = 0; tx.consumer !== tx.producer && tx.needsWakeup && wakeups <= (n >>> 5) + 1; wakeups++) {
      const errno = this.wake();
      if (errno === 0 || errno === 11) continue;
      if (errno !== 105 && errno !== 16) throw new BpfError(errno, `waking the kernel to transmit on ${this.name}`);
      break;
    }
    return n;
  }

  /** Takes transmitted frames off the completion ring (see XskSocket.reclaim). */
  reclaim(burst: Burst): number {
    const { completion, pool, owner } = this,
      { first, count, umemFirst } = this.span;
    if (burst.pool !== pool) throw new TraitsError("EINVAL", "reclaim(): the burst belongs to another pool");
    const consumer = completion.consumer,
      n = Math.min(completion.filled, burst.capacity),
      w = completion.words,
      taken: number[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const at = completion.descAt + 2 * ((consumer + i) & (completion.size - 1)),
          address = w[at + 1]! * 2 ** 32 + w[at]!,
          frame = umemFirst + Math.floor(address / pool.frameSize),
          outside = frame < first || frame >= first + count;
        if (outside || owner[frame] !== KERNEL_TX)
          throw new TraitsError(
            "EBADMSG",
            `completion ${consumer + i} on ${this.name}: address ${address} is ${outside ? (count === pool.count ? "not in the pool" : "not in the socket's frames") : `frame ${frame}, which was not sent${owner[frame] === CLAIMED ? " (it is in this batch twice)" : ""}`}`,
          );
        owner[frame] = CLAIMED;
        taken.push(frame);
      }
    } catch (error) {
      for (const frame of taken) owner[frame] = KERNEL_TX;
      throw error;
    }
    const frames = burst.frames();
    for (let i = 0; i < n; i++) {
      owner[taken[i]!] = USER;
      frames[i] = taken[i]!;
    }
    completion.consumer = consumer + n;
    burst.selectFrames(undefined, n);
    return n;
  }
}
