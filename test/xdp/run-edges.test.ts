// `packet-traits xdp run` at its edges, run as a user runs it: packets longer than the kernel's
// first buffer (run whole by an xdp.frags program, refused with their number and length otherwise,
// never cut), verdicts outside enum xdp_action (kept with their number), an original length that
// would pass 2^32 when the program grows the packet (saturated), and --profile against what the
// program declares or writes. The programs are test/fixtures/xdp/edges.bpf.c (compiled here) and
// the shipped example. Skipped, saying why, where bpf() is not permitted or clang is missing; with
// CI=true that fails instead.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writePcap } from "../../dist/capture/capture.js";
import { linearLimit } from "../../dist/xdp/run.js";
import { BpfError, XdpProgram } from "packet-traits/xdp";
import { checked, compileFixture, packetsOf as read } from "./helpers.js";

const CLI = join(import.meta.dirname, "../../dist/cli/bin.js");
const EXAMPLE = join(import.meta.dirname, "../../bpf/example.bpf.o");
const dir = mkdtempSync(join(tmpdir(), "xdp-run-edges-test-"));

let reason = "",
  edges = "";
try {
  XdpProgram.load(EXAMPLE).close();
  edges = compileFixture("edges", dir);
} catch (error) {
  if (!(error instanceof BpfError) && !(error instanceof Error && /clang/.test(error.message))) throw error;
  reason = error.message;
}
const skip = reason !== "" && process.env.CI !== "true";
if (skip) console.warn(`xdp run edge tests skipped: ${reason}`);

/** Runs the CLI; returns its exit code, stdout and stderr. */
function cli(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** An Ethernet frame of `length` bytes of EtherType `type`, its bytes a pattern of the length. */
function frame(length: number, type = 0x0800, word?: number): Uint8Array {
  const data = new Uint8Array(length).map((_, i) => (i * 13 + length) & 255);
  data.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, type >> 8, type & 255]);
  if (word !== undefined) new DataView(data.buffer).setUint32(14, word, true);
  return data;
}

/** Writes a pcap of the frames (original lengths optional); returns its path. */
function capture(name: string, frames: Array<{ data: Uint8Array; originalLength?: number }>): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    writePcap(
      1,
      frames.map((f, i) => ({ timestampNs: BigInt(i) * 1000n, ...f })),
    ),
  );
  return file;
}

/** The packets of a capture file. */
const packetsOf = (file: string) => read(readFileSync(file));

describe.skipIf(skip)(`packet-traits xdp run at its edges${skip ? ` skipped: ${reason}` : ""}`, () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const need = () => {
    if (reason) throw new Error(reason);
  };

  it("long packets: the first buffer's worth runs with any program; past it an xdp.frags program gets the whole packet, and another program is refused with the packet's number and length, leaving no output", () => {
    need();
    const linear = linearLimit(),
      lengths = [60, linear, linear + 1, 9000, 65280],
      input = capture(
        "jumbo.pcap",
        lengths.map((n) => ({ data: frame(n) })),
      );
    const whole = join(dir, "jumbo.pcapng"),
      r = cli(["xdp", "run", edges, input, whole, "--program", "jumbo"]);
    expect([r.code, r.err]).toEqual([0, ""]);
    const written = packetsOf(whole);
    expect(written.map((p) => [p.captured, p.original])).toEqual(lengths.map((n) => [n, n]));
    expect(written.map((p) => p.data)).toEqual(lengths.map((n) => Buffer.from(frame(n)).toString("hex")));
    expect(written.map((p) => p.comments[0])).toEqual(
      lengths.map((n) => checked(`traits: 7=0x${n.toString(16)} xdp_verdict=0x2`)),
    );

    const refused = join(dir, "refused.pcapng");
    const short = cli(["xdp", "run", EXAMPLE, capture("fits.pcap", [{ data: frame(linear) }]), refused]);
    expect([short.code, short.err]).toEqual([0, ""]);
    expect(packetsOf(refused)[0]!.captured).toBe(linear);
    rmSync(refused);
    const e = cli(["xdp", "run", EXAMPLE, input, refused]);
    expect([e.code, e.err.trim()]).toEqual([
      1,
      `packet-traits: EMSGSIZE: packet 2: ${linear + 1} bytes is over the ${linear} bytes the kernel gives an XDP program in one buffer; traits_example is not loaded with frags support (SEC("xdp.frags")), so it cannot take a longer packet`,
    ]);
    expect(existsSync(refused)).toBe(false);
    const over = cli([
      "xdp",
      "run",
      edges,
      capture("over.pcap", [{ data: frame(65281) }]),
      refused,
      "--program",
      "jumbo",
    ]);
    expect([over.code, over.err.trim()]).toEqual([
      1,
      "packet-traits: EMSGSIZE: byte offset 24: packet 0: 65281 bytes do not fit a 65536-byte frame after its 256-byte headroom (xdp run takes packets of up to 65280 bytes)",
    ]);
  });

  it("verdicts outside enum xdp_action, 2^31 and over included, are kept as the u32 they are and named unknown, with their number", () => {
    need();
    const returned = [2, 5, 0x80000000, 0xffffffea, 0xffffffff];
    const input = capture(
        "verdicts.pcap",
        returned.map((v) => ({ data: frame(60, 0x88b5, v) })),
      ),
      out = join(dir, "verdicts.pcapng");
    const r = cli(["xdp", "run", edges, input, out, "--program", "edges"]);
    expect([r.code, r.err, r.out.trim()]).toEqual([
      0,
      "",
      `xdp run: 5 packets (1 XDP_PASS, 1 unknown verdict 5, 1 unknown verdict 2147483648, 1 unknown verdict 4294967274, 1 unknown verdict 4294967295): ${out}`,
    ]);
    expect(packetsOf(out).map((p) => p.comments)).toEqual(
      returned.map((v) => [
        checked(`traits: xdp_verdict=0x${v.toString(16)}`),
        v === 2 ? "xdp: XDP_PASS" : `xdp: unknown verdict ${v}`,
      ]),
    );
  });

  it("an original length of 0xFFFFFFFF, grown by 64 bytes at the head, stays 0xFFFFFFFF (saturated), never below the captured length", () => {
    need();
    const input = capture("grow.pcap", [
        { data: frame(60, 0x88b6), originalLength: 0xffffffff },
        { data: frame(60, 0x88b6), originalLength: 1000 },
        { data: frame(60, 0x88b6) },
      ]),
      out = join(dir, "grow.pcapng");
    const r = cli(["xdp", "run", edges, input, out, "--program", "edges"]);
    expect([r.code, r.err]).toEqual([0, ""]);
    const written = packetsOf(out);
    expect(written.map((p) => [p.captured, p.original])).toEqual([
      [124, 0xffffffff],
      [124, 1064],
      [124, 124],
    ]);
    expect(written[0]!.data.slice(128)).toBe(Buffer.from(frame(60, 0x88b6)).toString("hex"));
  });

  it("--profile: another profile than the program declares is a usage error; a store of the other profile is named; the names option records the profile", () => {
    need();
    const sample = join(import.meta.dirname, "../fixtures/sample.pcap"),
      out = join(dir, "profile.pcapng");
    const declared = cli(["xdp", "run", EXAMPLE, sample, out, "--profile", "flags"]);
    expect([declared.code, declared.err.trim()]).toEqual([
      2,
      `packet-traits: ${EXAMPLE} writes stores of profile v1 (its TRAITS_PROGRAM declaration), not flags: pass --profile v1 (see packet-traits --help)`,
    ]);
    expect(existsSync(out)).toBe(false);
    const input = capture("flags.pcap", [{ data: frame(60) }, { data: frame(61, 0x88b7) }]);
    const wrong = cli(["xdp", "run", edges, input, out, "--program", "edges"]);
    expect([wrong.code, wrong.err.trim().split("\n").length]).toEqual([1, 1]);
    expect(wrong.err).toMatch(
      /^packet-traits: EBADMSG: packet 1: the program's 20-byte metadata area is not a traits store of profile v1 \(.*22 bytes.*\); it is one of profile flags: pass --profile flags$/m,
    );
    expect(existsSync(out)).toBe(false);
    const right = cli(["xdp", "run", edges, input, out, "--program", "edges", "--profile", "flags"]);
    expect([right.code, right.err]).toEqual([0, ""]);
    expect(packetsOf(out)[1]!.comments[0]).toBe(checked("traits: 3 7=0x3d xdp_verdict=0x2"));
    expect(readFileSync(out).includes("traits-keys flags ")).toBe(true);
  });
});
