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
import { getNative, type Native } from "./ffi.js";
import { readDeclaration } from "./declaration.js";
import { XskProgram } from "./attach.js";
import { RECEIVE_PROGRAM } from "./programs.js";
import { Ring, XDP_PACKET_HEADROOM, XskRings, ringSizes, type XskSpan } from "./rings.js";

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
const POLLIN = 1;
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
