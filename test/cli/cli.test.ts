// The command-line tool, run as a user runs it (the built dist/cli/bin.js): exit codes, stdout,
// stderr of decode and registry, and the conventions every command keeps. Captures: test/capture/.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const CLI = join(import.meta.dirname, "..", "..", "dist", "cli", "bin.js");
const _SAMPLE = join(import.meta.dirname, "..", "fixtures", "sample.pcap");
const dir = mkdtempSync(join(tmpdir(), "traits-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI; returns its exit code, stdout and stderr. */
function cli(args: string[], input?: string | Buffer): { code: number; out: string; err: string } {
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

describe("packet-traits decode reads no more than it needs (issue 22 item 11)", () => {
  /** Runs the CLI through a shell (for redirections); a command that never ends is killed after 20 s. */
  const sh = (command: string) => {
    const r = spawnSync("sh", ["-c", command], {
      encoding: "utf8",
      timeout: 20_000,
      env: { ...process.env, CLI: `${process.execPath} ${CLI}` },
    });
    return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
  };
  const EMPTY_64 = "store: 16 of 64 bytes in use, profile v1\nkey  name  length  hex  unsigned\n";

  it("a device that never ends: --capacity bytes of it, or an error past the stated limit, in bounded memory", () => {
    // Before: both read /dev/zero until memory ran out (8 GB in 30 s), and never finished.
    expect(sh("$CLI decode --file /dev/zero --capacity 64")).toMatchObject({ code: 0, out: EMPTY_64 });
    expect(sh("$CLI decode --file - --offset 5000000 --capacity 64 < /dev/zero")).toMatchObject({
      code: 0,
      out: EMPTY_64,
    });
    expect(sh("$CLI decode --file /dev/zero")).toMatchObject({
      code: 1,
      err: "packet-traits: EFBIG: /dev/zero: more than 1048576 bytes after offset 0; decode reads a region of at most 1048576 bytes: give --capacity N\n",
    });
    expect(sh("$CLI decode < /dev/zero")).toMatchObject({
      code: 1,
      err: "packet-traits: EFBIG: stdin: more than 4194304 bytes of hex text; decode reads at most that (for binary input: --file - --capacity N)\n",
    });
    // Peak memory: the region and a 64 KiB chunk, not the input.
    const rss = sh(
      `${process.execPath} --input-type=module -e 'import { main } from "${join(import.meta.dirname, "..", "..", "dist", "cli", "main.js")}"; const code = main(["decode", "--file", "-", "--offset", "300000000", "--capacity", "64"]); console.log(code, process.resourceUsage().maxRSS)' < /dev/zero`,
    );
    const [code, maxRss] = rss.out.trim().split("\n").at(-1)!.split(" ").map(Number);
    expect([rss.signal, code]).toEqual([null, 0]);
    expect(maxRss).toBeLessThan(120 * 1024); // kB
  });

  it("a FIFO whose writer never stops: reads offset + capacity bytes and ends", () => {
    const fifo = join(dir, "endless.fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const writer = spawn("sh", ["-c", `exec cat /dev/zero > ${fifo}`], { stdio: "ignore" });
    try {
      expect(sh(`$CLI decode --file ${fifo} --offset 100000 --capacity 64 --json`)).toMatchObject({
        code: 0,
        out: expect.stringContaining('"capacity": 64'),
      });
    } finally {
      writer.kill();
    }
  });

  it("a region past the end of a file: one line saying where the file ends", () => {
    const file = join(dir, "short.bin");
    writeFileSync(file, Buffer.from(STORE, "hex")); // 30 bytes
    expect(cli(["decode", "--file", file, "--offset", "40"])).toMatchObject({
      code: 1,
      err: `packet-traits: EINVAL: ${file} ends at byte 30, before --offset 40\n`,
    });
    expect(cli(["decode", "--file", file, "--offset", "8", "--capacity", "30"])).toMatchObject({
      code: 1,
      err: `packet-traits: EINVAL: ${file} ends at byte 30: --offset 8 --capacity 30 needs 38\n`,
    });
    expect(cli(["decode", "--file", file, "--capacity", "2000000"])).toMatchObject({
      code: 2,
      err: 'packet-traits: --capacity must be an integer in 0..1048576, not "2000000" (see packet-traits --help)\n',
    });
    expect(cli(["decode", "--file", file, "--capacity", "30"]).out).toMatch(/^store: 30 of 30 bytes in use/);
    expect(cli(["decode", "--file", "-", "--capacity", "30"], Buffer.from(STORE, "hex")).out).toMatch(
      /^store: 30 of 30 bytes in use/,
    );
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
      ["pcap", "export", "--help"],
      ["wireshark", "--help"],
    ]) {
      const r = cli(args);
      expect(`${r.code} ${r.err}`, args.join(" ")).toBe("0 ");
      expect(r.out, args.join(" ")).toMatch(/^usage: packet-traits /);
    }
    expect(cli(["decode", "--help"]).out).toMatch(/--hardware-keys keys/);
    expect(cli(["pcap", "annotate", "--help"]).out).toMatch(/-c, --count N/);
    // Every pcap action is listed where the commands are: the top-level usage and pcap --help.
    expect(cli(["--help"]).out).toMatch(/^ {2}pcap export IN OUT\.parquet /m);
    expect(cli(["pcap", "--help"]).out).toMatch(/^ {2}--rows-per-file N /m);
  });

  it("wireshark --plugin-path: the plugin shipped in the package", () => {
    const r = cli(["wireshark", "--plugin-path"]);
    expect(r).toMatchObject({ code: 0, err: "" });
    expect(r.out).toBe(`${join(import.meta.dirname, "..", "..", "wireshark", "traits.lua")}\n`);
    expect(readFileSync(r.out.trim(), "utf8")).toMatch(/Proto\("traits"/);
    expect(cli(["wireshark"])).toMatchObject({
      code: 2,
      err: "packet-traits: wireshark takes --plugin-path (see packet-traits --help)\n",
    });
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
      [["pcap", "frob"], 'unknown pcap action "frob" (annotate, show, export)'],
      [["pcap", "show", "f", "-c", "many"], '-c must be an integer in 0..9007199254740991, not "many"'],
      [["pcap", "show", "f", "-c", "-1"], '-c must be an integer in 0..9007199254740991, not "-1"'],
      [["pcap", "annotate", "a", "b", "--count", "-2.5"], '-c must be an integer in 0..9007199254740991, not "-2.5"'],
      [["decode", "--file", "f", "--offset", "-8"], '--offset must be an integer in 0..9007199254740991, not "-8"'],
      [["pcap", "show", "f", "-c", "-x"], "-c needs a value"],
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
