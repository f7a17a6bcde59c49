// The user side of AF_XDP rings (XskRings, what XskSocket runs on the socket's mapped rings), here
// on rings in plain memory playing the kernel: every malformed descriptor the kernel could write is
// refused with EBADMSG and changes nothing (the ring, the pool's frames, the burst); frames are
// never handed out or given back twice; the marks find a metadata area other than the pool's. And
// XskSocket.open's checks that come before any system call (ring sizes, the program's declaration).
// Runs anywhere: no kernel, no privileges.
import { beforeEach, describe, expect, it } from "vitest";
import { Errno, PacketPool } from "packet-traits";
import { RECEIVE_META_LENGTH, XskSocket } from "packet-traits/xdp";
import { Ring, XskRings, ringSizes } from "../../dist/xdp/rings.js";
import { IMPLS, hex } from "../helpers.js";

const COUNT = 8,
  FRAME = 2048,
  META = RECEIVE_META_LENGTH,
  HEAD = 256,
  SIZE = 16;

/** A ring in its own memory: producer at byte 0, consumer at 64, entries from 128. */
const ring = (entry: number) => new Ring(new ArrayBuffer(128 + SIZE * entry), SIZE, 0, 64, 128);

describe.each(IMPLS)("%s: XskRings over rings in memory", (impl) => {
  let pool: PacketPool, rings: XskRings, woken: number;
  beforeEach(() => {
    pool = new PacketPool({
      count: COUNT,
      frameSize: FRAME,
      impl,
      placement: "metadata",
      metaLength: META,
      hardwareKeys: "keys",
    });
    woken = 0;
    rings = new XskRings(pool, ring(16), ring(8), ring(16), ring(8), "test0 queue 0", () => {
      woken++;
      return 0;
    });
    rings.fillFirst(COUNT);
  });

  /** Plays the kernel receiving a packet: the program's metadata area (`meta` bytes, a store) and the packet copied before and at `head`; the descriptor on the rx ring. */
  function deliver(
    frame: number,
    {
      head = HEAD,
      length = 60,
      meta = META,
      options = 0,
      address = frame * FRAME + head,
    }: { head?: number; length?: number; meta?: number; options?: number; address?: number } = {},
  ): void {
    if (frame < COUNT && head + length <= FRAME) {
      const bytes = pool.frameBytes(frame);
      bytes.fill(0, head - meta, head); // an empty store: a zero header
      bytes.fill(0xab, head, head + length);
    }
    const rx = rings.rx,
      at = rx.descAt + 4 * (rx.producer & (SIZE - 1));
    rx.words[at] = address % 2 ** 32;
    rx.words[at + 1] = Math.floor(address / 2 ** 32);
    rx.words[at + 2] = length;
    rx.words[at + 3] = options;
    rx.producer = rx.producer + 1;
  }

  /** Everything receive() could change: the rx consumer, every frame's head, length, metadata length and bytes, and the burst. */
  const state = (burst: ReturnType<PacketPool["burst"]>) => ({
    consumer: rings.rx.consumer,
    frames: Array.from({ length: COUNT }, (_, f) => [
      pool.head(f),
      pool.length(f),
      pool.metaLengthOf(f),
      hex(pool.frameBytes(f)),
    ]),
    burst: [burst.length, [...burst.frames()]],
  });

  it("takes good descriptors: frames selected, head, length and metadata set, status 0", () => {
    deliver(3);
    deliver(5, { length: FRAME - HEAD });
    const burst = pool.burst(4);
    expect(rings.receive(burst, 4)).toBe(2);
    expect([...burst.frames().subarray(0, 2)]).toEqual([3, 5]);
    expect([...burst.status()]).toEqual([0, 0]);
    expect([pool.head(5), pool.length(5), pool.metaLengthOf(5)]).toEqual([HEAD, FRAME - HEAD, META]);
    expect(pool.traits(3).keys()).toEqual([]);
  });

  const malformed: Array<[string, Parameters<typeof deliver>[1] & { frame?: number }, RegExp]> = [
    ["an address past 2^32", { address: 2 ** 32 + HEAD }, /is outside the UMEM/],
    ["the frame equal to the pool's count", { frame: COUNT }, /is outside the UMEM \(8 frames of 2048 bytes\)/],
    ["a frame far past the pool", { frame: 1000 }, /is outside the UMEM/],
    ["a packet at an offset not a multiple of 4", { head: HEAD + 2 }, /not a multiple of 4/],
    ["no room for the metadata area", { head: META - 4 }, /no room for the 48-byte metadata area/],
    ["an empty packet", { length: 0 }, /a packet of 0 bytes/],
    ["a packet one byte past the frame", { length: FRAME - HEAD + 1 }, /does not fit frame 2 after offset 256/],
    ["a length near 2^32", { length: 2 ** 32 - 1 }, /does not fit frame 2/],
    ["a multi-buffer descriptor (XDP_PKT_CONTD)", { options: 1 }, /options 0x1 \(a packet in several buffers/],
  ];
  it.each(malformed)("refuses %s with EBADMSG, changing nothing", (_, { frame = 2, ...descriptor }, message) => {
    deliver(1);
    const burst = pool.burst(4).selectFrames([6, 7]);
    rings.receive(pool.burst(4), 1); // frame 1 is the user's now
    deliver(frame, descriptor);
    const before = state(burst);
    expect(() => rings.receive(burst, 4)).toThrow(message);
    expect(() => rings.receive(burst, 4)).toThrow(
      /^EBADMSG: rx descriptor 1 on test0 queue 0 \(address \d+, length \d+\)/,
    );
    expect(state(burst)).toEqual(before);
  });

  it("refuses, changing nothing, a frame the kernel was not given: one the user holds, or one twice in a batch (a good descriptor before it taken back too)", () => {
    deliver(1);
    rings.receive(pool.burst(4), 1);
    const burst = pool.burst(4);
    deliver(1);
    let before = state(burst);
    expect(() => rings.receive(burst)).toThrow(/is frame 1, which the kernel was not given to fill$/);
    expect(state(burst)).toEqual(before);
    // A fresh set of rings, with a frame twice in one batch.
    rings = new XskRings(pool, ring(16), ring(8), ring(16), ring(8), "test0 queue 0", () => 0);
    rings.fillFirst(COUNT);
    deliver(4);
    deliver(4);
    before = state(burst);
    expect(() => rings.receive(burst)).toThrow(
      /is frame 4, which the kernel was not given to fill \(it is in this batch twice\)/,
    );
    expect(state(burst)).toEqual(before);
    rings.rx.producer = rings.rx.producer - 1; // the kernel takes the second back: the first now goes through
    expect(rings.receive(burst)).toBe(1);
  });

  it("the marks find a metadata area shorter or longer than the pool's: EBADMSG status, the packet still received", () => {
    deliver(0);
    deliver(1, { meta: META - 4 }); // the mark at the store's start is still there
    deliver(2, { meta: META + 4 }); // the mark before it was overwritten
    deliver(3, { meta: 0 });
    const burst = pool.burst(4);
    expect(rings.receive(burst)).toBe(4);
    expect([...burst.status()]).toEqual([0, Errno.EBADMSG, Errno.EBADMSG, Errno.EBADMSG]);
    expect([...burst.frames().subarray(0, 4)]).toEqual([0, 1, 2, 3]);
    // Released and filled again, each frame is marked again: the same area now passes.
    rings.release(burst);
    deliver(1);
    expect(rings.receive(burst)).toBe(1);
    expect(burst.status()[0]).toBe(0);
  });

  it("release: frames back to the fill ring once; a frame past the pool (== count), the kernel's or selected twice is EINVAL and nothing changes", () => {
    deliver(2);
    deliver(3);
    const burst = pool.burst(4);
    expect(rings.receive(burst)).toBe(2);
    const fill = rings.fill,
      producer = fill.producer;
    for (const [frames, message] of [
      [[2, COUNT], /frame 8 is not in the pool \(8 frames\)/],
      [[2, 4], /frame 4 is the kernel's \(released already\)/],
      [[2, 2], /frame 2 is the kernel's \(selected twice\)/],
    ] as const) {
      burst.selectFrames([...frames]);
      expect(() => rings.release(burst)).toThrow(message);
      expect([fill.producer, burst.length]).toEqual([producer, 2]);
    }
    burst.selectFrames([2, 3]);
    rings.release(burst);
    expect(fill.producer).toBe(producer + 2);
    burst.selectFrames([2]);
    expect(() => rings.release(burst)).toThrow(/frame 2 is the kernel's \(released already\)/);
  });

  it("send and reclaim: only the user's frames go out; completions of frames not sent, or past the pool, are EBADMSG and change nothing", () => {
    deliver(5);
    const burst = pool.burst(4);
    rings.receive(burst);
    burst.selectFrames([5, COUNT]);
    expect(() => rings.send(burst)).toThrow(/send\(\): frame 8 is not in the pool/);
    burst.selectFrames([4]);
    expect(() => rings.send(burst)).toThrow(/send\(\): frame 4 is the kernel's/);
    expect(rings.tx.producer).toBe(0);
    burst.selectFrames([5]);
    expect(rings.send(burst)).toBe(1);
    expect(woken).toBeGreaterThan(0);
    expect(() => rings.send(burst)).toThrow(/frame 5 is the kernel's \(sent and not reclaimed\)/);
    burst.selectFrames([5]);
    expect(() => rings.release(burst)).toThrow(/sent and not reclaimed/);
    const completion = rings.completion,
      complete = (address: number) => {
        const at = completion.descAt + 2 * (completion.producer & (SIZE - 1));
        completion.words[at] = address;
        completion.words[at + 1] = 0;
        completion.producer = completion.producer + 1;
      };
    const done = pool.burst(4).selectFrames([1]);
    for (const [address, message] of [
      [COUNT * FRAME + HEAD, /completion 0 on test0 queue 0: address 16640 is not in the pool/],
      [3 * FRAME + HEAD, /address 6400 is frame 3, which was not sent/],
    ] as const) {
      complete(address);
      expect(() => rings.reclaim(done)).toThrow(message);
      expect([completion.consumer, done.length, done.frames()[0]]).toEqual([0, 1, 1]);
      completion.producer = completion.producer - 1;
    }
    complete(5 * FRAME + HEAD);
    expect(rings.reclaim(done)).toBe(1);
    expect([...done.frames().subarray(0, 1)]).toEqual([5]);
    rings.release(done);
  });

  it("a socket over part of the pool (XskGroup's, its own UMEM from frame 4): fill addresses relative to its UMEM; a descriptor, release or send of another socket's frame is refused, changing nothing", () => {
    const span = { first: 4, count: 4, umemFirst: 4 };
    rings = new XskRings(pool, ring(16), ring(8), ring(16), ring(8), "test0 queue 1", () => 0, HEAD, span);
    rings.fillFirst(4);
    const fill = rings.fill;
    expect(Array.from({ length: 4 }, (_, k) => fill.words[fill.descAt + 2 * k])).toEqual([
      0,
      FRAME,
      2 * FRAME,
      3 * FRAME,
    ]);
    expect(rings.held()).toBe(0);
    // Frame 5 is at UMEM address 1 * FRAME + head.
    deliver(5, { address: FRAME + HEAD });
    const burst = pool.burst(4);
    expect(rings.receive(burst)).toBe(1);
    expect([burst.frames()[0], pool.head(5), rings.held()]).toEqual([5, HEAD, 1]);
    // Past the socket's 4 frames (UMEM frame 4 would be pool frame 8): refused.
    deliver(5, { address: 4 * FRAME + HEAD });
    const before = state(burst);
    expect(() => rings.receive(burst)).toThrow(
      /is outside the socket's frames \(4 frames of 2048 bytes from frame 4\)/,
    );
    expect(state(burst)).toEqual(before);
    // Frame 1 is the pool's but another socket's: not released or sent here.
    expect(() => rings.release(pool.burst(4).selectFrames([1]))).toThrow(
      /^EINVAL: release\(\): frame 1 is not one of this socket's frames \(4 from frame 4\)$/,
    );
    expect(() => rings.send(pool.burst(4).selectFrames([1]))).toThrow(/frame 1 is not one of this socket's frames/);
    // The tx descriptor of frame 5 is relative to the UMEM too.
    rings.rx.consumer = rings.rx.producer; // drop the refused descriptor, as a test may
    expect(rings.send(burst.selectFrames([5]))).toBe(1);
    expect(rings.tx.words[rings.tx.descAt]).toBe(FRAME + HEAD);
    expect(rings.held()).toBe(1); // sent, not yet reclaimed
  });

  it("need-wakeup: send() wakes the kernel only while the tx ring's flags word asks for it", () => {
    const flagged = (entry: number) => new Ring(new ArrayBuffer(128 + SIZE * entry), SIZE, 0, 64, 128, 96);
    const tx = flagged(16);
    let wakes = 0;
    rings = new XskRings(pool, ring(16), ring(8), tx, ring(8), "test0 queue 0", () => {
      wakes++;
      tx.consumer = tx.producer; // the kernel takes everything at once
      return 0;
    });
    rings.fillFirst(COUNT);
    deliver(2);
    deliver(3);
    const burst = pool.burst(4);
    rings.receive(burst);
    const flags = new Uint32Array(tx.words.buffer, 96, 1);
    rings.send(burst.selectFrames([2]));
    expect(wakes).toBe(0); // XDP_RING_NEED_WAKEUP clear: the kernel goes on by itself
    expect(tx.needsWakeup).toBe(false);
    flags[0] = 1;
    rings.send(burst.selectFrames([3]));
    expect([wakes, tx.needsWakeup]).toEqual([1, true]);
  });
});

describe.each(IMPLS)("%s: the rings XskSocket sizes (ringSizes)", (impl) => {
  it("a frame received and given straight back finds room in the fill ring before the kernel publishes having taken it", () => {
    // The kernel (xsk_flush) publishes the rx producer, then the fill consumer: in between, every frame
    // it took is both on the rx ring and still counted on the fill ring. Before: the fill ring had
    // ringSize entries, all filled at the start, and release() of the frames just received was ENOSPC.
    const ringSize = 8,
      sizes = ringSizes(ringSize),
      own = (entries: number, entry: number) => new Ring(new ArrayBuffer(128 + entries * entry), entries, 0, 64, 128),
      pool = new PacketPool({ count: ringSize, impl, placement: "metadata", metaLength: META, hardwareKeys: "keys" }),
      rx = own(sizes.rx, 16),
      fill = own(sizes.fill, 8),
      rings = new XskRings(pool, rx, fill, own(sizes.tx, 16), own(sizes.completion, 8), "test0 queue 0", () => 0);
    rings.fillFirst(Math.min(pool.count, ringSize)); // as XskSocket.open: every frame on the fill ring
    for (let k = 0; k < ringSize; k++) {
      // The kernel takes the fill ring's entries (not yet published) and delivers each frame on rx.
      const at = fill.descAt + 2 * ((fill.consumer + k) & (fill.size - 1)),
        address = fill.words[at]! + HEAD,
        d = rx.descAt + 4 * ((rx.producer + k) & (rx.size - 1));
      pool.frameBytes(address >> 11).fill(0, HEAD - META, HEAD);
      rx.words.set([address, 0, 60, 0], d);
    }
    rx.producer = rx.producer + ringSize;
    const burst = pool.burst(ringSize);
    expect(rings.receive(burst)).toBe(ringSize);
    rings.release(burst);
    fill.consumer = fill.consumer + ringSize; // the kernel publishes it now
    expect([fill.filled, burst.length]).toEqual([ringSize, 0]);
  });
});

describe("XskSocket.open: checks before any system call", () => {
  it("a ring larger than the pool can fill is EINVAL naming the limit (no OOM on 2 ** 31)", () => {
    const pool = new PacketPool({ count: 4096, placement: "metadata", metaLength: META, hardwareKeys: "keys" });
    for (const ringSize of [2 ** 31, 8192, 3, 1, 0.5])
      expect(() => XskSocket.open({ pool, device: "lo", ringSize })).toThrow(
        `EINVAL: ringSize must be a power of two from 2 to 4096 (the socket's 4096 frames, rounded up: a larger ring would never be filled), not ${ringSize}`,
      );
    const small = new PacketPool({ count: 1000, placement: "metadata", metaLength: META, hardwareKeys: "keys" });
    expect(() => XskSocket.open({ pool: small, device: "lo", ringSize: 2048 })).toThrow(/from 2 to 1024/);
  });

  it("a pool whose metadata length or profile is not what the program declares is EINVAL", () => {
    const pool = new PacketPool({ count: 64, placement: "metadata", metaLength: 52, hardwareKeys: "keys" });
    expect(() => XskSocket.open({ pool, device: "lo" })).toThrow(
      /EINVAL: .*receive\.bpf\.o makes a 48-byte metadata area \(its TRAITS_PROGRAM declaration\), not 52: give the pool metaLength 48/,
    );
    const flags = new PacketPool({
      count: 64,
      placement: "metadata",
      metaLength: META,
      profile: "flags",
      hardwareKeys: "keys",
    });
    expect(() => XskSocket.open({ pool: flags, device: "lo" })).toThrow(
      /writes stores of profile v1 \(its TRAITS_PROGRAM declaration\), not flags/,
    );
  });
});
