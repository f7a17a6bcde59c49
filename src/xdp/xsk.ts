/**
 * XskSocket: an AF_XDP socket whose UMEM is a PacketPool's frames in WebAssembly memory. An XDP
 * program attached to the interface (the shipped bpf/receive.bpf.o by default) writes each packet's
 * traits into its metadata area and redirects it to the socket; receive() hands the frames to a
 * Burst with the store right before the packet, release() gives them back to the kernel.
 */
import { TraitsError } from "../core/errors.js";
import type { Burst } from "../pool/burst.js";
import { PacketPool } from "../pool/pool.js";
import { BpfError, PRIVILEGES } from "./errors.js";
import { getNative, type Native, type Pointer } from "./ffi.js";
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
  XDP_UMEM_COMPLETION_RING = 6;
const XDP_COPY = 1 << 1;
const PGOFF = { rx: 0n, tx: 0x80000000n, fill: 0x100000000n, completion: 0x180000000n } as const;
export { RECEIVE_PROGRAM } from "./programs.js";
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
  /** Entries of each ring, a power of two; default 2048 (at most the pool's frames go to the fill ring). */
  ringSize?: number;
  /** The XDP object to attach natively (device-bound): its map `xsks` (XSKMAP) gets the socket; default the shipped receive program. */
  program?: string;
}

/** One mmap'd ring: producer and consumer words, and its entries, as u32 views. */
class Ring {
  readonly words: Uint32Array;
  constructor(
    readonly map: { buffer: ArrayBuffer; pointer: unknown },
    readonly length: number,
    readonly size: number,
    private readonly producerAt: number,
    private readonly consumerAt: number,
    readonly descAt: number,
  ) {
    this.words = new Uint32Array(map.buffer);
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
}

/** The four rings of a socket. */
interface Rings {
  rx: Ring;
  fill: Ring;
  tx: Ring;
  completion: Ring;
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
  #rings: Rings | undefined;
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
   * even if the process dies without close()). Throws TraitsError EINVAL for a pool that
   * does not fit, BpfError for what the kernel refuses (EPERM without privileges, ENODEV for no
   * such interface, EBUSY if the interface already has an XDP program). On error nothing is left behind.
   */
  static open(options: XskOptions): XskSocket {
    const { pool, device, queue = 0, ringSize = 2048, program = RECEIVE_PROGRAM } = options;
    if (!(pool instanceof PacketPool) || pool.placement !== "metadata")
      throw new TraitsError("EINVAL", `XskSocket needs a PacketPool of placement "metadata"`);
    if (pool.frameSize !== 2048 && pool.frameSize !== 4096)
      throw new TraitsError("EINVAL", `AF_XDP frames are 2048 or 4096 bytes, not ${pool.frameSize}`);
    if (pool.hardwareKeys === "struct")
      throw new TraitsError(
        "EINVAL",
        `hardwareKeys "struct" keeps hints at the end of each frame, where the kernel writes packet data: use "keys" or "off"`,
      );
    if (!Number.isInteger(ringSize) || ringSize < 2 || (ringSize & (ringSize - 1)) !== 0)
      throw new TraitsError("EINVAL", `ringSize must be a power of two, not ${ringSize}`);
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
      return new Ring(map, bytes, ringSize, producer >>> 2, consumer >>> 2, desc >>> 2);
    };
    const rings = {
      rx: ring(0, 16, PGOFF.rx),
      tx: ring(1, 16, PGOFF.tx),
      fill: ring(2, 8, PGOFF.fill),
      completion: ring(3, 8, PGOFF.completion),
    };
    this.#rings = rings;
    const address = new Uint8Array(16),
      a = new DataView(address.buffer);
    a.setUint16(0, AF_XDP, true);
    a.setUint16(2, XDP_COPY, true);
    a.setUint32(4, this.ifindex, true);
    a.setUint32(8, this.queue, true);
    this.check(native.bind(fd, address), "binding the AF_XDP socket (copy mode)");
    const frames = Math.min(pool.count, ringSize);
    for (let f = 0; f < frames; f++) this.fill(f);
    rings.fill.producer = rings.fill.producer + frames;
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

  /** Writes frame `frame`'s chunk address at the fill ring's producer + k (not yet published). */
  private fill(frame: number, k = frame): void {
    const ring = this.#rings!.fill,
      at = ring.descAt + 2 * ((ring.producer + k) & (ring.size - 1)),
      chunk = frame * this.pool.frameSize;
    ring.words[at] = chunk >>> 0;
    ring.words[at + 1] = Math.floor(chunk / 2 ** 32);
  }

  /**
   * Takes up to `max` (default: the burst's capacity) received packets off the rx ring: selects their frames in the burst
   * and sets each frame's head, length and metadata length (the pool's) from its descriptor. Returns
   * how many. Throws TraitsError EBADMSG (changing nothing) for a descriptor outside the pool, or whose
   * packet does not fit its frame after the metadata area.
   */
  receive(burst: Burst, max: number = burst.capacity): number {
    const rings = this.live(),
      rx = rings.rx,
      pool = this.pool;
    if (burst.pool !== pool) throw new TraitsError("EINVAL", "receive(): the burst belongs to another pool");
    const consumer = rx.consumer,
      n = Math.min((rx.producer - consumer) >>> 0, burst.capacity, max),
      frames = burst.frames(),
      w = rx.words;
    const heads = new Uint32Array(n),
      lengths = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const at = rx.descAt + 4 * ((consumer + i) & (rx.size - 1)),
        high = w[at + 1]!,
        address = w[at]!,
        length = w[at + 2]!;
      const frame = Math.floor(address / pool.frameSize),
        head = address % pool.frameSize;
      if (high !== 0 || frame >= pool.count || head < pool.metaLength || head + length > pool.dataEnd) {
        throw new TraitsError(
          "EBADMSG",
          `rx descriptor ${consumer + i}: address ${high * 2 ** 32 + address}, length ${length} is not a packet after a ${pool.metaLength}-byte metadata area inside a frame of the pool`,
        );
      }
      frames[i] = frame;
      heads[i] = head;
      lengths[i] = length;
    }
    for (let i = 0; i < n; i++) pool.setHead(frames[i]!, heads[i]!, lengths[i]!, pool.metaLength);
    rx.consumer = consumer + n;
    burst.selectFrames(undefined, n);
    return n;
  }

  /** Gives the frames the burst selects back to the kernel's fill ring (after receive() and their processing). */
  release(burst: Burst): void {
    const rings = this.live(),
      fill = rings.fill;
    if (burst.pool !== this.pool) throw new TraitsError("EINVAL", "release(): the burst belongs to another pool");
    const n = burst.length,
      frames = burst.frames();
    if (((fill.producer - fill.consumer) >>> 0) + n > fill.size)
      throw new TraitsError(
        "ENOSPC",
        `release(): the fill ring has room for ${fill.size - ((fill.producer - fill.consumer) >>> 0)} frames, not ${n}`,
      );
    for (let i = 0; i < n; i++) {
      const frame = frames[i]!;
      if (frame >= this.pool.count) throw new TraitsError("EINVAL", `release(): frame ${frame} is not in the pool`);
      this.fill(frame, i);
    }
    fill.producer = fill.producer + n;
    burst.selectFrames(undefined, 0);
  }

  /**
   * Transmits the packets of the frames the burst selects (data [head, head + length), the store is
   * not sent): puts a descriptor per frame on the tx ring and wakes the kernel until it has taken
   * them all (32 per wakeup in copy mode) or is busy, in which case the rest goes with the next
   * send(); it copies them out and hands the frames back through the completion ring (see reclaim). Returns how many
   * were queued: all, or as many as the tx ring had room for. Throws EINVAL for a frame not in the pool
   * or a burst of another pool, BpfError if the kernel refuses the wakeup (other than EAGAIN/ENOBUFS,
   * which mean "busy, call reclaim and retry").
   */
  send(burst: Burst): number {
    const tx = this.live().tx,
      pool = this.pool;
    if (burst.pool !== pool) throw new TraitsError("EINVAL", "send(): the burst belongs to another pool");
    const producer = tx.producer,
      room = tx.size - ((producer - tx.consumer) >>> 0),
      n = Math.min(room, burst.length),
      frames = burst.frames();
    for (let i = 0; i < n; i++) {
      const frame = burst.ranged ? burst.first + i : frames[i]!;
      if (frame >= pool.count) throw new TraitsError("EINVAL", `send(): frame ${frame} is not in the pool`);
      const at = tx.descAt + 4 * ((producer + i) & (tx.size - 1)),
        address = frame * pool.frameSize + pool.head(frame);
      tx.words[at] = address >>> 0;
      tx.words[at + 1] = Math.floor(address / 2 ** 32);
      tx.words[at + 2] = pool.length(frame);
      tx.words[at + 3] = 0;
    }
    tx.producer = producer + n;
    // In copy mode each wakeup transmits at most 32 descriptors (the kernel's TX_BATCH_SIZE) and then
    // answers EAGAIN: wake it until the ring is drained, or it is out of room (ENOBUFS: a full
    // completion ring) or busy (EBUSY): what is left then goes with the next send().
    for (let wakeups = 0; tx.consumer !== tx.producer && wakeups <= (n >>> 5) + 1; wakeups++) {
      if (this.#native.kick(this.#fd) >= 0) continue;
      const errno = this.#native.errno();
      if (errno === 11) continue;
      if (errno !== 105 && errno !== 16)
        throw new BpfError(errno, `waking the kernel to transmit on ${this.device} queue ${this.queue}`);
      break;
    }
    return n;
  }

  /**
   * Takes up to burst-capacity transmitted frames off the completion ring and selects them in the
   * burst (to release() them to the fill ring, or to send again). Returns how many. Throws EBADMSG for
   * a completion address outside the pool.
   */
  reclaim(burst: Burst): number {
    const completion = this.live().completion,
      pool = this.pool;
    if (burst.pool !== pool) throw new TraitsError("EINVAL", "reclaim(): the burst belongs to another pool");
    const consumer = completion.consumer,
      n = Math.min((completion.producer - consumer) >>> 0, burst.capacity),
      frames = burst.frames(),
      w = completion.words;
    for (let i = 0; i < n; i++) {
      const at = completion.descAt + 2 * ((consumer + i) & (completion.size - 1)),
        address = w[at]!,
        frame = Math.floor(address / pool.frameSize);
      if (w[at + 1] !== 0 || frame >= pool.count)
        throw new TraitsError("EBADMSG", `completion ${consumer + i}: address ${address} is not in the pool`);
      frames[i] = frame;
    }
    completion.consumer = consumer + n;
    burst.selectFrames(undefined, n);
    return n;
  }

  /** Packets waiting in the rx ring. */
  get pending(): number {
    const rx = this.live().rx;
    return (rx.producer - rx.consumer) >>> 0;
  }

  /** The rings; throws EINVAL after close(). */
  private live(): Rings {
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
    if (this.#rings) for (const ring of Object.values(this.#rings)) native.munmap(ring.map.pointer, ring.length);
    this.#rings = undefined;
    if (this.#fd >= 0) native.closeFd(this.#fd);
    this.#fd = -1;
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
