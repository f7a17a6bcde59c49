// XdpProgram: XDP programs run over a PacketPool's frames (placement "metadata") with
// BPF_PROG_TEST_RUN; what they leave in the metadata area is each frame's store, read by the batch
// operations of both implementations, and their verdicts are the burst's statuses. Two programs:
// the shipped example, and test/fixtures/xdp/tagger.bpf.c (another metadata length and profile,
// compiled here with clang). Skipped, saying why, where bpf() is not permitted or clang is missing;
// with CI=true that fails instead.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Errno, HardwareKey, PacketPool } from "packet-traits";
import { BpfError, XdpAction, XdpProgram, xdpActionName } from "packet-traits/xdp";
import { IMPLS, hex } from "../helpers.js";

const EXAMPLE = join(import.meta.dirname, "../../bpf/example.bpf.o");
const FIXTURES = join(import.meta.dirname, "../fixtures/xdp");
const built = mkdtempSync(join(tmpdir(), "xdp-program-test-"));

/** Compiles test/fixtures/xdp/NAME.bpf.c into the temporary directory; returns the object's path, or why not. */
function compile(name: string): string {
  const out = join(built, `${name}.bpf.o`);
  const cc = spawnSync(
    "clang",
    [
      "-target",
      "bpf",
      "-O2",
      "-g",
      "-Wall",
      "-Werror",
      "-I",
      `/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`,
      "-c",
      join(FIXTURES, `${name}.bpf.c`),
      "-o",
      out,
    ],
    { encoding: "utf8" },
  );
  if (cc.error)
    throw new Error(`clang not found (needed to build test/fixtures/xdp/${name}.bpf.c): ${cc.error.message}`);
  if (cc.status !== 0) throw new Error(`clang failed on ${name}.bpf.c: ${cc.stderr.trim().split("\n")[0]}`);
  return out;
}

let reason = "",
  tagger = "",
  rxHash = "";
try {
  XdpProgram.load(EXAMPLE).close();
  tagger = compile("tagger");
  rxHash = compile("rx-hash");
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
      const burst = pool.burst(8).selectFrames([0, 1, 2, 3, 4, 5, 9]);
      expect(program.run(pool, burst)).toBe(5);
      expect([...burst.status()]).toEqual([2, 2, 2, 2, 2, Errno.EINVAL, Errno.EINVAL]);
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
});
