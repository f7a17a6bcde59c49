// The command-line tool, run as a user runs it (the built dist/cli.js): exit codes, stdout, stderr;
// capture round trips; malformed captures at every block boundary; tshark reading our output.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readCapture } from "../../dist/capture/capture.js";

const CLI = join(import.meta.dirname, "..", "..", "dist", "cli", "bin.js");
const SAMPLE = join(import.meta.dirname, "..", "fixtures", "sample.pcap");
const dir = mkdtempSync(join(tmpdir(), "traits-cli-"));

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
    expect(json.entries.map((e: { key: number; value: string }) => [e.key, e.value])).toEqual([[3, "4660"], [10, "3735928559"], [40, "72623859790382856"]]);
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
    [["decode", "ff".repeat(16) + "00"], 1, /^packet-traits: EBADMSG: .*declares 528 bytes but the capacity is 17\n$/],
    [["decode", STORE, "--nope"], 2, /^packet-traits: unknown option --nope \(see packet-traits --help\)\n$/],
    [["decode", STORE, "--profile", "v3"], 1, /profile must be "v1" or "flags"/],
    [["decode", STORE, "--key", "bad"], 2, /expected NAME=KEY:LEN/],
    [["decode", "--file", join(tmpdir(), "does-not-exist")], 1, /ENOENT|no such file/],
    [["frobnicate"], 2, /unknown command "frobnicate"/],
    [[], 2, /^$/],
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
    expect(cli(["registry", "init", "--file", file])).toMatchObject({ code: 1, err: expect.stringMatching(/EEXIST: .* already exists/) });
    expect(cli(["registry", "add", "packet_id", "8", "--file", file, "--key", "5", "--description", "seq"]).out).toBe("packet_id = key 5\n");
    expect(cli(["registry", "add", "flow_hash", "4", "--file", file]).out).toBe("flow_hash = key 0\n");
    expect(cli(["registry", "add", "packet_id", "4", "--file", file])).toMatchObject({ code: 1, err: expect.stringMatching(/EEXIST: packet_id is registered as key 5 with size 8, not 4/) });
    expect(cli(["registry", "add", "Bad", "4", "--file", file]).code).toBe(1);
    expect(cli(["registry", "ls", "--file", file]).out).toMatch(/  5     8  packet_id  \(seq\)/);
    expect(JSON.parse(cli(["registry", "ls", "--file", file, "--json"]).out).keys.flow_hash).toEqual({ key: 0, size: 4 });
    expect(cli(["registry", "rm", "flow_hash", "--file", file]).code).toBe(0);
    expect(cli(["registry", "rm", "flow_hash", "--file", file])).toMatchObject({ code: 1, err: expect.stringMatching(/ENOENT/) });
    expect(cli(["registry", "ls"]).code).toBe(2);
    expect(cli(["registry", "move", "--file", file]).code).toBe(2);
  });
});

/** Annotates a capture to pcapng and shows it as JSON. */
function roundTrip(input: string, extra: string[] = []): Array<{ packet: number; traits: Record<string, { value: string; hex: string }> | null }> {
  const out = join(dir, `rt-${Math.random().toString(36).slice(2)}.pcapng`);
  const a = cli(["pcap", "annotate", input, out, ...extra]);
  expect(a.code, a.err).toBe(0);
  const s = cli(["pcap", "show", out, "--json", ...extra.filter((x, i, all) => x === "--registry" || all[i - 1] === "--registry")]);
  expect(s.code, s.err).toBe(0);
  return JSON.parse(s.out);
}

describe("packet-traits pcap", () => {
  it("annotates every packet with its id, capture time, RSS hash and type (and VLAN), as a NIC would", () => {
    const shown = roundTrip(SAMPLE);
    const pick = (i: number, name: string) => shown[i]!.traits![name]?.value;
    expect(shown.map((p) => pick(p.packet, "packet_id"))).toEqual(["0", "1", "2", "3", "4"]);
    expect(pick(0, "rx_hash")).toBe(String(0x51ccc178)); // Microsoft's RSS suite: IPv4 with TCP
    expect(pick(2, "rx_hash")).toBe(String(0x40207d3d)); // IPv6 with TCP
    expect([0, 1, 2, 3, 4].map((i) => pick(i, "rss_hash_type"))).toEqual(["25", "41", "26", "41", "0"]); // ARP: no RSS type
    expect(pick(0, "rx_timestamp")).toBe("1700000000000000000");
    expect(pick(1, "rx_timestamp")).toBe("1700000000001234567");
    expect([pick(3, "vlan_tci"), pick(3, "vlan_proto"), shown[3]!.traits!.vlan_proto!.hex]).toEqual([String(0x2064), String(0x8100), "8100"]);
    expect(pick(4, "rx_hash")).toBe("0");
  });

  it("sets --set keys from a registry, and reads its own output back the same (pcapng in, options replaced not doubled)", () => {
    const registry = join(dir, "capture-keys.json");
    writeFileSync(registry, JSON.stringify({ version: 1, profile: "v1", keys: { tenant: { key: 9, size: 2 } } }));
    const first = join(dir, "first.pcapng"), second = join(dir, "second.pcapng");
    expect(cli(["pcap", "annotate", SAMPLE, first, "--registry", registry, "--set", "tenant=0x2a", "--comment"]).code).toBe(0);
    expect(cli(["pcap", "annotate", first, second, "--registry", registry, "--set", "tenant=42", "--comment"]).code).toBe(0);
    const a = cli(["pcap", "show", first, "--registry", registry, "--json"]).out, b = cli(["pcap", "show", second, "--registry", registry, "--json"]).out;
    expect(b).toBe(a);
    expect(JSON.parse(a)[2].traits.tenant.value).toBe("42");
    expect(readFileSync(second).length).toBe(readFileSync(first).length);
    expect(cli(["pcap", "annotate", SAMPLE, join(dir, "x.pcapng"), "--set", "nobody=1"])).toMatchObject({ code: 1, err: expect.stringMatching(/nobody is not in the registry/) });
    expect(cli(["pcap", "annotate", SAMPLE, join(dir, "x.pcapng"), "--registry", registry, "--set", "tenant=70000"]).code).toBe(1);
    expect(cli(["pcap", "show", SAMPLE]).out).toMatch(/packet 0: no traits/);
  });

  it("reads both byte orders, pcap and pcapng, to the same traits", () => {
    const le = readFileSync(SAMPLE), be = Buffer.alloc(le.length);
    // Swap every 32/16-bit header field of the classic pcap to big-endian.
    be.writeUInt32BE(le.readUInt32LE(0), 0); be.writeUInt16BE(le.readUInt16LE(4), 4); be.writeUInt16BE(le.readUInt16LE(6), 6);
    for (const at of [8, 12, 16, 20]) be.writeUInt32BE(le.readUInt32LE(at), at);
    for (let at = 24; at < le.length; ) {
      const caplen = le.readUInt32LE(at + 8);
      for (const f of [0, 4, 8, 12]) be.writeUInt32BE(le.readUInt32LE(at + f), at + f);
      le.copy(be, at + 16, at + 16, at + 16 + caplen);
      at += 16 + caplen;
    }
    const bigPcap = join(dir, "big.pcap");
    writeFileSync(bigPcap, be);
    expect(roundTrip(bigPcap)).toEqual(roundTrip(SAMPLE));
    // A big-endian pcapng: section header, interface (ns resolution) and one packet, written by hand.
    const u32 = (x: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(x); return b; };
    const u16 = (x: number) => { const b = Buffer.alloc(2); b.writeUInt16BE(x); return b; };
    const blockOf = (type: number, body: Buffer) => Buffer.concat([u32(type), u32(12 + body.length), body, u32(12 + body.length)]);
    const packet = le.subarray(24 + 16, 24 + 16 + le.readUInt32LE(24 + 8));
    const padded = Buffer.concat([packet, Buffer.alloc((4 - (packet.length % 4)) % 4)]);
    const ticks = 1_700_000_000_000_000_000n;
    const ng = Buffer.concat([
      blockOf(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d), u16(1), u16(0), Buffer.alloc(8, 0xff)])),
      blockOf(1, Buffer.concat([u16(1), u16(0), u32(65535), u16(9), u16(1), Buffer.from([9, 0, 0, 0]), u32(0)])),
      blockOf(6, Buffer.concat([u32(0), u32(Number(ticks >> 32n)), u32(Number(ticks & 0xffffffffn)), u32(packet.length), u32(packet.length), padded])),
    ]);
    const bigNg = join(dir, "big.pcapng");
    writeFileSync(bigNg, ng);
    expect(roundTrip(bigNg)[0]).toEqual(roundTrip(SAMPLE)[0]);
  });

  it("passes other blocks and options through unchanged", () => {
    const u32 = (x: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(x); return b; };
    const u16 = (x: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(x); return b; };
    const blockOf = (type: number, body: Buffer) => Buffer.concat([u32(type), u32(12 + body.length), body, u32(12 + body.length)]);
    const packet = readFileSync(SAMPLE).subarray(40, 40 + 54);
    const nrb = blockOf(4, Buffer.concat([u16(1), u16(8), Buffer.from([10, 0, 0, 1]), Buffer.from("h1\0\0"), u32(0)]));
    const custom = blockOf(0x40000bad, Buffer.concat([u32(32473), Buffer.from("opaque!\0")]));
    const options = Buffer.concat([u16(2), u16(4), u32(0x1), u16(1), u16(5), Buffer.from("hello\0\0\0"), u32(0)]);
    const ng = Buffer.concat([
      blockOf(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d), u16(1), u16(0), Buffer.alloc(8, 0xff)])),
      blockOf(1, Buffer.concat([u16(1), u16(0), u32(65535)])),
      nrb,
      blockOf(6, Buffer.concat([u32(0), u32(0), u32(1), u32(54), u32(60), packet, Buffer.alloc(2), options])),
      custom,
    ]);
    const input = join(dir, "passthrough.pcapng"), output = join(dir, "passthrough-out.pcapng");
    writeFileSync(input, ng);
    expect(cli(["pcap", "annotate", input, output]).code).toBe(0);
    const out = readCapture(new Uint8Array(readFileSync(output)));
    expect(out.blocks.map((b) => b.type)).toEqual([0x0a0d0d0a, 1, 4, 6, 0x40000bad]);
    expect(Buffer.from(out.blocks[2]!.bytes).equals(nrb)).toBe(true);
    expect(Buffer.from(out.blocks[4]!.bytes).equals(custom)).toBe(true);
    expect(out.packets[0]!.options.map((o) => [o.code, Buffer.from(o.value).toString("latin1")])).toEqual([[2, "\x01\0\0\0"], [1, "hello"]]);
    expect(out.packets[0]!.originalLength).toBe(60);
  });

  it("refuses malformed captures at every block boundary with the byte offset, never a crash", () => {
    const good = join(dir, "good.pcapng");
    expect(cli(["pcap", "annotate", SAMPLE, good]).code).toBe(0);
    const bytes = readFileSync(good), view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const boundaries: number[] = [];
    for (let at = 0; at < bytes.length; at += view.getUint32(at + 4, true)) boundaries.push(at);
    expect(boundaries.length).toBe(7); // SHB, IDB, 5 EPBs
    const cases: Array<[string, Buffer]> = [];
    for (const at of boundaries) {
      for (const cut of [1, 4, 8, 11, 13]) cases.push([`truncated ${cut} bytes into the block at ${at}`, bytes.subarray(0, at + cut)]);
      const lengthBad = Buffer.from(bytes); lengthBad.writeUInt32LE(7, at + 4); cases.push([`block length 7 at ${at}`, lengthBad]);
      const huge = Buffer.from(bytes); huge.writeUInt32LE(0x7ffffffc, at + 4); cases.push([`block length past the end at ${at}`, huge]);
      const trailer = Buffer.from(bytes); const len = view.getUint32(at + 4, true); trailer.writeUInt32LE(len + 4, at + len - 4); cases.push([`trailing length at ${at}`, trailer]);
    }
    const epb = boundaries[2]!, caplen = Buffer.from(bytes); caplen.writeUInt32LE(5000, epb + 20); cases.push(["captured length past the block", caplen]);
    const iface = Buffer.from(bytes); iface.writeUInt32LE(3, epb + 8); cases.push(["undescribed interface", iface]);
    const option = Buffer.from(bytes); option.writeUInt16LE(500, epb + 28 + 56 + 2); cases.push(["option past the block", option]);
    cases.push(["not a capture", Buffer.from("hello world, not a capture")], ["empty", Buffer.alloc(0)], ["pcap header cut", readFileSync(SAMPLE).subarray(0, 20)], ["pcap record cut", readFileSync(SAMPLE).subarray(0, 60)]);
    for (const [what, data] of cases) {
      let error: unknown;
      try {
        readCapture(new Uint8Array(data));
      } catch (e) {
        error = e;
      }
      if (error !== undefined) expect(String(error), what).toMatch(/^TraitsError: EBADMSG: byte offset \d+: .+/);
    }
    // The command itself, on a few of them: one line on stderr, exit code 1.
    for (const [what, data] of [cases[3]!, cases[13]!, cases.at(-6)!, cases.at(-3)!]) {
      const file = join(dir, "bad.pcapng");
      writeFileSync(file, data);
      for (const args of [["pcap", "show", file], ["pcap", "annotate", file, join(dir, "bad-out.pcapng")]]) {
        const r = cli(args);
        expect(`${r.code} ${r.err}`, what).toMatch(/^1 packet-traits: EBADMSG: byte offset \d+: [^\n]+\n$/);
      }
    }
  });
});

const tshark = spawnSync("tshark", ["--version"], { encoding: "utf8" }).status === 0;
if (!tshark) console.warn("tshark is not installed: the tshark check of our pcapng output is SKIPPED (apt-get install tshark; .ci/run installs it)");

describe("tshark reads our pcapng", () => {
  it.skipIf(!tshark)("without a warning, showing the comment and the custom option", () => {
    const out = join(dir, "tshark.pcapng");
    expect(cli(["pcap", "annotate", SAMPLE, out, "--comment"]).code).toBe(0);
    const quiet = (stderr: string) => stderr.split("\n").filter((line) => line && !/^Running as user "root"/.test(line));
    const packets = spawnSync("tshark", ["-r", out], { encoding: "utf8" });
    expect(packets.status).toBe(0);
    expect(quiet(packets.stderr)).toEqual([]);
    expect(packets.stdout.trim().split("\n")).toHaveLength(5);
    expect(packets.stdout).not.toMatch(/Malformed/);
    const blocks = spawnSync("tshark", ["-X", "read_format:MIME Files Format", "-r", out, "-V"], { encoding: "utf8" });
    expect(blocks.status).toBe(0);
    expect(quiet(blocks.stderr)).toEqual([]);
    expect(blocks.stdout).toMatch(/Code: [^\n]*\(2989\)/);
    expect(blocks.stdout).toMatch(/Comment: traits: packet_id=0 rx_hash=0x51ccc178 rss_hash_type=0x19 rx_timestamp=1700000000000000000/);
    const comments = execFileSync("tshark", ["-r", out, "-T", "fields", "-e", "frame.comment"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    expect(comments.split("\n")[3]).toMatch(/vlan_tci=0x2064 vlan_proto=0x8100/);
  });
});
