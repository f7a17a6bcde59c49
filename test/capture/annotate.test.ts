// pcap annotate and pcap show, run as a user runs them: traits from the capture's own bytes, every
// other block and option passed through, each defect of issue 13 (item 5) pinned, malformed input refused.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  SAMPLE,
  inProcess,
  block,
  blockOptions,
  blocks,
  cli,
  epb,
  epbOptions,
  idb,
  option,
  pcap,
  shb,
  showJson,
  tempDir,
  udp,
  valueOf,
} from "./helpers.js";

const dir = tempDir();
let serial = 0;
const file = (name: string, bytes?: Buffer): string => {
  const path = join(dir, `${serial++}-${name}`);
  if (bytes) writeFileSync(path, bytes);
  return path;
};

/** Annotates `input` (a path) with `args`; returns the output's path. */
function annotate(input: string, args: string[] = []): string {
  const out = file("out.pcapng"),
    r = cli(["pcap", "annotate", input, out, ...args]);
  expect(r.code, r.err).toBe(0);
  return out;
}

const registry = (keys: Record<string, { key: number; size: number }>): string =>
  file("keys.json", Buffer.from(JSON.stringify({ version: 1, profile: "v1", keys })));

describe("pcap annotate", () => {
  it("gives every packet its id, capture time, RSS hash and type (and VLAN), as a NIC would", () => {
    const shown = showJson(annotate(SAMPLE));
    expect(shown.map((p) => valueOf(shown, p.packet, "packet_id"))).toEqual(["0", "1", "2", "3", "4"]);
    expect(valueOf(shown, 0, "rx_hash")).toBe(String(0x51ccc178)); // Microsoft's RSS suite: IPv4 with TCP
    expect(valueOf(shown, 2, "rx_hash")).toBe(String(0x40207d3d)); // IPv6 with TCP
    expect([0, 1, 2, 3, 4].map((i) => valueOf(shown, i, "rss_hash_type"))).toEqual(["25", "41", "26", "41", "0"]);
    expect(valueOf(shown, 0, "rx_timestamp")).toBe("1700000000000000000");
    expect(valueOf(shown, 1, "rx_timestamp")).toBe("1700000000001234567");
    expect([
      valueOf(shown, 3, "vlan_tci"),
      valueOf(shown, 3, "vlan_proto"),
      shown[3]!.entries!.find((e) => e.name === "vlan_proto")!.hex,
    ]).toEqual([String(0x2064), String(0x8100), "8100"]);
    expect(valueOf(shown, 4, "rx_hash")).toBe("0");
  });

  it("sets --set keys, and reads its own output back the same (options replaced, not doubled)", () => {
    const keys = registry({ tenant: { key: 9, size: 2 } });
    const first = annotate(SAMPLE, ["--registry", keys, "--set", "tenant=0x2a", "--comment"]);
    const second = annotate(first, ["--registry", keys, "--set=tenant=42", "--comment"]);
    expect(cli(["pcap", "show", second, "--json"]).out).toBe(cli(["pcap", "show", first, "--json"]).out);
    expect(valueOf(showJson(first), 2, "tenant")).toBe("42");
    expect(readFileSync(second).length).toBe(readFileSync(first).length);
    expect(cli(["pcap", "annotate", SAMPLE, file("x.pcapng"), "--set", "nobody=1"])).toMatchObject({
      code: 1,
      err: expect.stringMatching(/nobody is not in the registry/),
    });
    expect(cli(["pcap", "show", SAMPLE]).out).toMatch(/packet 0: no traits/);
  });

  it("checks --set values when it parses them, whatever the capture (an empty one too)", () => {
    const keys = registry({ small: { key: 3, size: 2 }, word: { key: 4, size: 4 }, big: { key: 5, size: 8 } });
    const empty = file("empty.pcap", pcap([]));
    for (const [spec, input] of [
      ["big=18446744073709551616", SAMPLE],
      ["big=340282366920938463463374607431768211457", SAMPLE],
      ["small=70000", empty],
      ["word=0x100000000", empty],
    ] as const) {
      const r = cli(["pcap", "annotate", input, file("x.pcapng"), "--registry", keys, "--set", spec]);
      expect(`${r.code} ${r.err}`, spec).toMatch(/^1 packet-traits: EINVAL: --set .* does not fit .* bytes/);
    }
    expect(
      valueOf(showJson(annotate(SAMPLE, ["--registry", keys, "--set", "big=18446744073709551615"])), 0, "big"),
    ).toBe("18446744073709551615");
  });

  it("writes profile flags: flags set by name alone, VLAN keys in 4 bytes", () => {
    const keys = file(
      "flags.json",
      Buffer.from(
        JSON.stringify({
          version: 1,
          profile: "flags",
          keys: { seen: { key: 5, size: 0 }, tenant: { key: 6, size: 4 } },
        }),
      ),
    );
    const shown = showJson(
      annotate(SAMPLE, ["--profile", "flags", "--registry", keys, "--set", "seen", "--set", "tenant=7"]),
    );
    expect(shown[3]!.entries!.map((e) => [e.name, e.length, e.value])).toEqual([
      ["packet_id", 8, "3"],
      ["seen", 0, ""],
      ["tenant", 4, "7"],
      ["rx_hash", 4, String(0x29d3b545)],
      ["rss_hash_type", 4, "41"],
      ["vlan_tci", 4, String(0x2064)],
      ["vlan_proto", 4, String(0x8100)],
      ["rx_timestamp", 8, "1700000000003703701"],
    ]);
    expect(
      cli(["pcap", "annotate", SAMPLE, file("x.pcapng"), "--profile", "flags", "--registry", keys, "--set", "seen=1"])
        .err,
    ).toMatch(/seen is a flag; give --set seen without a value/);
  });

  it("never drops a user's comment, even one starting with traits:; replaces only its own", () => {
    const mine = Buffer.from("traits: the user's own note");
    const input = file("comments.pcapng", Buffer.concat([shb(), idb(), epb(udp(1), { opts: [option(1, mine)] })]));
    for (const args of [["--no-comment"], []]) {
      const once = annotate(input, args),
        twice = annotate(once, args);
      const comments = epbOptions(blocks(readFileSync(twice))[2]!)
        .filter((o) => o.code === 1)
        .map((o) => o.value.toString());
      expect(comments, args.join(" ")).toEqual(
        args.length
          ? ["traits: the user's own note"]
          : ["traits: the user's own note", expect.stringMatching(/^traits: packet_id=0 rx_hash=0x/)],
      );
    }
  });

  it("names keys only from the registry given, the capture itself or the hardware keys; others by number", () => {
    const keys = registry({ flow_tag: { key: 0, size: 4 }, tenant: { key: 7, size: 2 } });
    const out = annotate(SAMPLE, ["--registry", keys, "--set", "flow_tag=5", "--set", "tenant=9"]);
    const shown = showJson(out); // no --registry: the names come from the capture
    expect(shown[0]!.entries!.map((e) => [e.key, e.name])).toEqual([
      [0, "flow_tag"],
      [1, "packet_id"],
      [7, "tenant"],
      [59, "rx_hash"],
      [60, "rss_hash_type"],
      [63, "rx_timestamp"],
    ]);
    const section = blocks(readFileSync(out))[0]!;
    expect(blockOptions(section, 24).map((o) => [o.code, o.value.subarray(4).toString()])).toEqual([
      [
        2988,
        "traits-keys v1 flow_tag=0:4 packet_id=1:8 tenant=7:2 rx_hash=59:4 rss_hash_type=60:4 vlan_tci=61:2 vlan_proto=62:2 rx_timestamp=63:8",
      ],
    ]);
    // A capture without the names option (as older versions wrote it): only the hardware keys have names.
    const bytes = readFileSync(out),
      first = blocks(bytes)[0]!.bytes.length;
    const bare = file("bare.pcapng", Buffer.concat([shb(), bytes.subarray(first)]));
    expect(showJson(bare)[0]!.entries!.map((e) => e.name)).toEqual([
      "",
      "",
      "",
      "rx_hash",
      "rss_hash_type",
      "rx_timestamp",
    ]);
    expect(showJson(bare, ["--registry", keys])[0]!.entries!.map((e) => e.name)).toEqual([
      "flow_tag",
      "",
      "tenant",
      "rx_hash",
      "rss_hash_type",
      "rx_timestamp",
    ]);
  });

  it("masks a pcap link type's FCS bits (and keeps the FCS length), and refuses reserved bits", () => {
    const packet = Buffer.concat([udp(3), Buffer.alloc(4, 0xee)]);
    const out = annotate(file("fcs.pcap", pcap([packet], 0x04000001 | (2 << 28))));
    const [, iface] = blocks(readFileSync(out));
    expect(iface!.bytes.readUInt16LE(8)).toBe(1);
    expect(blockOptions(iface!, 16)).toEqual([{ code: 13, value: Buffer.from([4]) }]);
    expect(Number(valueOf(showJson(out), 0, "rx_hash"))).not.toBe(0);
    const r = cli(["pcap", "annotate", file("wide.pcap", pcap([packet], 70000)), file("x.pcapng")]);
    expect(`${r.code} ${r.err}`).toMatch(
      /^1 packet-traits: EBADMSG: byte offset 20: link type field 0x11170 has reserved bits set/,
    );
  });

  it("declares an unknown section length, as its blocks grow", () => {
    const input = file(
      "sized.pcapng",
      Buffer.concat([shb({ sectionLength: 20n + 20n + 32n + 64n }), idb(), epb(udp(1))]),
    );
    expect(blocks(readFileSync(annotate(input)))[0]!.bytes.readBigInt64LE(16)).toBe(-1n);
  });

  it("refuses what tshark refuses: pcapng 2.0, a simple packet block before any interface", () => {
    for (const [what, bytes, message] of [
      [
        "version 2.0",
        Buffer.concat([shb({ major: 2 }), idb(), epb(udp(1))]),
        /byte offset 12: pcapng version 2.0 is not supported/,
      ],
      [
        "SPB first",
        Buffer.concat([shb(), block(3, Buffer.concat([Buffer.from([64, 0, 0, 0]), udp(1)])), idb()]),
        /byte offset 28: simple packet block before any interface description block/,
      ],
    ] as const) {
      for (const command of [
        ["annotate", file(what), file("x.pcapng")],
        ["show", file(what)],
      ]) {
        writeFileSync(command[1]!, bytes);
        const r = cli(["pcap", ...command]);
        expect(`${r.code} ${r.err}`, what).toMatch(new RegExp(`^1 packet-traits: EBADMSG: ${message.source}`));
      }
    }
  });

  it("names the packet and byte offset of a timestamp out of range, and of a corrupt store", () => {
    const offset = Buffer.alloc(8);
    offset.writeBigInt64LE(-1_100_000_000_000n);
    const input = file(
      "offset.pcapng",
      Buffer.concat([
        shb(),
        idb({ opts: [option(14, offset)] }),
        epb(udp(0), { ticks: 5n }),
        epb(udp(1), { ticks: 5n }),
      ]),
    );
    const r = cli(["pcap", "annotate", input, file("x.pcapng")]);
    expect(`${r.code} ${r.err}`).toMatch(
      /^1 packet-traits: EBADMSG: byte offset 76: packet 0: timestamp -1099999999999999995000 ns is out of the range of rx_timestamp/,
    );
    const out = readFileSync(annotate(SAMPLE)),
      list = blocks(out),
      third = list[4]!;
    const at = out.indexOf(third.bytes) + 28 + 74 + 2 + 4 + 4; // data, padding, option header, PEN: the store
    out.writeUInt32LE(0xffffffff, at);
    const s = cli(["pcap", "show", file("corrupt.pcapng", out)]);
    expect(`${s.code} ${s.err}`).toMatch(/^1 packet-traits: EBADMSG: byte offset \d+: packet 2: .*declares/);
  });

  it("reads both byte orders, pcap and pcapng, to the same traits", () => {
    const le = readFileSync(SAMPLE),
      be = Buffer.alloc(le.length);
    be.writeUInt32BE(le.readUInt32LE(0), 0);
    be.writeUInt16BE(le.readUInt16LE(4), 4);
    be.writeUInt16BE(le.readUInt16LE(6), 6);
    for (const at of [8, 12, 16, 20]) be.writeUInt32BE(le.readUInt32LE(at), at);
    for (let at = 24; at < le.length; ) {
      const caplen = le.readUInt32LE(at + 8);
      for (const f of [0, 4, 8, 12]) be.writeUInt32BE(le.readUInt32LE(at + f), at + f);
      le.copy(be, at + 16, at + 16, at + 16 + caplen);
      at += 16 + caplen;
    }
    expect(showJson(annotate(file("big.pcap", be)))).toEqual(showJson(annotate(SAMPLE)));
    const packet = le.subarray(40, 40 + le.readUInt32LE(32));
    const ng = Buffer.concat([
      shb({ le: false }),
      idb({ le: false, opts: [option(9, Buffer.from([9]), false)] }),
      epb(packet, { le: false, ticks: 1_700_000_000_000_000_000n }),
    ]);
    expect(showJson(annotate(file("big.pcapng", ng)))[0]).toEqual(showJson(annotate(SAMPLE))[0]);
  });

  it("reads sections of both byte orders in one capture, each written back in its own", () => {
    const input = Buffer.concat([
      shb(),
      idb(),
      epb(udp(1)),
      epb(udp(2)),
      shb({ le: false }),
      idb({ le: false }),
      epb(udp(1), { le: false }),
      shb(),
      idb(),
      epb(udp(2)),
    ]);
    const out = annotate(file("sections.pcapng", input)),
      shown = showJson(out);
    expect(shown.map((p) => valueOf(shown, p.packet, "packet_id"))).toEqual(["0", "1", "2", "3"]);
    expect([valueOf(shown, 2, "rx_hash"), valueOf(shown, 3, "rx_hash")]).toEqual([
      valueOf(shown, 0, "rx_hash"),
      valueOf(shown, 1, "rx_hash"),
    ]);
    expect(blocks(readFileSync(out)).map((b) => `${b.type}${b.le ? "" : "be"}`)).toEqual([
      "168627466",
      "1",
      "6",
      "6",
      "168627466be",
      "1be",
      "6be",
      "168627466",
      "1",
      "6",
    ]);
  });

  it("passes other blocks and options through unchanged, jumbo and 1 MiB packets byte-exact", () => {
    const nrb = block(
      4,
      Buffer.concat([Buffer.from([1, 0, 8, 0, 10, 0, 0, 1]), Buffer.from("h1\0\0"), Buffer.alloc(4)]),
    );
    const custom = block(0x40000bad, Buffer.concat([Buffer.from([0xd9, 0x7e, 0, 0]), Buffer.from("opaque!\0")]));
    const jumbo = Buffer.alloc(9000, 7),
      huge = Buffer.alloc(2 ** 20 + 3);
    for (let i = 0; i < huge.length; i++) huge[i] = (i * 31) & 255;
    udp(9).copy(huge);
    const flags = option(2, Buffer.from([1, 0, 0, 0])),
      hello = option(1, Buffer.from("hello"));
    const input = Buffer.concat([
      shb({ opts: [option(4, Buffer.from("capture tool"))] }),
      idb(),
      nrb,
      epb(udp(1), { opts: [flags, hello] }),
      custom,
      epb(jumbo),
      epb(huge),
    ]);
    const out = blocks(readFileSync(annotate(file("passthrough.pcapng", input))));
    expect(out.map((b) => b.type)).toEqual([0x0a0d0d0a, 1, 4, 6, 0x40000bad, 6, 6]);
    expect(blockOptions(out[0]!, 24)[0]).toEqual({ code: 4, value: Buffer.from("capture tool") });
    expect(out[2]!.bytes.equals(nrb) && out[4]!.bytes.equals(custom)).toBe(true);
    // The user's options, then ours: traits, epb_packetid, epb_hash, our comment.
    expect(epbOptions(out[3]!).map((o) => o.code)).toEqual([2, 1, 2989, 5, 3, 1]);
    expect(epbOptions(out[3]!)[1]!.value.toString()).toBe("hello");
    expect(out[5]!.bytes.subarray(28, 28 + 9000).equals(jumbo)).toBe(true);
    expect(out[6]!.bytes.readUInt32LE(20)).toBe(huge.length);
    expect(out[6]!.bytes.subarray(28, 28 + huge.length).equals(huge)).toBe(true);
  });

  it("writes the same bytes on the WebAssembly fast path as on the burst path (the JS core), whatever the packets", () => {
    // Every kind the fast path hashes or leaves to the burst path, in records that cross the input's
    // and the output's 1 MiB chunks; µs and ns; stopped by -c mid-run; a bad timestamp at the end.
    const ipv6 = (next: number): Buffer => {
      const p = Buffer.alloc(80, 0x5a);
      Buffer.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd, 0x60]).copy(p);
      p[20] = next;
      return p;
    };
    const vlan = (p: Buffer): Buffer =>
      Buffer.concat([p.subarray(0, 12), Buffer.from([0x81, 0, 0x20, 0x64]), p.subarray(12)]);
    const kinds = [
      (i: number) => udp(i),
      (i: number) => Object.assign(udp(i, 1500), { 23: 6 }),
      (i: number) => Object.assign(udp(i), { 20: 0x20 }),
      (i: number) => Object.assign(udp(i), { 14: 0x46 }),
      () => ipv6(6),
      () => ipv6(58),
      (i: number) => vlan(udp(i)),
      (i: number) => udp(i).subarray(0, i % 40),
      (i: number) => udp(i, 9000),
    ];
    const packets = Array.from({ length: 30000 }, (_, i) => kinds[(i * 7) % kinds.length]!(i));
    const raw = pcap(
      packets.map((p) => p.subarray(14)),
      101,
    );
    const ns = pcap(packets.slice(0, 2000));
    ns.writeUInt32LE(0xa1b23c4d, 0);
    const bad = pcap(packets.slice(0, 700));
    bad.writeUInt32LE(1_000_000, bad.length - 16 - packets[699]!.length + 4);
    const runs: Array<[Buffer, string[]]> = [
      [pcap(packets), []],
      [pcap(packets), ["-c", "12345"]],
      [raw, []],
      [ns, []],
      [bad, []],
    ];
    for (const [capture, args] of runs) {
      const input = file("kinds.pcap", capture);
      const [wasm, js] = (["wasm", "js"] as const).map((impl) =>
        cli(["pcap", "annotate", input, "-", ...args], {
          binary: true,
          env: { ...process.env, PACKET_TRAITS_IMPL: impl },
        }),
      );
      expect(wasm!.code).toBe(capture === bad ? 1 : 0);
      expect([wasm!.code, wasm!.err]).toEqual([js!.code, js!.err]);
      expect(wasm!.bytes.equals(js!.bytes)).toBe(true);
    }
  });

  it("refuses malformed captures at every block boundary with the byte offset: one line, exit 1, never a crash", async () => {
    const bytes = readFileSync(annotate(SAMPLE)),
      boundaries: number[] = [];
    for (let at = 0; at < bytes.length; at += bytes.readUInt32LE(at + 4)) boundaries.push(at);
    expect(boundaries.length).toBe(7); // SHB, IDB, 5 EPBs
    const cases: Buffer[] = [];
    for (const at of boundaries) {
      for (const cut of [1, 4, 8, 11, 13]) cases.push(bytes.subarray(0, at + cut));
      const lengthBad = Buffer.from(bytes);
      lengthBad.writeUInt32LE(7, at + 4);
      cases.push(lengthBad);
      const huge = Buffer.from(bytes);
      huge.writeUInt32LE(0x7ffffffc, at + 4);
      cases.push(huge);
      const trailer = Buffer.from(bytes);
      const len = bytes.readUInt32LE(at + 4);
      trailer.writeUInt32LE(len + 4, at + len - 4);
      cases.push(trailer);
    }
    const epbAt = boundaries[2]!,
      caplen = Buffer.from(bytes);
    caplen.writeUInt32LE(5000, epbAt + 20);
    cases.push(caplen);
    const iface = Buffer.from(bytes);
    iface.writeUInt32LE(3, epbAt + 8);
    cases.push(iface);
    const opt = Buffer.from(bytes);
    opt.writeUInt16LE(500, epbAt + 28 + 56 + 2);
    cases.push(opt);
    cases.push(
      Buffer.from("hello world, not a capture"),
      Buffer.alloc(0),
      readFileSync(SAMPLE).subarray(0, 20),
      readFileSync(SAMPLE).subarray(0, 60),
    );
    const path = file("bad.pcapng");
    for (const [i, data] of cases.entries()) {
      writeFileSync(path, data);
      for (const args of [
        ["pcap", "show", path],
        ["pcap", "annotate", path, join(dir, "bad-out.pcapng")],
      ]) {
        const r = i % 10 === 0 ? cli(args) : await inProcess(args);
        if (r.code === 0) continue; // a cut at a block boundary is a shorter, valid capture
        expect(`${r.code} ${r.err}`, `case ${i}: ${args[1]}`).toMatch(
          /^1 packet-traits: EBADMSG: byte offset \d+: [^\n]+\n$/,
        );
      }
    }
  });
});
