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
import { getNative, type Native, type Pointer } from "./ffi.js";
import { readDeclaration } from "./declaration.js";
import { BpfObject } from "./object.js";
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
const XDP_COPY = 1 << 1;
/** Where the kernel puts packet data in a frame it fills in copy mode (the UMEM has no headroom of its own). */
const XDP_PACKET_HEADROOM = 256;
/** How long open() waits for a queue that a socket closed just before still holds. */
const BIND_WAIT_MS = 1000;
const pause = new Int32Array(new SharedArrayBuffer(4));
const PGOFF = { rx: 0n, tx: 0x80000000n, fill: 0x100000000n, completion: 0x180000000n } as const;
/** Bytes of the metadata area the shipped receive program makes (its traits store). */
export const RECEIVE_META_LENGTH = 48;

/** Options of XskSocket.open. */
export interface XskOptions {
  /** The pool whose frames are the UMEM: placement "metadata" (its metaLength = what the program makes), frameSize 2048 or 4096, hardwareKeys not "struct". */
  pool: PacketPool;
  /** Interface name. */
  device: string;
  /** Queue to bind; default 0. */
  queue?: number;
  /** Entries of each ring, a power of two up to the pool's frame count rounded up to one; default 2048, or that bound if lower (at most the pool's frames go to the fill ring). */
  ringSize?: number;
  /** The XDP object to attach natively (device-bound): its map `xsks` (XSKMAP) gets the socket; default the shipped receive program. */
  program?: string;
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

  constructor(
    buffer: ArrayBuffer,
    readonly size: number,
    producerAt: number,
    consumerAt: number,
    descAt: number,
  ) {
    this.words = new Uint32Array(buffer);
    this.producerAt = producerAt >>> 2;
    this.consumerAt = consumerAt >>> 2;
    this.descAt = descAt >>> 2;
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
   * frame (XDP_PACKET_HEADROOM in copy mode).
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
  ) {
    this.owner = new Uint8Array(pool.count);
  }

  /** Gives frames 0..n-1 to the fill ring (at open). */
  fillFirst(n: number): void {
    const words = this.marking();
    for (let f = 0; f < n; f++) this.give(f, f, words);
    this.fill.producer = this.fill.producer + n;
  }

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
      chunk = frame * pool.frameSize,
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
    const { rx, pool } = this;
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
        const frame = Math.floor(address / pool.frameSize),
          head = address % pool.frameSize;
        const wrong =
          frame >= pool.count
            ? `is outside the UMEM (${pool.count} frames of ${pool.frameSize} bytes)`
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
      n = burst.length,
      frames = burst.ranged ? Array.from({ length: n }, (_, i) => burst.first + i) : burst.frames();
    let i = 0;
    try {
      for (; i < n; i++) {
        const frame = frames[i]!;
        if (!Number.isInteger(frame) || frame < 0 || frame >= pool.count)
          throw new TraitsError("EINVAL", `${what}(): frame ${frame} is not in the pool (${pool.count} frames)`);
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
        address = frame * pool.frameSize + pool.head(frame);
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
    for (let wakeups = 0; tx.consumer !== tx.producer && wakeups <= (n >>> 5) + 1; wakeups++) {
      const errno = this.wake();
      if (errno === 0 || errno === 11) continue;
      if (errno !== 105 && errno !== 16) throw new BpfError(errno, `waking the kernel to transmit on ${this.name}`);
      break;
    }
    return n;
  }

  /** Takes transmitted frames off the completion ring (see XskSocket.reclaim). */
  reclaim(burst: Burst): number {
    const { completion, pool, owner } = this;
    if (burst.pool !== pool) throw new TraitsError("EINVAL", "reclaim(): the burst belongs to another pool");
    const consumer = completion.consumer,
      n = Math.min(completion.filled, burst.capacity),
      w = completion.words,
      taken: number[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const at = completion.descAt + 2 * ((consumer + i) & (completion.size - 1)),
          address = w[at + 1]! * 2 ** 32 + w[at]!,
          frame = Math.floor(address / pool.frameSize);
        if (frame >= pool.count || owner[frame] !== KERNEL_TX)
          throw new TraitsError(
            "EBADMSG",
            `completion ${consumer + i} on ${this.name}: address ${address} is ${frame >= pool.count ? "not in the pool" : `frame ${frame}, which was not sent${owner[frame] === CLAIMED ? " (it is in this batch twice)" : ""}`}`,
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
 * An AF_XDP socket (copy mode) on one queue of an interface, with its XDP program attached. Every
 * descriptor the kernel hands back is checked against the pool before use. Close it (or `using` it):
 * that detaches the program, unmaps the rings and closes the socket.
 */
export class XskSocket {
  readonly pool: PacketPool;
  readonly device: string;
  readonly queue: number;
  readonly ifindex: number;
  #native: Native;
  #fd: number;
  #object: BpfObject | undefined;
  #maps: Array<{ pointer: unknown; length: number }> = [];
  #rings: XskRings | undefined;
  /** The BPF link attaching the program: destroyed by close(), and by the kernel when the process ends. */
  #link: Pointer | null = null;

  private constructor(native: Native, pool: PacketPool, device: string, queue: number, ifindex: number, fd: number) {
    this.#native = native;
    this.pool = pool;
    this.device = device;
    this.queue = queue;
    this.ifindex = ifindex;
    this.#fd = fd;
  }

  /**
   * Opens the socket: registers the pool's frames as the UMEM, creates and maps the rings, binds to
   * the queue in copy mode, gives the frames to the fill ring, loads the program bound to the device,
   * puts the socket in its XSKMAP and attaches it through a BPF link (so the program is detached
   * even if the process dies without close()). A queue that a socket closed just before still holds
   * (the kernel releases it ~0.2 s later) is waited for, up to a second.
   * Throws TraitsError EINVAL for a pool that does not fit (its metadata length or profile not the
   * ones the program declares with TRAITS_PROGRAM, frames of another size) or a ring size over what
   * the pool can fill; BpfError for what the kernel refuses (EPERM without privileges, ENODEV for no
   * such interface, EBUSY if the interface already has an XDP program or the queue a socket). On
   * error nothing is left behind.
   */
  static open(options: XskOptions): XskSocket {
    const { pool, device, queue = 0, program = RECEIVE_PROGRAM } = options;
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
    const most = Math.max(2, 2 ** Math.ceil(Math.log2(pool.count))),
      ringSize = options.ringSize ?? Math.min(2048, most);
    if (!Number.isInteger(ringSize) || ringSize < 2 || ringSize > most || (ringSize & (ringSize - 1)) !== 0)
      throw new TraitsError(
        "EINVAL",
        `ringSize must be a power of two from 2 to ${most} (the pool's ${pool.count} frames, rounded up: a larger ring would never be filled), not ${ringSize}`,
      );
    checkDeclaration(program, pool);
    const native = getNative(),
      ifindex = native.ifIndex(device);
    if (ifindex === 0) throw new BpfError(19, `no interface ${device}`);
    const fd = native.socket(AF_XDP, SOCK_RAW, 0);
    if (fd < 0)
      throw new BpfError(
        native.errno(),
        `socket(AF_XDP): ${native.errno() === 1 ? PRIVILEGES : "the kernel has no AF_XDP sockets"}`,
      );
    const socket = new XskSocket(native, pool, device, queue, ifindex, fd);
    try {
      socket.setUp(ringSize, program);
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

  private setUp(ringSize: number, program: string): void {
    const native = this.#native,
      pool = this.pool,
      fd = this.#fd;
    const reg = new Uint8Array(32),
      view = new DataView(reg.buffer);
    view.setBigUint64(0, native.address(new Uint8Array(pool.memory.buffer)) + BigInt(pool.base), true);
    view.setBigUint64(8, BigInt(pool.count * pool.frameSize), true);
    view.setUint32(16, pool.frameSize, true);
    this.check(native.setsockopt(fd, SOL_XDP, XDP_UMEM_REG, reg), "registering the pool's frames as the UMEM");
    const size = new Uint8Array(4);
    new DataView(size.buffer).setUint32(0, ringSize, true);
    for (const option of [XDP_UMEM_FILL_RING, XDP_UMEM_COMPLETION_RING, XDP_RX_RING, XDP_TX_RING])
      this.check(native.setsockopt(fd, SOL_XDP, option, size), "sizing the rings");
    const offsets = new Uint8Array(128),
      length = new Uint32Array([128]);
    this.check(native.getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, offsets, length), "reading the ring offsets");
    const o = new DataView(offsets.buffer);
    const ring = (index: number, entry: number, offset: bigint): Ring => {
      const producer = Number(o.getBigUint64(32 * index, true)),
        consumer = Number(o.getBigUint64(32 * index + 8, true)),
        desc = Number(o.getBigUint64(32 * index + 16, true));
      const bytes = desc + ringSize * entry,
        map = native.mmap(bytes, fd, offset);
      if (map === null) throw new BpfError(native.errno(), `mapping an AF_XDP ring of ${this.device}`);
      this.#maps.push({ pointer: map.pointer, length: bytes });
      return new Ring(map.buffer, ringSize, producer, consumer, desc);
    };
    const rings = new XskRings(
      pool,
      ring(0, 16, PGOFF.rx),
      ring(2, 8, PGOFF.fill),
      ring(1, 16, PGOFF.tx),
      ring(3, 8, PGOFF.completion),
      `${this.device} queue ${this.queue}`,
      () => (native.kick(fd) < 0 ? native.errno() : 0),
    );
    this.#rings = rings;
    this.bind();
    rings.fillFirst(Math.min(pool.count, ringSize));
    this.#object = BpfObject.load(program, { ifindex: this.ifindex });
    const key = new Uint8Array(4),
      value = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, this.queue, true);
    new DataView(value.buffer).setUint32(0, fd, true);
    this.check(
      native.mapUpdate(this.#object.mapFd("xsks"), key, value, 0),
      "putting the socket in the program's XSKMAP",
    );
    this.#link = this.#object.attachXdp(this.ifindex);
  }

  /**
   * Binds the socket to its queue in copy mode. A socket closed on the queue just before holds it
   * until the kernel's deferred release (~0.2 s here): EBUSY is retried for up to BIND_WAIT_MS.
   */
  private bind(): void {
    const native = this.#native,
      address = new Uint8Array(16),
      a = new DataView(address.buffer);
    a.setUint16(0, AF_XDP, true);
    a.setUint16(2, XDP_COPY, true);
    a.setUint32(4, this.ifindex, true);
    a.setUint32(8, this.queue, true);
    const end = Date.now() + BIND_WAIT_MS;
    for (;;) {
      if (native.bind(this.#fd, address) >= 0) return;
      const errno = native.errno();
      if (errno !== 16 || Date.now() >= end) break;
      Atomics.wait(pause, 0, 0, 5);
    }
    this.check(-1, "binding the AF_XDP socket (copy mode)");
  }

  /**
   * Takes up to `max` (default: the burst's capacity) received packets off the rx ring: selects their
   * frames in the burst and sets each frame's head, length and metadata length (the pool's) from its
   * descriptor. Status i is 0, or EBADMSG where the program did not make a metadata area of the pool's
   * metaLength (found from marks the socket leaves in each frame it gives the kernel: the packet is
   * there, its store is not). Returns how many. Throws TraitsError EBADMSG, changing nothing, for a
   * malformed descriptor: outside the pool, a packet at an offset not a multiple of 4, with no room
   * for the metadata area before it, empty or past the frame's end, in several buffers, or in a frame
   * the kernel was not given.
   */
  receive(burst: Burst, max: number = burst.capacity): number {
    return this.live().receive(burst, max);
  }

  /**
   * Gives the frames the burst selects back to the kernel's fill ring (after receive() and their
   * processing, or reclaim()), and empties the burst. Throws EINVAL, changing nothing, for a frame not
   * in the pool or not the user's (released twice, or sent and not reclaimed), ENOSPC if the fill ring
   * has no room for them all.
   */
  release(burst: Burst): void {
    this.live().release(burst);
  }

  /**
   * Transmits the packets of the frames the burst selects (data [head, head + length), the store is
   * not sent): puts a descriptor per frame on the tx ring and wakes the kernel until it has taken
   * them all (32 per wakeup in copy mode) or is busy, in which case the rest goes with the next
   * send(); it copies them out and hands the frames back through the completion ring (see reclaim).
   * Returns how many were queued: all, or as many as the tx ring had room for (the first ones). Throws
   * EINVAL, changing nothing, for a frame not in the pool or not the user's, or a burst of another
   * pool; BpfError if the kernel refuses the wakeup (other than EAGAIN/ENOBUFS, which mean "busy,
   * call reclaim and retry").
   */
  send(burst: Burst): number {
    return this.live().send(burst);
  }

  /**
   * Takes up to burst-capacity transmitted frames off the completion ring and selects them in the
   * burst (to release() them to the fill ring, or to send again). Returns how many. Throws EBADMSG,
   * changing nothing, for a completion outside the pool or of a frame that was not sent.
   */
  reclaim(burst: Burst): number {
    return this.live().reclaim(burst);
  }

  /** Packets waiting in the rx ring. */
  get pending(): number {
    return this.live().rx.filled;
  }

  /** The kernel's counters of this socket (XDP_STATISTICS). Throws EINVAL after close(), BpfError if the kernel refuses. */
  statistics(): XskStatistics {
    this.live();
    const bytes = new Uint8Array(48),
      length = new Uint32Array([48]);
    this.check(
      this.#native.getsockopt(this.#fd, SOL_XDP, XDP_STATISTICS, bytes, length),
      "reading the socket's statistics",
    );
    const v = new DataView(bytes.buffer),
      at = (i: number) => (length[0]! >= 8 * (i + 1) ? v.getBigUint64(8 * i, true) : 0n);
    return { rxDropped: at(0), rxInvalid: at(1), txInvalid: at(2), rxRingFull: at(3), fillRingEmpty: at(4) };
  }

  /** The rings; throws EINVAL after close(). */
  private live(): XskRings {
    if (!this.#rings || this.#fd < 0) throw new TraitsError("EINVAL", `the AF_XDP socket on ${this.device} is closed`);
    return this.#rings;
  }

  /** Detaches the program, unloads it, unmaps the rings and closes the socket. Safe to call twice. */
  close(): void {
    const native = this.#native;
    if (this.#link) native.destroyLink(this.#link);
    this.#link = null;
    this.#object?.close();
    this.#object = undefined;
    for (const map of this.#maps) native.munmap(map.pointer, map.length);
    this.#maps = [];
    this.#rings = undefined;
    if (this.#fd >= 0) native.closeFd(this.#fd);
    this.#fd = -1;
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Throws TraitsError EINVAL if the program at `path` declares (TRAITS_PROGRAM) a metadata length or
 * profile other than the pool's.
 */
function checkDeclaration(path: string, pool: PacketPool): void {
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
