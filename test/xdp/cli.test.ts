// `packet-traits xdp run`, run as a user runs it (dist/cli/bin.js): the example program and a
// second one (test/fixtures/xdp/tagger.bpf.c, compiled here) over the sample capture; `pcap show`
// reads what they left; errors are one line with the right exit code, and leave no output file.
// Skipped, saying why, where bpf() is not permitted or clang is missing; with CI=true that fails instead.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readCapture } from "../../dist/cli/xdp-capture.js";
import { BpfError, XdpProgram } from "packet-traits/xdp";

const CLI = join(import.meta.dirname, "../../dist/cli/bin.js");
const SAMPLE = join(import.meta.dirname, "../fixtures/sample.pcap");
const EXAMPLE = join(import.meta.dirname, "../../bpf/example.bpf.o");
const dir = mkdtempSync(join(tmpdir(), "xdp-cli-test-"));

/** Runs the CLI; returns its exit code, stdout and stderr. */
function cli(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** Compiles test/fixtures/xdp/NAME.bpf.c; returns the object's path. */
function compile(name: string): string {
  const out = join(dir, `${name}.bpf.o`);
  const cc = spawnSync("clang", ["-target", "bpf", "-O2", "-g", "-I", `/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`, "-c", join(import.meta.dirname, `../fixtures/xdp/${name}.bpf.c`), "-o", out], { encoding: "utf8" });
  if (cc.error || cc.status !== 0) throw new Error(`clang could not build test/fixtures/xdp/${name}.bpf.c: ${cc.error?.message ?? cc.stderr.trim().split("\n")[0]}`);
  return out;
}

let reason = "", tagger = "", rxHash = "";
try {
  XdpProgram.load(EXAMPLE).close();
  tagger = compile("tagger");
  rxHash = compile("rx-hash");
} catch (error) {
  if (!(error instanceof BpfError) && !(error instanceof Error && /clang/.test(error.message))) throw error;
  reason = error.message;
}
const skip = reason !== "" && process.env.CI !== "true";
if (skip) console.warn(`xdp run tests skipped: ${reason}`);

type Entry = { key: number; name: string; value: string; hex: string };
/** `pcap show --json` (JSON Lines), each packet's entries by name (or key number where unnamed). */
function shown(args: string[]): Array<{ packet: number; traits: Record<string, Entry> | null }> {
  return cli(["pcap", "show", ...args, "--json"]).out.trim().split("\n").map((line) => {
    const { packet, entries } = JSON.parse(line) as { packet: number; entries: Entry[] | null };
    return { packet, traits: entries && Object.fromEntries(entries.map((e) => [e.name || String(e.key), e])) };
  });
}

describe.skipIf(skip)(`packet-traits xdp run${skip ? ` skipped: ${reason}` : ""}`, () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const need = () => { if (reason) throw new Error(reason); };

  it("the example program: every packet with its traits and verdict, which pcap show prints; data unchanged", () => {
    need();
    const out = join(dir, "example.pcapng");
    const r = cli(["xdp", "run", EXAMPLE, SAMPLE, out]);
    expect([r.code, r.err, r.out.trim()]).toEqual([0, "", `xdp run: 5 packets (5 XDP_PASS): ${out}`]);
    const packets = shown([out]);
    expect(packets.map((p) => [p.traits!["0"]!.value, p.traits!["58"]!.value])).toEqual([["0", "2"], ["1", "2"], ["2", "2"], ["3", "2"], ["4", "2"]]);
    expect(packets.map((p) => Number(p.traits!.rx_hash!.value))).toEqual([0x51ccc178, 0x066f68a8, 0x40207d3d, 0x29d3b545, 0]);
    expect(packets[3]!.traits!.vlan_tci!.value).toBe(String(0x2064));
    const written = readCapture(new Uint8Array(readFileSync(out))), input = readCapture(new Uint8Array(readFileSync(SAMPLE)));
    expect(written.packets.map((p) => Buffer.from(p.data).toString("hex"))).toEqual(input.packets.map((p) => Buffer.from(p.data).toString("hex")));
    const comment = Buffer.from(written.packets[3]!.options.find((o) => o.code === 1)!.value).toString();
    expect(comment).toBe("xdp: XDP_PASS; traits: 0=3 xdp_verdict=0x2 rx_hash=0x29d3b545 rss_hash_type=0x29 vlan_tci=0x2064 vlan_proto=0x81");
  });

  it("another program (flags profile, its own keys, verdicts TX and DROP, a rewritten byte) works the same way", () => {
    need();
    const out = join(dir, "tagger.pcapng");
    const r = cli(["xdp", "run", tagger, SAMPLE, out, "--profile", "flags", "--program", "tagger"]);
    const input = readCapture(new Uint8Array(readFileSync(SAMPLE))), written = readCapture(new Uint8Array(readFileSync(out)));
    const verdicts = input.packets.map((p) => (p.data.length & 1 ? "XDP_DROP" : "XDP_TX"));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^xdp run: 5 packets \(/);
    shown([out, "--profile", "flags"]).forEach((p, i) => {
      expect(Object.values(p.traits!).map((t) => [t.key, t.value])).toEqual([[3, ""], [7, String(input.packets[i]!.data.length)], [58, verdicts[i] === "XDP_TX" ? "3" : "1"]]);
      expect(written.packets[i]!.data[6]).toBe(0xee);
      expect(Buffer.from(written.packets[i]!.options.find((o) => o.code === 1)!.value).toString()).toMatch(new RegExp(`^xdp: ${verdicts[i]}; traits: 3=set 7=0x`));
    });
  });

  it("errors: one line, exit 2 for usage and 1 for the kernel or the input, and no output file", () => {
    need();
    const out = join(dir, "never.pcapng"), bad = join(dir, "bad.pcap");
    writeFileSync(bad, Buffer.from("d4c3b2a1", "hex"));
    const cases: Array<[string[], number, RegExp]> = [
      [["xdp", "run", EXAMPLE, SAMPLE], 2, /xdp run takes PROG.o IN OUT.pcapng \(see packet-traits --help\)/],
      [["xdp", "go"], 2, /unknown xdp action "go"/],
      [["xdp", "run", EXAMPLE, SAMPLE, out, "--verdict-key", "64"], 2, /--verdict-key must be a key in 0..63/],
      [["xdp", "run", join(dir, "nope.o"), SAMPLE, out], 1, /ENOENT: no BPF object at/],
      [["xdp", "run", rxHash, SAMPLE, out], 1, /EINVAL: .*rx-metadata kfuncs/],
      [["xdp", "run", EXAMPLE, bad, out], 1, /EBADMSG: byte offset/],
      [["xdp", "run", EXAMPLE, SAMPLE, out, "--verdict-key", "0"], 1, /packet 0: the program's store uses key 0, where xdp run puts the verdict/],
    ];
    for (const [args, code, message] of cases) {
      const r = cli(args);
      expect([r.code, r.err.trim().split("\n").length, r.out], args.join(" ")).toEqual([code, 1, ""]);
      expect(r.err, args.join(" ")).toMatch(message);
      expect(existsSync(out)).toBe(false);
    }
  });
});
