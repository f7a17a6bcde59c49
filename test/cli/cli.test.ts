// The command-line tool, run as a user runs it (the built dist/cli/bin.js): exit codes, stdout,
// stderr of decode and registry, and the conventions every command keeps. Captures: test/capture/.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const CLI = join(import.meta.dirname, "..", "..", "dist", "cli", "bin.js");
const _SAMPLE = join(import.meta.dirname, "..", "fixtures", "sample.pcap");
const dir = mkdtempSync(join(tmpdir(), "traits-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI; returns its exit code, stdout and stderr. */
function cli(args: string[], input?: string): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", input });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const STORE = "00040000000100000800000000010000" + "3412efbeadde0807060504030201"; // keys 3 (2 B), 10 (4 B), 40 (8 B)

describe("packet-traits decode", () => {
  it("prints a table of the keys, by name, from a hex argument, stdin or a file", () => {
    const r = cli(["decode", STORE, "--key", "vlan=3:2", "--key", "packet_id=40:8"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/store: 30 of 30 bytes in use, profile v1/);
    expect(r.out).toMatch(/3\s+vlan\s+2\s+3412\s+4660/);
    expect(r.out).toMatch(/10\s+4\s+efbeadde\s+3735928559/);
    expect(r.out).toMatch(/40\s+packet_id\s+8\s+0807060504030201\s+72623859790382856/);
    expect(cli(["decode"], `0x${STORE.slice(0, 32)}\n${STORE.slice(32)}\n`).out).toMatch(/3412/);
    const file = join(dir, "store.bin");
    writeFileSync(file, Buffer.concat([Buffer.alloc(8, 0xee), Buffer.from(STORE, "hex"), Buffer.alloc(4, 0xee)]));
    const json = JSON.parse(cli(["decode", "--file", file, "--offset", "8", "--capacity", "34", "--json"]).out);
    expect(json).toMatchObject({ profile: "v1", capacity: 34, size: 30 });
    expect(json.entries.map((e: { key: number; value: string }) => [e.key, e.value])).toEqual([
      [3, "4660"],
      [10, "3735928559"],
      [40, "72623859790382856"],
    ]);
  });

  it("names keys from a registry file, and hardware keys with --hardware-keys keys", () => {
    const registry = join(dir, "names.json");
    writeFileSync(registry, JSON.stringify({ version: 1, profile: "v1", keys: { flow_hash: { key: 10, size: 4 } } }));
    expect(cli(["decode", STORE, "--registry", registry]).out).toMatch(/10\s+flow_hash\s+4/);
    const hw = "0000000000000008" + "0000000000000000" + "2a000000"; // key 59 (rx_hash, placement keys) holding 4 bytes
    expect(cli(["decode", hw, "--hardware-keys", "keys"]).out).toMatch(/59\s+rx_hash/);
  });

  it.each([
    [["decode", "ffff"], 1, /^packet-traits: ENOMEM: a store needs at least its 16-byte header; got 2 bytes\n$/],
    [["decode", "zz00"], 1, /^packet-traits: EINVAL: bad hex: "z" at character 0\n$/],
    [["decode", "abc"], 1, /odd number of digits/],
    [["decode", `${"ff".repeat(16)}00`], 1, /^packet-traits: EBADMSG: .*declares 528 bytes but the capacity is 17\n$/],
    [["decode", STORE, "--nope"], 2, /^packet-traits: unknown option --nope \(see packet-traits --help\)\n$/],
    [["decode", STORE, "--profile", "v3"], 1, /profile must be "v1" or "flags"/],
    [["decode", STORE, "--key", "bad"], 2, /expected NAME=KEY:LEN/],
    [["decode", "--file", join(tmpdir(), "does-not-exist")], 1, /ENOENT|no such file/],
    [["frobnicate"], 2, /unknown command "frobnicate"/],
  ])("%j fails with exit code %i and one line", (args, code, message) => {
    const r = cli(args as string[]);
    expect(r.code).toBe(code);
    expect(r.err).toMatch(message as RegExp);
    expect(r.err.split("\n").filter(Boolean).length).toBeLessThanOrEqual(1);
  });
});

describe("packet-traits registry", () => {
  it("init, add, ls, rm through the file, with the library's validation", () => {
    const file = join(dir, "cli-registry.json");
    expect(cli(["registry", "init", "--file", file]).code).toBe(0);
    expect(cli(["registry", "init", "--file", file])).toMatchObject({
      code: 1,
      err: expect.stringMatching(/EEXIST: .* already exists/),
    });
    expect(cli(["registry", "add", "packet_id", "8", "--file", file, "--key", "5", "--description", "seq"]).out).toBe(
      "packet_id = key 5\n",
    );
    expect(cli(["registry", "add", "flow_hash", "4", "--file", file]).out).toBe("flow_hash = key 0\n");
    expect(cli(["registry", "add", "packet_id", "4", "--file", file])).toMatchObject({
      code: 1,
      err: expect.stringMatching(/EEXIST: packet_id is registered as key 5 with size 8, not 4/),
    });
    expect(cli(["registry", "add", "Bad", "4", "--file", file]).code).toBe(1);
    expect(cli(["registry", "ls", "--file", file]).out).toMatch(/ {2}5 {5}8 {2}packet_id {2}\(seq\)/);
    expect(JSON.parse(cli(["registry", "ls", "--file", file, "--json"]).out).keys.flow_hash).toEqual({
      key: 0,
      size: 4,
    });
    expect(cli(["registry", "rm", "flow_hash", "--file", file]).code).toBe(0);
    expect(cli(["registry", "rm", "flow_hash", "--file", file])).toMatchObject({
      code: 1,
      err: expect.stringMatching(/ENOENT/),
    });
    expect(cli(["registry", "ls"]).code).toBe(2);
    expect(cli(["registry", "move", "--file", file]).code).toBe(2);
  });
});

describe("command-line conventions", () => {
  it("-h/--help globally and for every command: usage on stdout, exit 0", () => {
    for (const args of [
      ["-h"],
      ["--help"],
      ["decode", "--help"],
      ["decode", "-h"],
      ["registry", "--help"],
      ["pcap", "--help"],
      ["pcap", "annotate", "-h"],
      ["pcap", "show", "--help"],
    ]) {
      const r = cli(args);
      expect(`${r.code} ${r.err}`, args.join(" ")).toBe("0 ");
      expect(r.out, args.join(" ")).toMatch(/^usage: packet-traits /);
    }
    expect(cli(["decode", "--help"]).out).toMatch(/--hardware-keys keys/);
    expect(cli(["pcap", "annotate", "--help"]).out).toMatch(/-c, --count N/);
  });

  it("--version", () => {
    const version = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8")).version;
    expect(cli(["--version"])).toMatchObject({ code: 0, out: `packet-traits ${version}\n` });
  });

  it("usage errors: exit 2, one line on stderr (the usage itself on stderr without a command)", () => {
    const none = cli([]);
    expect([none.code, none.out]).toEqual([2, ""]);
    expect(none.err).toMatch(/^usage: packet-traits /);
    for (const [args, message] of [
      [["pcap", "annotate", "x"], "pcap annotate takes IN OUT"],
      [["pcap", "show", "--registry"], "--registry needs a value"],
      [["pcap", "annotate", "a", "b", "-x"], "unknown option -x"],
      [["pcap", "frob"], 'unknown pcap action "frob" (annotate, show)'],
      [["pcap", "show", "f", "-c", "many"], '-c must be an integer in 0..9007199254740991, not "many"'],
    ] as const) {
      const r = cli([...args]);
      expect(`${r.code} ${r.out} ${r.err}`, args.join(" ")).toBe(
        `2  packet-traits: ${message} (see packet-traits --help)\n`,
      );
    }
  });

  it("--opt=value and -c N, as parseArgs reads them", () => {
    const registry = join(dir, "eq.json");
    writeFileSync(registry, JSON.stringify({ version: 1, profile: "v1", keys: { flow_hash: { key: 10, size: 4 } } }));
    expect(cli(["decode", STORE, `--registry=${registry}`, "--key=vlan=3:2"]).out).toMatch(
      /3\s+vlan\s+2[\s\S]*10\s+flow_hash\s+4/,
    );
    const sample = join(import.meta.dirname, "..", "fixtures", "sample.pcap"),
      out = join(dir, "c.pcapng");
    expect(cli(["pcap", "annotate", sample, out, "-c", "2"]).out).toBe(`annotated 2 packets: ${out}\n`);
    expect(cli(["pcap", "show", out, "--count=1"]).out).toMatch(/^packet 0:\n( {2}.*\n)+$/);
  });
});
