// XdpProgram: XDP programs run over a PacketPool's frames (placement "metadata") with
// BPF_PROG_TEST_RUN; what they leave in the metadata area is each frame's store, read by the batch
// operations of both implementations, and their verdicts are the burst's statuses. Two programs:
// the shipped example, and test/fixtures/xdp/tagger.bpf.c (another metadata length and profile,
// compiled here with clang). Skipped, saying why, where bpf() is not permitted or clang is missing;
// with CI=true that fails instead.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Errno, HardwareKey, PacketPool } from "packet-traits";
import { BpfError, XdpAction, XdpProgram, xdpActionName } from "packet-traits/xdp";
import { linearLimit } from "../../dist/xdp/run.js";
import { IMPLS, hex } from "../helpers.js";
import { compileFixture } from "./helpers.js";

const EXAMPLE = join(import.meta.dirname, "../../bpf/example.bpf.o");
const built = mkdtempSync(join(tmpdir(), "xdp-program-test-"));

let reason = "",
  tagger = "",
  rxHash = "",
  edges = "";
try {
  XdpProgram.load(EXAMPLE).close();
  tagger = compileFixture("tagger", built);
  rxHash = compileFixture("rx-hash", built);
  edges = compileFixture("edges", built);
} catch (error) {
  if (!(error instanceof BpfError) && !(error instanceof Error && /clang/.test(error.message))) throw error;
  reason = error.message;
}
const skip = reason !== "" && process.env.CI !== "true";
if (skip) console.warn(`XdpProgram tests skipped: ${reason}`);

/** The frames of a little-endian classic pcap file. */
function frames(file: string): Uint8Array[] {
  const bytes = readFileSync(file),
    out: Uint8Array[] = [];
  for (let at = 24; at + 16 <= bytes.length; ) {
    const length = bytes.readUInt32LE(at + 8);
    out.push(new Uint8Array(bytes.subarray(at + 16, at + 16 + length)));
    at += 16 + length;
  }
  return out;
}
const SAMPLE = frames(join(import.meta.dirname, "../fixtures/sample.pcap"));
// As test/xdp/example.test.ts: the hashes `pcap annotate` computes for the sample's frames.
const HASHES = [0x51ccc178, 0x066f68a8, 0x40207d3d, 0x29d3b545, 0];

describe.skipIf(skip)(`XdpProgram over a PacketPool${skip ? ` skipped: ${reason}` : ""}`, () => {
  afterAll(() => rmSync(built, { recursive: true, force: true }));
  const need = () => {
    if (reason) throw new Error(reason);
  };

  it.each(IMPLS)(
    "%s: the example's stores are the frames' stores; verdicts in the statuses; short and missing frames EINVAL",
    (impl) => {
      need();
      using program = XdpProgram.load(EXAMPLE);
      const pool = new PacketPool({ count: 8, impl, placement: "metadata", metaLength: 40, hardwareKeys: "keys" });
      SAMPLE.forEach((packet, f) => pool.write(f, packet));
      pool.write(5, new Uint8Array(10));
      const burst = pool.burst(8).selectFrames([0, 1, 2, 3, 4, 5, 9, 8]); // 8: the pool's count, the first frame past it
      expect(program.run(pool, burst)).toBe(5);
      expect([...burst.status()]).toEqual([2, 2, 2, 2, 2, Errno.EINVAL, Errno.EINVAL, Errno.EINVAL]);
      expect(
        burst
          .status()
          .slice(0, 5)
          .every((v) => v === XdpAction.PASS),
      ).toBe(true);
      SAMPLE.forEach((packet, f) => {
        expect(hex(pool.data(f)), `frame ${f} data`).toBe(hex(packet));
        expect([pool.head(f), pool.metaLengthOf(f)]).toEqual([256, 40]);
      });
      burst.selectRange(0, 5);
      expect(pool.batchGet(burst, 0)).toBe(5);
      expect(Array.from({ length: 5 }, (_, i) => burst.values64()[i * burst.slots])).toEqual([0n, 1n, 2n, 3n, 4n]);
      expect(pool.batchGet(burst, HardwareKey.RX_HASH)).toBe(5);
      expect(Array.from({ length: 5 }, (_, i) => burst.values()[2 * i * burst.slots])).toEqual(HASHES);
      expect(pool.traits(3).get(HardwareKey.VLAN_TCI)).toBe(0x2064);
      expect(program.run(pool, burst.selectRange(0, 1))).toBe(1); // runs again on what is in the frame now: the next id
      expect([pool.traits(0).get(0), hex(pool.data(0))]).toEqual([5n, hex(SAMPLE[0]!)]);
    },
  );

  it.each(IMPLS)(
    "%s: another program, another metadata length and profile: the store lands before the head, nothing else in the frame moves",
    (impl) => {
      need();
      using program = XdpProgram.load(tagger, { program: "tagger" });
      for (const metaLength of [40, 24]) {
        const pool = new PacketPool({ count: 2, impl, profile: "flags", placement: "metadata", metaLength });
        const packets = [60, 59].map((n) => {
          const packet = new Uint8Array(n).fill(0x5a);
          packet.set(SAMPLE[0]!.subarray(0, n));
          return packet;
        });
        packets.forEach((packet, f) => {
          pool.frameBytes(f).fill(0xa5);
          pool.write(f, packet);
        });
        const before = packets.map((_, f) => pool.frameBytes(f).slice());
        const burst = pool.burst(2).selectRange(0, 2);
        expect(program.run(pool, burst)).toBe(2);
        expect([...burst.status()].map(xdpActionName)).toEqual(["XDP_TX", "XDP_DROP"]);
        packets.forEach((packet, f) => {
          expect([pool.head(f), pool.metaLengthOf(f), pool.length(f)]).toEqual([256, 24, packet.length]);
          const want = packet.slice();
          want[6] = 0xee;
          expect(hex(pool.data(f))).toBe(hex(want));
          expect([pool.traits(f).keys(), pool.traits(f).get(7)]).toEqual([[3, 7], packet.length]);
          const after = pool.frameBytes(f),
            b = before[f]!;
          expect(hex(after.subarray(0, 232)), `frame ${f}: bytes before the metadata area`).toBe(
            hex(b.subarray(0, 232)),
          );
          expect(hex(after.subarray(256 + packet.length)), `frame ${f}: bytes after the packet`).toBe(
            hex(b.subarray(256 + packet.length)),
          );
        });
        expect(pool.batchHas(burst, 3)).toBe(2);
      }
    },
  );

  it("refuses a pool of placement frame, another pool's burst, and a program that needs a device (rx-metadata kfuncs)", () => {
    need();
    using program = XdpProgram.load(EXAMPLE);
    const frame = new PacketPool({ count: 1 }),
      meta = new PacketPool({ count: 1, placement: "metadata" });
    expect(() => program.run(frame, frame.burst(1))).toThrow(/create it with placement "metadata"/);
    expect(() => program.run(meta, frame.burst(1))).toThrow(/another pool/);
    expect(() => XdpProgram.load(rxHash)).toThrow(
      /EINVAL: .*rx-metadata kfuncs .* BPF_PROG_TEST_RUN cannot run such a program/,
    );
    expect(() => XdpProgram.load(tagger, { program: "nope" })).toThrow(/has no program nope/);
  });

  it("long packets: a program without frags support gets EMSGSIZE past the kernel's first buffer, not run; one with it runs on the whole packet", () => {
    need();
    const linear = linearLimit(),
      pool = new PacketPool({ count: 4, frameSize: 16384, placement: "metadata", metaLength: 24 });
    const packet = (n: number) => {
      const data = new Uint8Array(n).map((_, i) => (i * 7) & 255);
      data.set(SAMPLE[0]!.subarray(0, 14));
      return data;
    };
    const lengths = [linear, linear + 1, 9000, pool.dataEnd - pool.head(3)];
    const fill = () => lengths.forEach((n, f) => pool.write(f, packet(n)));
    {
      using example = XdpProgram.load(EXAMPLE);
      expect(example.frags).toBe(false);
      fill();
      const before = lengths.map((_, f) => pool.frameBytes(f).slice());
      const burst = pool.burst(4).selectRange(0, 4);
      expect(example.run(pool, burst)).toBe(1);
      expect([...burst.status()]).toEqual([XdpAction.PASS, Errno.EMSGSIZE, Errno.EMSGSIZE, Errno.EMSGSIZE]);
      for (const f of [1, 2, 3]) expect(hex(pool.frameBytes(f)), `frame ${f} unchanged`).toBe(hex(before[f]!));
      // Not run: the example's packet counter moved once (frame 0), so the next id is 1.
      expect(example.run(pool, burst.selectRange(0, 1))).toBe(1);
      expect(pool.traits(0).get(0)).toBe(1n);
    }
    using jumbo = XdpProgram.load(edges, { program: "jumbo" });
    expect(jumbo.frags).toBe(true);
    fill();
    const burst = pool.burst(4).selectRange(0, 4);
    expect(jumbo.run(pool, burst)).toBe(4);
    expect([...burst.status()]).toEqual([2, 2, 2, 2]);
    lengths.forEach((n, f) => {
      expect([pool.length(f), pool.traits(f).get(7)], `frame ${f}`).toEqual([n, n]);
      expect(hex(pool.data(f)), `frame ${f} data`).toBe(hex(packet(n)));
    });
  });

  it("verdicts: any u32 the program returns is the frame's verdict, named unknown outside enum xdp_action; from 2^31 the status is ERANGE and `verdicts` has it", () => {
    need();
    using program = XdpProgram.load(edges, { program: "edges" });
    const returned = [2, 5, 0x7fffffff, 0x80000000, 0xffffffea, 0xffffffff];
    const pool = new PacketPool({ count: returned.length, placement: "metadata" });
    returned.forEach((verdict, f) => {
      const data = new Uint8Array(60);
      data.set([0x88, 0xb5], 12);
      new DataView(data.buffer).setUint32(14, verdict, true);
      pool.write(f, data);
    });
    const burst = pool.burst(8).selectRange(0, returned.length),
      verdicts = new Uint32Array(8);
    expect(program.run(pool, burst, verdicts)).toBe(returned.length);
    expect([...verdicts.subarray(0, returned.length)]).toEqual(returned);
    expect([...burst.status()]).toEqual([2, 5, 0x7fffffff, Errno.ERANGE, Errno.ERANGE, Errno.ERANGE]);
    expect(returned.map(xdpActionName)).toEqual([
      "XDP_PASS",
      "unknown verdict 5",
      "unknown verdict 2147483647",
      "unknown verdict 2147483648",
      "unknown verdict 4294967274",
      "unknown verdict 4294967295",
    ]);
    expect(() => program.run(pool, burst, new Uint32Array(2))).toThrow(/verdicts must be a Uint32Array of at least 6/);
  });
});
