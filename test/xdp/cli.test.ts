// `packet-traits xdp run`, run as a user runs it (dist/cli/bin.js): the example program and a
// second one (test/fixtures/xdp/tagger.bpf.c, compiled here) over the sample capture; `pcap show`
// reads what they left, by name; Wireshark's plugin filters on the verdict; 200,000 packets stream from
// stdin to stdout in bounded memory; errors are one line with the right exit code, and leave no output file.
// Skipped, saying why, where bpf() is not permitted or clang is missing; with CI=true that fails instead.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writePcap } from "../../dist/capture/capture.js";
import { BpfError, XdpProgram } from "packet-traits/xdp";
import { installed, needs } from "../capture/helpers.js";
import { compileFixture, packetsOf as read } from "./helpers.js";

const CLI = join(import.meta.dirname, "../../dist/cli/bin.js");
const SAMPLE = join(import.meta.dirname, "../fixtures/sample.pcap");
const EXAMPLE = join(import.meta.dirname, "../../bpf/example.bpf.o");
const dir = mkdtempSync(join(tmpdir(), "xdp-cli-test-"));

/** Runs the CLI; returns its exit code, stdout and stderr. */
function cli(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

let reason = "",
  tagger = "",
  rxHash = "";
try {
  XdpProgram.load(EXAMPLE).close();
  tagger = compileFixture("tagger", dir);
  rxHash = compileFixture("rx-hash", dir);
} catch (error) {
  if (!(error instanceof BpfError) && !(error instanceof Error && /clang/.test(error.message))) throw error;
  reason = error.message;
}
const skip = reason !== "" && process.env.CI !== "true";
if (skip) console.warn(`xdp run tests skipped: ${reason}`);

/** The packets of a capture file: data and comments. */
const packetsOf = (file: string) => read(readFileSync(file));

type Entry = { key: number; name: string; value: string; hex: string };
/** `pcap show --json` (JSON Lines), each packet's entries by name (or key number where unnamed). */
function shown(args: string[]): Array<{ packet: number; traits: Record<string, Entry> | null }> {
  return cli(["pcap", "show", ...args, "--json"])
    .out.trim()
    .split("\n")
    .map((line) => {
      const { packet, entries } = JSON.parse(line) as { packet: number; entries: Entry[] | null };
      return { packet, traits: entries && Object.fromEntries(entries.map((e) => [e.name || String(e.key), e])) };
    });
}

describe.skipIf(skip)(`packet-traits xdp run${skip ? ` skipped: ${reason}` : ""}`, () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const need = () => {
    if (reason) throw new Error(reason);
  };

  it("the example program: every packet with its traits and verdict, which pcap show prints; data unchanged", () => {
    need();
    const out = join(dir, "example.pcapng");
    const r = cli(["xdp", "run", EXAMPLE, SAMPLE, out]);
    expect([r.code, r.err, r.out.trim()]).toEqual([0, "", `xdp run: 5 packets (5 XDP_PASS): ${out}`]);
    const packets = shown([out]);
    expect(packets.map((p) => [p.traits!["0"]!.value, p.traits!.xdp_verdict!.value])).toEqual([
      ["0", "2"],
      ["1", "2"],
      ["2", "2"],
      ["3", "2"],
      ["4", "2"],
    ]);
    expect(packets.map((p) => Number(p.traits!.rx_hash!.value))).toEqual([
      0x51ccc178, 0x066f68a8, 0x40207d3d, 0x29d3b545, 0,
    ]);
    expect(packets[3]!.traits!.vlan_tci!.value).toBe(String(0x2064));
    const written = packetsOf(out),
      input = packetsOf(SAMPLE);
    expect(written.map((p) => p.data)).toEqual(input.map((p) => p.data));
    // The first comment is what wireshark/traits.lua parses ("traits: NAME=VALUE ..."), the second the verdict by name.
    expect(written[3]!.comments).toEqual([
      "traits: 0=3 xdp_verdict=0x2 rx_hash=0x29d3b545 rss_hash_type=0x29 vlan_tci=0x2064 vlan_proto=0x8100 crc32:43371892",
      "xdp: XDP_PASS",
    ]);
    // Annotated again, a packet's old traits go with their comments, the verdict's included.
    const again = join(dir, "again.pcapng");
    expect(cli(["pcap", "annotate", out, again, "--comment"]).code).toBe(0);
    expect(packetsOf(again)[3]!.comments).toEqual([expect.stringMatching(/^traits: packet_id=3 rx_hash=0x29d3b545 /)]);
  });

  it("another program (flags profile, its own keys, verdicts TX and DROP, a rewritten byte) works the same way", () => {
    need();
    const out = join(dir, "tagger.pcapng");
    const registry = join(dir, "tagger.json");
    expect(cli(["registry", "init", "--file", registry, "--profile", "flags"]).code).toBe(0);
    expect(cli(["registry", "add", "seen", "0", "--key", "3", "--file", registry]).code).toBe(0);
    expect(cli(["registry", "add", "length", "4", "--key", "7", "--file", registry]).code).toBe(0);
    const r = cli(["xdp", "run", tagger, SAMPLE, out, "--registry", registry, "--program", "tagger"]);
    const input = packetsOf(SAMPLE),
      written = packetsOf(out);
    const verdicts = input.map((p) => ((p.data.length / 2) & 1 ? "XDP_DROP" : "XDP_TX")); // data in hex
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^xdp run: 5 packets \(/);
    shown([out]).forEach((p, i) => {
      expect(Object.values(p.traits!).map((t) => [t.key, t.name, t.value])).toEqual([
        [3, "seen", ""],
        [7, "length", String(input[i]!.data.length / 2)],
        [58, "xdp_verdict", verdicts[i] === "XDP_TX" ? "3" : "1"],
      ]);
      expect(written[i]!.data.slice(12, 14)).toBe("ee");
      expect(written[i]!.comments).toEqual([
        expect.stringMatching(/^traits: seen length=0x[0-9a-f]+ xdp_verdict=0x[13] crc32:[0-9a-f]{8}$/),
        `xdp: ${verdicts[i]}`,
      ]);
    });
  });

  it.runIf(needs(installed("tshark"), "tshark is not installed (apt-get install tshark; .ci/run installs it)"))(
    "wireshark/traits.lua reads xdp run's traits comment: a filter on the verdict by name",
    () => {
      need();
      const out = join(dir, "wireshark.pcapng"),
        plugin = join(import.meta.dirname, "../../wireshark/traits.lua");
      expect(cli(["xdp", "run", tagger, SAMPLE, out, "--profile", "flags", "--program", "tagger"]).code).toBe(0);
      const sent = packetsOf(SAMPLE).flatMap((p, i) => ((p.data.length / 2) & 1 ? [] : [String(i + 1)])); // even lengths: XDP_TX (3)
      const r = spawnSync(
        "tshark",
        [
          "-X",
          `lua_script:${plugin}`,
          "-r",
          out,
          "-Y",
          'traits.name == "xdp_verdict" && traits.value == 3',
          "-T",
          "fields",
          "-e",
          "frame.number",
        ],
        { encoding: "utf8" },
      );
      expect([r.stdout.trim().split("\n").filter(Boolean), sent.length > 0]).toEqual([sent, true]);
    },
  );

  it("errors: one line, exit 2 for usage and 1 for the kernel or the input, and no output file", () => {
    need();
    const out = join(dir, "never.pcapng"),
      bad = join(dir, "bad.pcap");
    writeFileSync(bad, Buffer.from("d4c3b2a1", "hex"));
    const cases: Array<[string[], number, RegExp]> = [
      [["xdp", "run", EXAMPLE, SAMPLE], 2, /xdp run takes PROG.o IN OUT \(see packet-traits --help\)/],
      [["xdp", "run", EXAMPLE, SAMPLE, out, "--bogus"], 2, /unknown option --bogus/],
      [["xdp", "run", EXAMPLE, SAMPLE, out, "-c", "x"], 2, /-c must be an integer/],
      [["xdp", "run", EXAMPLE, join(dir, "none.pcap"), out], 1, /ENOENT: cannot read/],
      [["xdp", "go"], 2, /unknown xdp action "go"/],
      [["xdp", "run", EXAMPLE, SAMPLE, out, "--verdict-key", "64"], 2, /--verdict-key must be an integer in 0..63/],
      [["xdp", "run", join(dir, "nope.o"), SAMPLE, out], 1, /ENOENT: no BPF object at/],
      [["xdp", "run", rxHash, SAMPLE, out], 1, /EINVAL: .*rx-metadata kfuncs/],
      [["xdp", "run", EXAMPLE, bad, out], 1, /EBADMSG: byte offset/],
      [
        ["xdp", "run", EXAMPLE, SAMPLE, out, "--verdict-key", "0"],
        1,
        /packet 0: the program's store uses key 0, where xdp run puts the verdict/,
      ],
    ];
    for (const [args, code, message] of cases) {
      const r = cli(args);
      expect([r.code, r.err.trim().split("\n").length, r.out], args.join(" ")).toEqual([code, 1, ""]);
      expect(r.err, args.join(" ")).toMatch(message);
      expect(existsSync(out)).toBe(false);
    }
  });

  it("streams: 200,000 packets from stdin to stdout, read by pcap show -c 3 as they come, and all of them in bounded memory", () => {
    need();
    const make = join(import.meta.dirname, "../../bench/pipeline.js");
    const r = spawnSync(
      "sh",
      ["-c", `node ${make} --make 200000 - | node ${CLI} xdp run ${EXAMPLE} - - | node ${CLI} pcap show - -c 3 --json`],
      { encoding: "utf8" },
    );
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { packet: number; entries: Entry[] });
    expect(lines.map((l) => [l.packet, l.entries.find((e) => e.name === "xdp_verdict")!.value])).toEqual([
      [0, "2"],
      [1, "2"],
      [2, "2"],
    ]);
    // All of it, in bounded memory (the whole-file version peaked at 560 MB here): every packet out, under 100 MB.
    const rss = join(dir, "rss"),
      all = spawnSync(
        "sh",
        [
          "-c",
          `node ${make} --make 200000 - | /usr/bin/time -f '%M' node ${CLI} xdp run ${EXAMPLE} - - 2> ${rss} | node ${CLI} pcap show - --json | wc -l`,
        ],
        { encoding: "utf8" },
      );
    expect([all.status, Number(all.stdout.trim())], all.stderr).toEqual([0, 200_000]);
    expect(Number(readFileSync(rss, "utf8").trim())).toBeLessThan(100 * 1024);
  }, 120_000);

  it("an error mid-way (a 10-byte packet after 20,000 good ones, past the first 1 MiB written) leaves no output and no temporary file", () => {
    need();
    const input = join(dir, "midway.pcap"),
      out = join(dir, "midway.pcapng"),
      good = new Uint8Array(64);
    good.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0]);
    writeFileSync(
      input,
      writePcap(1, [
        ...Array.from({ length: 20000 }, (_, i) => ({ timestampNs: BigInt(i) * 1000n, data: good })),
        { timestampNs: 0n, data: new Uint8Array(10) },
      ]),
    );
    const before = readdirSync(dir).sort();
    const r = cli(["xdp", "run", EXAMPLE, input, out]);
    expect([r.code, r.err.trim().split("\n").length]).toEqual([1, 1]);
    expect(r.err).toMatch(/EINVAL: packet 20000: 10 bytes is shorter than an Ethernet header/);
    expect(readdirSync(dir).sort()).toEqual(before);
  });
});
