/**
 * XskSocket: an AF_XDP socket whose UMEM is a PacketPool's frames in WebAssembly memory. An XDP
 * program attached to the interface (the shipped bpf/receive.bpf.o by default) writes each packet's
 * traits into its metadata area and redirects it to the socket; receive() hands the frames to a
 * Burst with the store right before the packet, release() gives them back to the kernel.
 */
import { Errno, TraitsError } from "../core/errors.js";
import type { Burst } from "../pool/burst.js";
import { PacketPool } from "../pool/pool.js";
import { BpfError, PRIVILEGES } from "./errors.js";
import { getNative, type Native } from "./ffi.js";
import { readDeclaration } from "./declaration.js";
import { XskProgram } from "./attach.js";
import { RECEIVE_PROGRAM } from "./programs.js";

const AF_XDP = 44,
  SOCK_RAW = 3,
  SOL_XDP = 283;
const XDP_MMAP_OFFSETS = 1,
  XDP_RX_RING = 2,
  XDP_TX_RING = 3,
  XDP_UMEM_REG = 4,
  XDP_UMEM_FILL_RING = 5,
  XDP_UMEM_COMPLETION_RING = 6,
  XDP_STATISTICS = 7;
const XDP_SHARED_UMEM = 1 << 0,
  XDP_COPY = 1 << 1,
  XDP_ZEROCOPY = 1 << 2,
  XDP_USE_NEED_WAKEUP = 1 << 3;
/** The flag the kernel sets in a ring's flags word when it needs a syscall to go on (XDP_RING_NEED_WAKEUP). */
const XDP_RING_NEED_WAKEUP = 1;
const POLLIN = 1;
/** Where the kernel puts packet data in a frame it fills in copy mode (the UMEM has no headroom of its own). */
const XDP_PACKET_HEADROOM = 256;
/** How long open() waits for a queue that a socket closed just before still holds. */
const BIND_WAIT_MS = 1000;
const pause = new Int32Array(new SharedArrayBuffer(4));
const PGOFF = { rx: 0n, tx: 0x80000000n, fill: 0x100000000n, completion: 0x180000000n } as const;
/** Bytes of the metadata area the shipped receive program makes (its traits store). */
export const RECEIVE_META_LENGTH = 48;

/**
 * How the kernel moves packets between the NIC and the UMEM: "copy" (XDP_COPY: every driver; the
 * kernel copies each packet and its metadata area into a frame) or "zero-copy" (XDP_ZEROCOPY: the NIC
 * writes into the frames itself; drivers with AF_XDP zero-copy support only, e.g. ice, i40e, mlx5).
 */
export type XskMode = "copy" | "zero-copy";

/** Options of XskSocket.open. */
export interface XskOptions {
  /** The pool whose frames are the UMEM: placement "metadata" (its metaLength = what the program makes), frameSize 2048 or 4096, hardwareKeys not "struct". */
  pool: PacketPool;
  /** Interface name. */
  device: string;
  /** Queue to bind; default 0. */
  queue?: number;
  /** Entries of the rx, tx and completion rings (the fill ring has twice as many: see ringSizes), a power of two up to the pool's frame count rounded up to one; default 2048, or that bound if lower (at most this many frames go to the fill ring). */
  ringSize?: number;
  /** The XDP object to attach natively (device-bound): its map `xsks` (XSKMAP) gets the socket; default the shipped receive program. */
  program?: string;
  /** "copy" (default) or "zero-copy": asked for explicitly, never a fallback (a driver without zero-copy AF_XDP: BpfError EOPNOTSUPP). */
  mode?: XskMode;
}

/** @internal Options of XskSocket.bind: a socket without a program, over some of the pool's frames (XskGroup's). */
export interface XskBindOptions extends Omit<XskOptions, "program"> {
  /** The pool's frames this socket receives into, [first, first + count); default all of them. */
  frames?: { first: number; count: number };
  /**
   * The UMEM: "frames" (default) registers `frames` alone (another socket may register others);
   * "pool" registers every frame of the pool, for sockets of other queues to share (XDP_SHARED_UMEM);
   * `{ shareWith: fd }` binds with XDP_SHARED_UMEM to the UMEM of the socket `fd` of this process,
   * which registered "pool".
   */
  umem?: "frames" | "pool" | { shareWith: number };
}

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

/** What XDP_STATISTICS counts for a socket: packets the kernel could not hand to it, and descriptors it refused. */
export interface XskStatistics {
  /** Packets dropped for another reason (among them, packets longer than a frame). */
  rxDropped: bigint;
  /** Descriptors of the fill ring the kernel found invalid. */
  rxInvalid: bigint;
  /** Descriptors of the tx ring the kernel found invalid. */
  txInvalid: bigint;
  /** Packets dropped because the rx ring was full. */
  rxRingFull: bigint;
  /** Times a packet found the fill ring empty (dropped). */
  fillRingEmpty: bigint;
}

/**
 * An AF_XDP socket on one queue of an interface, with its XDP program attached (open), or without
 * (bind: XskGroup attaches one program for all its sockets). Every descriptor the kernel hands back is
 * checked against the pool before use. Close it (or `using` it): that detaches the program, unmaps
 * the rings and closes the socket.
 */
export class XskSocket {
  readonly pool: PacketPool;
  readonly device: string;
  readonly queue: number;
  readonly ifindex: number;
  /** How the kernel fills the frames: "copy" or "zero-copy", as asked for (there is no fallback). */
  readonly mode: XskMode;
  #native: Native;
  #fd: number;
  #program: XskProgram | undefined;
  #maps: Array<{ pointer: unknown; length: number }> = [];
  #rings: XskRings | undefined;
  #waiter: XskWaiter | undefined;

  private constructor(
    native: Native,
    pool: PacketPool,
    device: string,
    queue: number,
    ifindex: number,
    fd: number,
    mode: XskMode,
  ) {
    this.#native = native;
    this.pool = pool;
    this.device = device;
    this.queue = queue;
    this.ifindex = ifindex;
    this.#fd = fd;
    this.mode = mode;
  }

  /**
   * Opens the socket: registers the pool's frames as the UMEM, creates and maps the rings, binds to
   * the queue (copy or zero-copy mode, with need-wakeup), gives the frames to the fill ring, loads the
   * program bound to the device, puts the socket in its XSKMAP and attaches it through a BPF link (so
   * the program is detached even if the process dies without close()). A queue that a socket closed
   * just before still holds (the kernel releases it ~0.2 s later) is waited for, up to a second.
   * Throws TraitsError EINVAL for a pool that does not fit (its metadata length or profile not the
   * ones the program declares with TRAITS_PROGRAM, frames of another size) or a ring size over what
   * the pool can fill; BpfError for what the kernel refuses (EPERM without privileges, ENODEV for no
   * such interface, EBUSY if the interface already has an XDP program or the queue a socket,
   * EOPNOTSUPP for zero-copy on a driver without it). On error nothing is left behind.
   */
  static open(options: XskOptions): XskSocket {
    const { program = RECEIVE_PROGRAM } = options;
    checkDeclaration(program, options.pool);
    const socket = XskSocket.bind(options);
    try {
      socket.#program = XskProgram.attach(program, socket.device, socket.ifindex, [socket]);
    } catch (error) {
      socket.close();
      throw error;
    }
    return socket;
  }

  /**
   * @internal Opens the socket as open() does, without a program: over `options.frames` of the pool,
   * its own UMEM or one shared with another socket (see XskBindOptions). Throws as open().
   */
  static bind(options: XskBindOptions): XskSocket {
    const { pool, device, queue = 0, mode = "copy", umem = "frames" } = options;
    if (!(pool instanceof PacketPool) || pool.placement !== "metadata")
      throw new TraitsError("EINVAL", `XskSocket needs a PacketPool of placement "metadata"`);
    if (pool.frameSize !== 2048 && pool.frameSize !== 4096)
      throw new TraitsError("EINVAL", `AF_XDP frames are 2048 or 4096 bytes, not ${pool.frameSize}`);
    if (pool.hardwareKeys === "struct")
      throw new TraitsError(
        "EINVAL",
        `hardwareKeys "struct" keeps hints at the end of each frame, where the kernel writes packet data: use "keys" or "off"`,
      );
    if (pool.metaLength + 4 > XDP_PACKET_HEADROOM)
      throw new TraitsError(
        "EINVAL",
        `a ${pool.metaLength}-byte metadata area leaves no room before the packet at offset ${XDP_PACKET_HEADROOM}: at most ${XDP_PACKET_HEADROOM - 4}`,
      );
    if (mode !== "copy" && mode !== "zero-copy")
      throw new TraitsError("EINVAL", `mode must be "copy" or "zero-copy", not ${JSON.stringify(mode)}`);
    const { first, count } = options.frames ?? { first: 0, count: pool.count };
    if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 2 || first + count > pool.count)
      throw new TraitsError(
        "EINVAL",
        `frames ${first}..${first + count - 1} are not 2 or more of the pool's ${pool.count} frames`,
      );
    const most = Math.max(2, 2 ** Math.ceil(Math.log2(count))),
      ringSize = options.ringSize ?? Math.min(2048, most);
    if (!Number.isInteger(ringSize) || ringSize < 2 || ringSize > most || (ringSize & (ringSize - 1)) !== 0)
      throw new TraitsError(
        "EINVAL",
        `ringSize must be a power of two from 2 to ${most} (the socket's ${count} frames, rounded up: a larger ring would never be filled), not ${ringSize}`,
      );
    const native = getNative(),
      ifindex = native.ifIndex(device);
    if (ifindex === 0) throw new BpfError(19, `no interface ${device}`);
    const fd = native.socket(AF_XDP, SOCK_RAW, 0);
    if (fd < 0)
      throw new BpfError(
        native.errno(),
        `socket(AF_XDP): ${native.errno() === 1 ? PRIVILEGES : "the kernel has no AF_XDP sockets"}`,
      );
    const socket = new XskSocket(native, pool, device, queue, ifindex, fd, mode);
    try {
      socket.setUp(ringSize, { first, count, umemFirst: umem === "frames" ? first : 0 }, umem);
    } catch (error) {
      socket.close();
      throw error;
    }
    return socket;
  }

  private check(rc: number, what: string): void {
    if (rc < 0) {
      const errno = this.#native.errno();
      throw new BpfError(
        errno,
        `${what} on ${this.device} queue ${this.queue} failed${errno === 1 ? `: ${PRIVILEGES}` : ""}`,
      );
    }
  }

  private setUp(ringSize: number, span: XskSpan, umem: NonNullable<XskBindOptions["umem"]>): void {
    const native = this.#native,
      pool = this.pool,
      fd = this.#fd;
    if (umem !== "pool" && typeof umem !== "string" && !Number.isInteger(umem?.shareWith))
      throw new TraitsError("EINVAL", `umem must be "frames", "pool" or { shareWith: fd }`);
    if (typeof umem === "string") {
      const registered = umem === "pool" ? { first: 0, count: pool.count } : span,
        at = pool.frameStart(registered.first);
      if (at % native.pageSize() !== 0)
        throw new TraitsError(
          "EINVAL",
          `frame ${registered.first} does not start a page: a UMEM starts on one (give each socket an even number of 2048-byte frames)`,
        );
      const reg = new Uint8Array(32),
        view = new DataView(reg.buffer);
      view.setBigUint64(0, native.address(new Uint8Array(pool.memory.buffer)) + BigInt(at), true);
      view.setBigUint64(8, BigInt(registered.count * pool.frameSize), true);
      view.setUint32(16, pool.frameSize, true);
      this.check(native.setsockopt(fd, SOL_XDP, XDP_UMEM_REG, reg), "registering the pool's frames as the UMEM");
    }
    const sizes = ringSizes(ringSize);
    for (const [option, entries] of [
      [XDP_UMEM_FILL_RING, sizes.fill],
      [XDP_UMEM_COMPLETION_RING, sizes.completion],
      [XDP_RX_RING, sizes.rx],
      [XDP_TX_RING, sizes.tx],
    ] as const) {
      const size = new Uint8Array(4);
      new DataView(size.buffer).setUint32(0, entries, true);
      this.check(native.setsockopt(fd, SOL_XDP, option, size), "sizing the rings");
    }
    const offsets = new Uint8Array(128),
      length = new Uint32Array([128]);
    this.check(native.getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, offsets, length), "reading the ring offsets");
    const o = new DataView(offsets.buffer);
    const ring = (index: number, entry: number, offset: bigint, entries: number): Ring => {
      const field = (k: number) => Number(o.getBigUint64(32 * index + 8 * k, true)),
        desc = field(2);
      const bytes = desc + entries * entry,
        map = native.mmap(bytes, fd, offset);
      if (map === null) throw new BpfError(native.errno(), `mapping an AF_XDP ring of ${this.device}`);
      this.#maps.push({ pointer: map.pointer, length: bytes });
      return new Ring(map.buffer, entries, field(0), field(1), desc, field(3));
    };
    const rings = new XskRings(
      pool,
      ring(0, 16, PGOFF.rx, sizes.rx),
      ring(2, 8, PGOFF.fill, sizes.fill),
      ring(1, 16, PGOFF.tx, sizes.tx),
      ring(3, 8, PGOFF.completion, sizes.completion),
      `${this.device} queue ${this.queue}`,
      () => (native.kick(fd) < 0 ? native.errno() : 0),
      XDP_PACKET_HEADROOM,
      span,
    );
    this.#rings = rings;
    this.bindQueue(typeof umem === "string" ? -1 : umem.shareWith);
    rings.fillFirst(Math.min(span.count, ringSize));
  }

  /**
   * Binds the socket to its queue, with need-wakeup, in its mode (or, with `shareWith` >= 0, to the
   * UMEM of that socket, whose mode it takes). A socket closed on the queue just before holds it
   * until the kernel's deferred release (~0.2 s here): EBUSY is retried for up to BIND_WAIT_MS.
   */
  private bindQueue(shareWith: number): void {
    const native = this.#native,
      address = new Uint8Array(16),
      a = new DataView(address.buffer);
    a.setUint16(0, AF_XDP, true);
    a.setUint16(
      2,
      shareWith >= 0 ? XDP_SHARED_UMEM : (this.mode === "zero-copy" ? XDP_ZEROCOPY : XDP_COPY) | XDP_USE_NEED_WAKEUP,
      true,
    );
    a.setUint32(4, this.ifindex, true);
    a.setUint32(8, this.queue, true);
    a.setUint32(12, Math.max(0, shareWith), true);
    const end = Date.now() + BIND_WAIT_MS;
    for (;;) {
      if (native.bind(this.#fd, address) >= 0) return;
      const errno = native.errno();
      if (errno !== 16 || Date.now() >= end) break;
      Atomics.wait(pause, 0, 0, 5);
    }
    const errno = native.errno();
    if (this.mode === "zero-copy" && (errno === 95 || errno === 22 || errno === 524))
      throw new BpfError(
        95,
        `zero-copy AF_XDP on ${this.device} queue ${this.queue}: its driver cannot (the kernel answers ${errno === 95 ? "EOPNOTSUPP" : errno === 22 ? "EINVAL" : "ENOTSUPP"}; veth and most virtual devices have none: ask for mode "copy")`,
      );
    this.check(-1, `binding the AF_XDP socket (${shareWith >= 0 ? "shared UMEM" : `${this.mode} mode`})`);
  }

  /**
   * Takes up to `max` (default: the burst's capacity) received packets off the rx ring: selects their
   * frames in the burst and sets each frame's head, length and metadata length (the pool's) from its
   * descriptor. Status i is 0, or EBADMSG where the program did not make a metadata area of the pool's
   * metaLength (found from marks the socket leaves in each frame it gives the kernel: the packet is
   * there, its store is not). Returns how many. Never blocks (see wait()). Throws TraitsError EBADMSG,
   * changing nothing, for a malformed descriptor: outside the socket's frames, a packet at an offset
   * not a multiple of 4, with no room for the metadata area before it, empty or past the frame's end,
   * in several buffers, or in a frame the kernel was not given.
   */
  receive(burst: Burst, max: number = burst.capacity): number {
    return this.live().receive(burst, max);
  }

  /**
   * Sleeps in poll() until the rx ring holds packets or `timeout` ms pass (-1: no limit); returns
   * true if it holds some. It blocks the calling thread: call it in a worker (XskGroup does), never
   * on a main thread that has other work. A zero-copy driver that asked for a wakeup gets it here.
   */
  wait(timeout: number): boolean {
    this.live();
    this.#waiter ??= new XskWaiter([this]);
    this.#waiter.wait(timeout);
    return this.pending > 0;
  }

  /**
   * Gives the frames the burst selects back to the kernel's fill ring (after receive() and their
   * processing, or reclaim()), and empties the burst. Throws EINVAL, changing nothing, for a frame not
   * one of the socket's or not the user's (released twice, or sent and not reclaimed), ENOSPC if the
   * fill ring has no room for them all.
   */
  release(burst: Burst): void {
    this.live().release(burst);
  }

  /**
   * Transmits the packets of the frames the burst selects (data [head, head + length), the store is
   * not sent): puts a descriptor per frame on the tx ring and, when the kernel asks for it
   * (need-wakeup: always in copy mode), wakes it until it has taken them all (32 per wakeup in copy
   * mode) or is busy, in which case the rest goes with the next send(); it hands the frames back
   * through the completion ring (see reclaim). Returns how many were queued: all, or as many as the tx
   * ring had room for (the first ones). Throws EINVAL, changing nothing, for a frame not one of the
   * socket's or not the user's, or a burst of another pool; BpfError if the kernel refuses the wakeup
   * (other than EAGAIN/ENOBUFS/EBUSY, which mean "busy, call reclaim and retry").
   */
  send(burst: Burst): number {
    return this.live().send(burst);
  }

  /**
   * Takes up to burst-capacity transmitted frames off the completion ring and selects them in the
   * burst (to release() them to the fill ring, or to send again). Returns how many. Throws EBADMSG,
   * changing nothing, for a completion outside the socket's frames or of a frame that was not sent.
   */
  reclaim(burst: Burst): number {
    return this.live().reclaim(burst);
  }

  /** Packets waiting in the rx ring. */
  get pending(): number {
    return this.live().rx.filled;
  }

  /** @internal Frames of the socket the kernel does not hold for filling: received and not released, or sent and not reclaimed. */
  get held(): number {
    return this.live().held();
  }

  /** @internal True when the fill ring asks for a syscall (need-wakeup: zero-copy drivers) for the kernel to go on receiving. */
  get needsWakeup(): boolean {
    return this.live().fill.needsWakeup;
  }

  /** @internal The socket's file descriptor (for an XSKMAP, or poll()); -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** The kernel's counters of this socket (XDP_STATISTICS). Throws EINVAL after close(), BpfError if the kernel refuses. */
  statistics(): XskStatistics {
    this.live();
    return readStatistics(this.#native, this.#fd, `${this.device} queue ${this.queue}`);
  }

  /** The rings; throws EINVAL after close(). */
  private live(): XskRings {
    if (!this.#rings || this.#fd < 0) throw new TraitsError("EINVAL", `the AF_XDP socket on ${this.device} is closed`);
    return this.#rings;
  }

  /** Detaches the program (if open() attached it), unloads it, unmaps the rings and closes the socket. Safe to call twice. */
  close(): void {
    const native = this.#native;
    this.#program?.close();
    this.#program = undefined;
    for (const map of this.#maps) native.munmap(map.pointer, map.length);
    this.#maps = [];
    this.#rings = undefined;
    this.#waiter = undefined;
    if (this.#fd >= 0) native.closeFd(this.#fd);
    this.#fd = -1;
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * @internal The counters of the AF_XDP socket `fd` (XDP_STATISTICS), read by any thread of the
 * process (XskGroup reads its workers' sockets so). Throws BpfError naming `name` if the kernel refuses.
 */
export function readStatistics(native: Native, fd: number, name: string): XskStatistics {
  const bytes = new Uint8Array(48),
    length = new Uint32Array([48]);
  if (native.getsockopt(fd, SOL_XDP, XDP_STATISTICS, bytes, length) < 0)
    throw new BpfError(native.errno(), `reading the statistics of the AF_XDP socket on ${name}`);
  const v = new DataView(bytes.buffer),
    at = (i: number) => (length[0]! >= 8 * (i + 1) ? v.getBigUint64(8 * i, true) : 0n);
  return { rxDropped: at(0), rxInvalid: at(1), txInvalid: at(2), rxRingFull: at(3), fillRingEmpty: at(4) };
}

/**
 * @internal poll() over sockets and, optionally, a descriptor that wakes the sleeper (an eventfd
 * another thread writes to): what a worker sleeps in when its sockets have nothing.
 */
export class XskWaiter {
  private readonly fds: Uint8Array;
  private readonly native = getNative();

  constructor(sockets: readonly XskSocket[], wake = -1) {
    const all = wake >= 0 ? [...sockets.map((s) => s.fd), wake] : sockets.map((s) => s.fd);
    this.fds = new Uint8Array(8 * all.length);
    const view = new DataView(this.fds.buffer);
    all.forEach((fd, i) => {
      view.setInt32(8 * i, fd, true);
      view.setInt16(8 * i + 4, POLLIN, true);
    });
  }

  /** Sleeps until a socket has packets, the wake descriptor is readable, or `timeout` ms pass (-1: no limit). Throws BpfError if poll() fails (EINTR is a normal return). */
  wait(timeout: number): void {
    if (this.native.poll(this.fds, timeout) < 0 && this.native.errno() !== 4)
      throw new BpfError(this.native.errno(), "poll() on AF_XDP sockets");
  }
}

/**
 * @internal Throws TraitsError EINVAL if the program at `path` declares (TRAITS_PROGRAM) a metadata
 * length or profile other than the pool's.
 */
export function checkDeclaration(path: string, pool: PacketPool): void {
  const declared = readDeclaration(path);
  if (declared?.metaLength && declared.metaLength !== pool.metaLength)
    throw new TraitsError(
      "EINVAL",
      `${path} makes a ${declared.metaLength}-byte metadata area (its TRAITS_PROGRAM declaration), not ${pool.metaLength}: give the pool metaLength ${declared.metaLength}`,
    );
  if (declared && declared.profile !== pool.profile)
    throw new TraitsError(
      "EINVAL",
      `${path} writes stores of profile ${declared.profile} (its TRAITS_PROGRAM declaration), not ${pool.profile}: give the pool profile "${declared.profile}"`,
    );
}
