// pcap export against a real engine: DuckDB reads every file written, and every row is compared with
// pcap show --json (the traits) and with tshark (the packet's own fields and its flow), on classic
// pcap, pcapng of both byte orders and both profiles, absent keys, flags, VLAN, IPv6 and non-IP
// packets; a folder of parts answers as the one file does; hostile inputs and outputs leave nothing.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bytesSource, readCapture } from "../../dist/capture.js";
import { ParquetPacketWriter, exportCapture } from "../../dist/parquet.js";
import {
  ROOT,
  CLI,
  SAMPLE,
  block,
  cli,
  idb,
  installed,
  needs,
  option,
  pcap,
  shb,
  showJson,
  tempDir,
  udp,
} from "../capture/helpers.js";
import {
  duckdbMissing,
  epbOn,
  idbSnap,
  literal,
  namesOption,
  opb,
  query,
  queueOption,
  spb,
  storeBytes,
  traitsOption,
  xdpVerdictOption,
} from "./helpers.js";

const dir = tempDir();
const duck = needs(query !== undefined, `DuckDB cannot load here (${duckdbMissing}): npm ci installs @duckdb/node-api`);
const tshark = needs(installed("tshark"), "tshark is not installed (apt-get install tshark; .ci/run installs it)");
const sql = (text: string) => query!(text);
const oneLine = (err: string): string[] => err.split("\n").filter(Boolean);
const leftovers = (folder: string) => readdirSync(folder).filter((n) => n.includes(".tmp"));

/** An Ethernet/IPv6/TCP packet (ports 443 -> 50000), or raw IPv6 without the Ethernet header. */
function tcp6(raw = false): Buffer {
  const ip = Buffer.alloc(60);
  ip[0] = 0x60;
  ip.writeUInt16BE(20, 4);
  ip[6] = 6;
  ip[7] = 64;
  Buffer.from("20010db8000000000000000000000001", "hex").copy(ip, 8);
  Buffer.from("00000000000000000000ffff0a000001", "hex").copy(ip, 24);
  ip.writeUInt16BE(443, 40);
  ip.writeUInt16BE(50000, 42);
  ip[52] = 0x50;
  return raw ? ip : Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd]), ip]);
}

/** An ARP request (not IP). */
const arp = (): Buffer =>
  Buffer.concat([Buffer.from("ffffffffffff020000000001080600010800060400010200000000010a000001000000000000", "hex")]);

/** An 802.1Q-tagged (VLAN 100, priority 3) Ethernet/IPv4/UDP packet. */
function vlanUdp(i: number): Buffer {
  const plain = udp(i);
  return Buffer.concat([plain.subarray(0, 12), Buffer.from([0x81, 0x00, 0x60, 0x64]), plain.subarray(12)]);
}

/**
 * A pcapng made byte by byte: a little-endian section (profile flags: tenant, a flag, a u64; an
 * Ethernet and a raw-IP interface) with the queue and verdict options, a packet without traits, an
 * unnamed key; then a big-endian section (profile v1) that names tenant at another key and adds a u16.
 */
function handMade(): Buffer {
  const le = true,
    be = false;
  return Buffer.concat([
    shb({ opts: [namesOption("traits-keys flags tenant=5:4 mirror=6:0 big=7:8")] }),
    idb(),
    idb({ linkType: 101 }),
    epbOn(0, udp(1), {
      ticks: 1_700_000_000_000_001n,
      opts: [
        traitsOption(
          storeBytes("flags", [
            [5, 7, 4],
            [6, 0, 0],
            [7, 2n ** 63n + 5n, 8],
          ]),
        ),
        queueOption(3),
        xdpVerdictOption(2n),
      ],
    }),
    epbOn(0, udp(2), {
      ticks: 1_700_000_000_000_002n,
      original: 1500,
      opts: [queueOption(1), traitsOption(storeBytes("flags", [[5, 9, 4]]), le)],
    }),
    epbOn(1, tcp6(true), { ticks: 1_700_000_000_000_003n, opts: [xdpVerdictOption(1n)] }),
    epbOn(0, arp(), {
      ticks: 1_700_000_000_000_004n,
      opts: [
        traitsOption(
          storeBytes("flags", [
            [6, 0, 0],
            [9, 0xdeadbeef, 4],
          ]),
        ),
      ],
    }),
    shb({ le: be, opts: [namesOption("traits-keys v1 tenant=1:4 vlan_id=2:2", be)] }),
    idb({ le: be }),
    epbOn(0, vlanUdp(3), {
      le: be,
      ticks: 1_700_000_000_000_005n,
      opts: [
        traitsOption(
          storeBytes("v1", [
            [1, 11, 4],
            [2, 100, 2],
          ]),
          be,
        ),
        queueOption(0, be),
        xdpVerdictOption(4n, be),
      ],
    }),
  ]);
}

/** Simple and obsolete packet blocks among enhanced ones (an SPB bounded by the snap length of 100), and a name resolution block. */
const packetBlocks = (): Buffer =>
  Buffer.concat([
    shb(),
    idbSnap(100),
    epbOn(0, udp(0), { ticks: 1_700_000_000_123_456n, opts: [queueOption(2)] }),
    spb(udp(1, 61)),
    opb(udp(2, 62), 7, 1_700_000_000_123_457n, [queueOption(1)]),
    block(4, Buffer.from("010008000a000001683100000000000000", "hex").subarray(0, 16)),
    spb(udp(3, 100), 150),
    opb(udp(4, 70), 0xffff, 1_700_000_000_123_458n),
    epbOn(0, udp(5), { ticks: 1_700_000_000_123_459n }),
  ]);

const captures: Record<string, () => string> = {
  "classic pcap (no traits)": () => SAMPLE,
  "pcapng annotated (v1: VLAN, IPv6, non-IP)": () => {
    const out = join(dir, "annotated.pcapng");
    expect(cli(["pcap", "annotate", SAMPLE, out]).code).toBe(0);
    return out;
  },
  "pcapng annotated with profile flags, a registry, a flag and a u32 set": () => {
    const registry = join(dir, "flags.json"),
      out = join(dir, "flags.pcapng");
    expect(cli(["registry", "init", "--file", registry, "--profile", "flags"]).code).toBe(0);
    expect(cli(["registry", "add", "tenant", "4", "--file", registry]).code).toBe(0);
    expect(cli(["registry", "add", "mirror", "0", "--file", registry]).code).toBe(0);
    const r = cli([
      "pcap",
      "annotate",
      SAMPLE,
      out,
      "--profile",
      "flags",
      "--registry",
      registry,
      "--set",
      "tenant=42",
      "--set",
      "mirror",
    ]);
    expect(r.code, r.err).toBe(0);
    return out;
  },
  "pcapng by hand (two sections of both byte orders, queue and verdict options, absent keys, flags)": () => {
    const out = join(dir, "hand.pcapng");
    writeFileSync(out, handMade());
    return out;
  },
  "pcapng with simple and obsolete packet blocks": () => {
    const out = join(dir, "blocks.pcapng");
    writeFileSync(out, packetBlocks());
    return out;
  },
};

/** The packet fields tshark reads, one object a packet. */
function tsharkFields(capture: string): Array<Record<string, string>> {
  const fields = [
    "frame.time_epoch",
    "frame.interface_id",
    "frame.interface_queue",
    "frame.cap_len",
    "frame.len",
    "frame.verdict.ebpf_xdp",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "ip.proto",
    "ipv6.nxt",
    "tcp.srcport",
    "udp.srcport",
    "tcp.dstport",
    "udp.dstport",
  ];
  const r = spawnSync(
    "tshark",
    ["-r", capture, "-T", "fields", "-E", "occurrence=f", ...fields.flatMap((f) => ["-e", f])],
    { encoding: "utf8" },
  );
  expect(r.status, r.stderr).toBe(0);
  return r.stdout
    .trimEnd()
    .split("\n")
    .map((line) => Object.fromEntries(line.split("\t").map((v, i) => [fields[i]!, v])));
}

/** tshark's epoch time ("1700000000.001234567" or fewer digits) in ns. */
const ns = (epoch: string): string => {
  const [s, f = ""] = epoch.split(".");
  return String(BigInt(s!) * 1_000_000_000n + BigInt(f.padEnd(9, "0").slice(0, 9)));
};
const orNull = (v: string | undefined) => (v === undefined || v === "" ? null : v);

describe.runIf(duck)("pcap export, read by DuckDB", () => {
  for (const [name, make] of Object.entries(captures))
    it(`${name}: every row as pcap show --json and tshark show the packet`, async () => {
      const capture = make(),
        out = join(dir, `${name.replace(/\W+/g, "-")}.parquet`);
      const r = cli(["pcap", "export", capture, out]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/^exported \d+ packets: /);
      const rows = await sql(`SELECT *, epoch_ns(capture_time)::VARCHAR AS ns FROM ${literal(out)} ORDER BY packet`);
      const columns = await sql(`DESCRIBE SELECT * FROM ${literal(out)}`);
      const typeOf = new Map(columns.map((c) => [c.column_name as string, c.column_type as string]));
      expect([...typeOf].slice(0, 12)).toEqual([
        ["packet", "UBIGINT"],
        ["capture_time", "TIMESTAMP_NS"],
        ["interface", "UINTEGER"],
        ["queue", "UINTEGER"],
        ["captured_length", "UINTEGER"],
        ["original_length", "UINTEGER"],
        ["xdp_verdict", "UINTEGER"],
        ["src_addr", "VARCHAR"],
        ["dst_addr", "VARCHAR"],
        ["ip_proto", "UTINYINT"],
        ["src_port", "USMALLINT"],
        ["dst_port", "USMALLINT"],
      ]);
      const traitColumns = [...typeOf.keys()].slice(12);
      const shown = showJson(capture);
      expect(rows).toHaveLength(shown.length);
      rows.forEach((row, i) => {
        const packet = shown[i]!;
        expect(row.packet, `packet ${i}`).toBe(String(i));
        const want: Record<string, unknown> = {};
        for (const column of traitColumns)
          want[column] = typeOf.get(column) === "BOOLEAN" && packet.entries !== null ? false : null;
        for (const e of packet.entries ?? []) {
          const column = e.name === "" ? `key_${e.key}` : e.name;
          const type = typeOf.get(column);
          want[column] = e.length === 0 ? true : type === "UBIGINT" ? e.value : Number(e.value);
        }
        // The verdict trait (xdp run's) is the xdp_verdict column, unless the epb_verdict option says it.
        if ("xdp_verdict" in want && row.xdp_verdict === want.xdp_verdict) delete want.xdp_verdict;
        expect(Object.fromEntries(traitColumns.map((c) => [c, row[c]])), `packet ${i}`).toEqual(want);
      });
      if (!tshark) return;
      tsharkFields(capture).forEach((t, i) => {
        const row = rows[i]!;
        const ip4 = t["ip.src"] !== "";
        expect(
          {
            ns: row.ns,
            interface: row.interface,
            queue: row.queue,
            captured: row.captured_length,
            original: row.original_length,
            verdict: row.xdp_verdict,
            src: row.src_addr,
            dst: row.dst_addr,
            proto: row.ip_proto,
            sport: row.src_port,
            dport: row.dst_port,
          },
          `packet ${i}`,
        ).toEqual({
          // tshark shows time 0 for a packet that has none (a simple packet block's): null in the export.
          ns: ns(t["frame.time_epoch"]!) === "0" ? null : ns(t["frame.time_epoch"]!),
          interface: Number(t["frame.interface_id"] || 0),
          queue: t["frame.interface_queue"] ? Number(t["frame.interface_queue"]) : null,
          captured: Number(t["frame.cap_len"]),
          original: Number(t["frame.len"]),
          verdict: t["frame.verdict.ebpf_xdp"] ? Number(t["frame.verdict.ebpf_xdp"]) : null,
          src: orNull(ip4 ? t["ip.src"] : t["ipv6.src"]),
          dst: orNull(ip4 ? t["ip.dst"] : t["ipv6.dst"]),
          proto: t["ip.proto"] || t["ipv6.nxt"] ? Number(t["ip.proto"] || t["ipv6.nxt"]) : null,
          sport: t["tcp.srcport"] || t["udp.srcport"] ? Number(t["tcp.srcport"] || t["udp.srcport"]) : null,
          dport: t["tcp.dstport"] || t["udp.dstport"] ? Number(t["tcp.dstport"] || t["udp.dstport"]) : null,
        });
      });
    });

  it("simple and obsolete packet blocks are rows, numbered as pcap show numbers them; an SPB's capture time is null", async () => {
    const input = join(dir, "blocks-check.pcapng"),
      out = join(dir, "blocks-check.parquet");
    writeFileSync(input, packetBlocks());
    expect(cli(["pcap", "export", input, out])).toMatchObject({ code: 0, out: `exported 6 packets: ${out}\n` });
    expect(showJson(input).map((p) => p.packet)).toEqual([0, 1, 2, 3, 4, 5]);
    const rows = await sql(
      `SELECT packet, epoch_ns(capture_time)::VARCHAR AS ns, queue, captured_length AS captured, original_length AS original, src_addr FROM ${literal(out)} ORDER BY packet`,
    );
    expect(rows.map((r) => Object.values(r))).toEqual([
      ["0", "1700000000123456000", 2, 64, 64, "10.0.0.0"],
      ["1", null, null, 61, 61, "10.0.0.1"],
      ["2", "1700000000123457000", 1, 62, 72, "10.0.0.2"],
      ["3", null, null, 100, 150, "10.0.0.3"],
      ["4", "1700000000123458000", null, 70, 80, "10.0.0.4"],
      ["5", "1700000000123459000", null, 64, 64, "10.0.0.5"],
    ]);
  });

  it("repeated standard options: the first epb_queue and eBPF XDP epb_verdict (and traits option) count, as readCapture and tshark read them", async () => {
    const input = join(dir, "repeated.pcapng"),
      out = join(dir, "repeated.parquet");
    for (const le of [true, false]) {
      const opts = [
        option(7, Buffer.from([0, 0xde, 0xad, 0xbe, 0xef]), le), // a hardware verdict
        xdpVerdictOption(1n, le),
        xdpVerdictOption(3n, le),
        queueOption(5, le),
        queueOption(7, le),
        traitsOption(storeBytes("v1", [[3, 11, 4]]), le),
        traitsOption(storeBytes("v1", [[3, 22, 4]]), le),
      ];
      writeFileSync(input, Buffer.concat([shb({ le }), idb({ le }), epbOn(0, udp(1), { le, opts })]));
      const read = [];
      for await (const p of readCapture(input)) read.push([p.queue, p.xdpVerdict, p.traits?.get(3)]);
      expect(read, `le ${le}`).toEqual([[5, 1, 11]]);
      expect(cli(["pcap", "export", input, out]).code).toBe(0);
      const rows = await sql(`SELECT queue, xdp_verdict, key_3 FROM ${literal(out)}`);
      expect(rows, `le ${le}`).toEqual([{ queue: 5, xdp_verdict: 1, key_3: 11 }]);
      if (tshark) {
        const t = tsharkFields(input)[0]!;
        expect([t["frame.interface_queue"], t["frame.verdict.ebpf_xdp"]], `le ${le}`).toEqual(["5", "1"]);
      }
    }
  });

  it("the hand-made capture: its columns by name across sections, flags false where a store lacks them, u64 exact", async () => {
    const out = join(dir, "hand-check.parquet");
    exportCapture(captures[Object.keys(captures)[3]!]!(), out);
    // Columns: the names of the first section, then those the second adds; tenant is one column
    // though the sections give it different keys; key 9 has no name.
    expect(
      (await sql(`DESCRIBE SELECT * FROM ${literal(out)}`)).slice(12).map((c) => [c.column_name, c.column_type]),
    ).toEqual([
      ["tenant", "UINTEGER"],
      ["mirror", "BOOLEAN"],
      ["big", "UBIGINT"],
      ["key_9", "UINTEGER"],
      ["vlan_id", "USMALLINT"],
    ]);
    expect(
      await sql(
        `SELECT packet, tenant, mirror, big, key_9, vlan_id, queue, xdp_verdict, src_addr FROM ${literal(out)} ORDER BY packet`,
      ),
    ).toEqual([
      {
        packet: "0",
        tenant: 7,
        mirror: true,
        big: String(2n ** 63n + 5n),
        key_9: null,
        vlan_id: null,
        queue: 3,
        xdp_verdict: 2,
        src_addr: "10.0.0.1",
      },
      {
        packet: "1",
        tenant: 9,
        mirror: false,
        big: null,
        key_9: null,
        vlan_id: null,
        queue: 1,
        xdp_verdict: null,
        src_addr: "10.0.0.2",
      },
      {
        packet: "2",
        tenant: null,
        mirror: null,
        big: null,
        key_9: null,
        vlan_id: null,
        queue: null,
        xdp_verdict: 1,
        src_addr: "2001:db8::1",
      },
      {
        packet: "3",
        tenant: null,
        mirror: true,
        big: null,
        key_9: 0xdeadbeef,
        vlan_id: null,
        queue: null,
        xdp_verdict: null,
        src_addr: null,
      },
      {
        packet: "4",
        tenant: 11,
        mirror: false,
        big: null,
        key_9: null,
        vlan_id: 100,
        queue: 0,
        xdp_verdict: 4,
        src_addr: "10.0.0.3",
      },
    ]);
  });

  it("a folder of parts (--rows-per-file) answers as the one file does, and a new export replaces its parts", async () => {
    const count = 5000,
      capture = join(dir, "queues.pcapng");
    writeFileSync(
      capture,
      Buffer.concat([
        shb(),
        idb(),
        ...Array.from({ length: count }, (_, i) =>
          epbOn(0, udp(i), { ticks: 1_700_000_000_000_000n + BigInt(i), opts: [queueOption((i * 7) % 4)] }),
        ),
      ]),
    );
    const one = join(dir, "queues.parquet"),
      parts = join(dir, "queues");
    expect(cli(["pcap", "export", capture, one]).code).toBe(0);
    const r = cli(["pcap", "export", capture, parts, "--rows-per-file", "1200"]);
    expect(`${r.code} ${r.out}`).toBe(`0 exported ${count} packets: ${parts} (5 files)\n`);
    expect(readdirSync(parts)).toEqual([0, 1, 2, 3, 4].map((n) => `part-0000${n}.parquet`));
    const grouped = (from: string) => sql(`SELECT queue, count(*) AS n FROM ${from} GROUP BY 1 ORDER BY 1`);
    const answer = await grouped(literal(one));
    expect(answer).toEqual([0, 1, 2, 3].map((q) => ({ queue: q, n: "1250" })));
    expect(await grouped(literal(join(parts, "*.parquet")))).toEqual(answer);
    expect(
      await sql(
        `SELECT count(*) AS n, min(packet) AS lo, max(packet) AS hi FROM ${literal(join(parts, "part-00004.parquet"))}`,
      ),
    ).toEqual([{ n: "200", lo: "4800", hi: "4999" }]);
    expect(cli(["pcap", "export", capture, parts, "--rows-per-file", "2500"]).code).toBe(0);
    expect(readdirSync(parts)).toEqual(["part-00000.parquet", "part-00001.parquet"]);
    expect(await grouped(literal(join(parts, "*.parquet")))).toEqual(answer);
    expect(leftovers(dir)).toEqual([]);
  });

  it("stdin and stdout: cat | export - - > file", async () => {
    const out = join(dir, "piped.parquet");
    const r = spawnSync("bash", ["-c", `cat ${SAMPLE} | node ${CLI} pcap export - - > ${out}`], { encoding: "utf8" });
    expect(`${r.status} ${r.stderr}`).toBe("0 ");
    expect(await sql(`SELECT count(*) AS n, max(src_port) AS p FROM ${literal(out)}`)).toEqual([{ n: "5", p: 40002 }]);
    const head = spawnSync("bash", ["-c", `node ${CLI} pcap export ${SAMPLE} - | head -c 4`], { encoding: "utf8" });
    expect(`${head.status} ${head.stdout} ${head.stderr}`).toBe("0 PAR1 ");
  });

  it("the library: ParquetPacketWriter takes packets one by one (a live capture's way), exportCapture bytes", async () => {
    const out = join(dir, "writer.parquet");
    const writer = new ParquetPacketWriter(out, {
      names: [
        { name: "tenant", key: 5, size: 4 },
        { name: "seq", key: 6, size: 8 },
      ],
    });
    for (let i = 0; i < 70_000; i++)
      writer.write({
        data: i % 2 ? udp(i) : tcp6(),
        linkType: 1,
        timestampNs: 1_700_000_000_000_000_000n + BigInt(i),
        queue: i % 3,
        ...(i % 5 === 0 && { verdict: 2 }),
        traits: storeBytes("v1", [
          [5, i % 10, 4],
          [6, BigInt(i) << 32n, 8],
        ]),
      });
    expect(writer.close()).toEqual({ rows: 70_000, files: [out] });
    expect(
      await sql(
        `SELECT count(*) AS n, count(xdp_verdict) AS v, sum(tenant) AS t, max(seq) AS s, count(DISTINCT src_addr) AS a, max(epoch_ns(capture_time)) AS ns FROM ${literal(out)}`,
      ),
    ).toEqual([
      { n: "70000", v: "14000", t: "315000", s: String(69_999n << 32n), a: "35001", ns: "1700000000000069999" },
    ]);
    // A packet refused (a key with no column once the columns are fixed) leaves no trace in the next row.
    const refusing = join(dir, "refusing.parquet"),
      w = new ParquetPacketWriter(refusing);
    const packet = (i: number, extra: object = {}) => ({
      data: udp(i),
      linkType: 1,
      timestampNs: BigInt(i),
      traits: storeBytes("v1", [[5, i, 4]]),
      ...extra,
    });
    for (let i = 0; i < 40_000; i++) w.write(packet(i));
    expect(() => w.write(packet(40_000, { queue: 7, traits: storeBytes("v1", [[6, 1, 4]]) }))).toThrow(
      /EINVAL: key 6 has no column/,
    );
    w.write(packet(40_001));
    expect(w.close().rows).toBe(40_001);
    expect(
      await sql(
        `SELECT packet, queue, key_5, src_addr FROM ${literal(refusing)} WHERE packet >= 39999 ORDER BY packet`,
      ),
    ).toEqual([
      { packet: "39999", queue: null, key_5: 39999, src_addr: "10.0.156.63" },
      { packet: "40000", queue: null, key_5: 40001, src_addr: "10.0.156.65" },
    ]);
    const bytes = join(dir, "from-bytes.parquet");
    expect(exportCapture(bytesSource(readFileSync(SAMPLE)), bytes, { limit: 2 })).toEqual({ rows: 2, files: [bytes] });
    expect(await sql(`SELECT count(*) AS n FROM ${literal(bytes)}`)).toEqual([{ n: "2" }]);
  });
});

describe.runIf(duck)("a live capture's writer (live: true)", () => {
  const packet = (i: number) => ({
    data: udp(i),
    linkType: 1,
    timestampNs: 1_700_000_000_000_000_000n + BigInt(i),
    traits: storeBytes("v1", [[5, i, 4]]),
  });
  const count = async (file: string) =>
    (await sql(`SELECT count(*) AS n, max(key_5) AS last FROM ${literal(file)}`))[0];

  it("publishes each part in the folder as soon as it is complete, readable while the writer runs; abort() keeps them", async () => {
    const out = join(dir, "live");
    mkdirSync(out);
    writeFileSync(join(out, "part-00007.parquet"), "an earlier capture's part");
    const writer = new ParquetPacketWriter(out, { rowsPerFile: 1000, live: true });
    // The earlier capture's parts are gone (as tcpdump -w truncates); nothing is published yet.
    expect(readdirSync(out).filter((n) => !n.startsWith("."))).toEqual([]);
    for (let i = 0; i < 999; i++) writer.write(packet(i));
    expect(readdirSync(out).filter((n) => !n.startsWith("."))).toEqual([]);
    writer.write(packet(999));
    expect(readdirSync(out).filter((n) => !n.startsWith("."))).toEqual(["part-00000.parquet"]);
    expect(await count(join(out, "part-00000.parquet"))).toEqual({ n: "1000", last: 999 });
    for (let i = 1000; i < 2500; i++) writer.write(packet(i));
    expect(await count(join(out, "part-00001.parquet"))).toEqual({ n: "1000", last: 1999 });
    // A failure (or a crash) loses the part being written, not those published.
    writer.abort();
    expect(readdirSync(out).sort()).toEqual(["part-00000.parquet", "part-00001.parquet"]);
  });

  it("close() publishes the last part; one file is renamed into place at close(); a folder holding other files is refused", async () => {
    const out = join(dir, "live-closed"),
      writer = new ParquetPacketWriter(out, { rowsPerFile: 1000, live: true });
    for (let i = 0; i < 1500; i++) writer.write(packet(i));
    expect(writer.close()).toEqual({
      rows: 1500,
      files: [join(out, "part-00000.parquet"), join(out, "part-00001.parquet")],
    });
    expect(readdirSync(out).sort()).toEqual(["part-00000.parquet", "part-00001.parquet"]);
    expect(await count(`${out}/*.parquet`)).toEqual({ n: "1500", last: 1499 });
    const file = join(dir, "live-one.parquet"),
      one = new ParquetPacketWriter(file, { live: true });
    for (let i = 0; i < 10; i++) one.write(packet(i));
    expect(existsSync(file)).toBe(false);
    one.close();
    expect(await count(file)).toEqual({ n: "10", last: 9 });
    writeFileSync(join(out, "notes.txt"), "mine");
    expect(() => new ParquetPacketWriter(out, { rowsPerFile: 10, live: true })).toThrow(/^EEXIST: .*holds notes\.txt/);
    expect(readdirSync(out).sort()).toEqual(["notes.txt", "part-00000.parquet", "part-00001.parquet"]);
  });
});

describe("pcap export: the encoder thread", () => {
  it("starts under any flags of the process: node --input-type=module -e (a worker inherits them)", () => {
    const out = join(dir, "eval.parquet"),
      code = `import { exportCapture } from ${JSON.stringify(join(ROOT, "dist", "parquet.js"))}; console.log(JSON.stringify(exportCapture(${JSON.stringify(SAMPLE)}, ${JSON.stringify(out)})));`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8", timeout: 60_000 });
    expect(`${r.status} ${r.stdout}${r.stderr}`).toBe(`0 {"rows":5,"files":[${JSON.stringify(out)}]}\n`);
  });
});

describe("pcap export: bad input and bad output leave nothing", () => {
  const hand = (): string => {
    const f = join(dir, "cut-source.pcapng");
    writeFileSync(f, handMade());
    return f;
  };

  it("a capture cut at every block boundary and inside: one line naming the byte offset, no OUT, no temporary file", () => {
    const whole = readFileSync(hand());
    const out = join(dir, "cut.parquet");
    for (const at of [1, 20, 28, 100, 180, whole.length - 60, whole.length - 1]) {
      const cut = join(dir, "cut.pcapng");
      writeFileSync(cut, whole.subarray(0, at));
      const r = cli(["pcap", "export", cut, out]);
      expect(r.code, `cut at ${at}: ${r.err}`).toBe(1);
      expect(oneLine(r.err), `cut at ${at}`).toHaveLength(1);
      expect(r.err, `cut at ${at}`).toMatch(/^packet-traits: EBADMSG: byte offset \d+: /);
      expect(existsSync(out)).toBe(false);
      expect(leftovers(dir)).toEqual([]);
    }
  });

  it("a corrupt store, and a store whose size is not its name's: EBADMSG / EINVAL naming the packet and byte offset", () => {
    const bad = storeBytes("v1", [[5, 1, 4]]);
    bad.fill(0xff, 0, 16); // the header now declares 64 keys of 8 bytes in 64 bytes
    const corrupt = join(dir, "corrupt.pcapng");
    writeFileSync(
      corrupt,
      Buffer.concat([shb(), idb(), epbOn(0, udp(0)), epbOn(0, udp(1), { opts: [traitsOption(bad)] })]),
    );
    const r = cli(["pcap", "export", corrupt, join(dir, "corrupt.parquet")]);
    expect(`${r.code} ${r.err}`).toMatch(/^1 packet-traits: EBADMSG: byte offset 1\d\d: packet 1: corrupt trait store/);
    const mismatch = join(dir, "mismatch.pcapng");
    writeFileSync(
      mismatch,
      Buffer.concat([
        shb({ opts: [namesOption("traits-keys v1 tenant=5:8")] }),
        idb(),
        epbOn(0, udp(0), { opts: [traitsOption(storeBytes("v1", [[5, 1, 4]]))] }),
      ]),
    );
    const m = cli(["pcap", "export", mismatch, join(dir, "mismatch.parquet")]);
    expect(`${m.code} ${m.err}`).toMatch(
      /^1 packet-traits: EINVAL: byte offset \d+: packet 0: key 5 \(tenant\) holds 4 bytes, but the column tenant is u64\n$/,
    );
    // A later section naming the same trait with another size: the byte offset of its header.
    const sections = join(dir, "sections.pcapng"),
      first = Buffer.concat([shb({ opts: [namesOption("traits-keys v1 tenant=5:4")] }), idb(), epbOn(0, udp(0))]);
    writeFileSync(sections, Buffer.concat([first, shb({ opts: [namesOption("traits-keys v1 tenant=5:8")] })]));
    const t = cli(["pcap", "export", sections, join(dir, "sections.parquet")]);
    expect(`${t.code} ${t.err}`).toBe(
      `1 packet-traits: EINVAL: byte offset ${first.length}: key 5 (tenant) holds 8 bytes, but the column tenant is u32\n`,
    );
    expect(["corrupt", "mismatch", "sections"].filter((f) => existsSync(join(dir, `${f}.parquet`)))).toEqual([]);
  });

  it("a key first seen after the columns are fixed (the first batch): EINVAL saying how to name it", () => {
    const many = join(dir, "late-key.pcapng"),
      n = 40_000;
    writeFileSync(
      many,
      Buffer.concat([
        shb(),
        idb(),
        ...Array.from({ length: n }, (_, i) =>
          epbOn(0, udp(i), { opts: [traitsOption(storeBytes("v1", i === n - 1 ? [[3, 1, 4]] : [[2, 1, 4]]))] }),
        ),
      ]),
    );
    const r = cli(["pcap", "export", many, join(dir, "late.parquet")]);
    expect(`${r.code} ${r.err}`).toMatch(
      new RegExp(`^1 packet-traits: EINVAL: byte offset \\d+: packet ${n - 1}: key 3 has no column: .*--registry`),
    );
    const registry = join(dir, "late.json");
    expect(cli(["registry", "init", "--file", registry]).code).toBe(0);
    expect(cli(["registry", "add", "late", "4", "--file", registry, "--key", "3"]).code).toBe(0);
    expect(cli(["pcap", "export", many, join(dir, "late.parquet"), "--registry", registry]).code).toBe(0);
  });

  it("bad OUT: a missing folder, a folder target holding other files, /dev/full; usage errors exit 2", () => {
    const missing = join(dir, "no", "such", "out.parquet");
    expect(cli(["pcap", "export", SAMPLE, missing]).err).toBe(
      `packet-traits: ENOENT: cannot write ${missing}: no such file or directory\n`,
    );
    const folder = join(dir, "mine");
    mkdirSync(folder);
    writeFileSync(join(folder, "notes.txt"), "keep");
    const r = cli(["pcap", "export", SAMPLE, folder, "--rows-per-file", "2"]);
    expect(`${r.code} ${r.err}`).toBe(
      `1 packet-traits: EEXIST: cannot write ${folder}: the folder holds notes.txt, not only part-NNNNN.parquet files (an export would replace them)\n`,
    );
    expect(readdirSync(folder)).toEqual(["notes.txt"]);
    const full = cli(["pcap", "export", SAMPLE, "/dev/full"]);
    expect(`${full.code} ${full.err}`).toBe(
      "1 packet-traits: ENOSPC: cannot write /dev/full: no space left on device\n",
    );
    for (const args of [
      [SAMPLE, "-", "--rows-per-file", "5"],
      [SAMPLE, "x.parquet", "--compression", "lzo"],
      [SAMPLE, "x.parquet", "--rows-per-file", "0"],
      [SAMPLE],
    ]) {
      const u = cli(["pcap", "export", ...args]);
      expect(u.code, args.join(" ")).toBe(2);
      expect(oneLine(u.err)).toHaveLength(1);
    }
    expect(leftovers(dir)).toEqual([]);
  });

  const root = process.getuid?.() === 0 && spawnSync("mount", ["--version"], { stdio: "ignore" }).status === 0;
  it.runIf(needs(root, "a full disk needs a small tmpfs (mount, root); run as root or with CI=true"))(
    "a full disk (a 512 KiB tmpfs): ENOSPC, one line; the old OUT and the old parts untouched, no temporary file",
    () => {
      const at = join(dir, `mnt-${process.pid}`);
      mkdirSync(at);
      const m = spawnSync("mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", at], { encoding: "utf8" });
      expect(m.status, m.stderr).toBe(0);
      try {
        const capture = join(dir, "fill.pcap");
        writeFileSync(capture, pcap(Array.from({ length: 60_000 }, (_, i) => udp(i))));
        const target = join(at, "out.parquet");
        writeFileSync(target, "precious");
        const r = cli(["pcap", "export", capture, target]);
        expect(`${r.code} ${r.err}`).toBe(`1 packet-traits: ENOSPC: cannot write ${target}: no space left on device\n`);
        expect(readFileSync(target, "utf8")).toBe("precious");
        const parts = join(at, "parts");
        expect(cli(["pcap", "export", SAMPLE, parts, "--rows-per-file", "2"]).code).toBe(0);
        const before = readdirSync(parts);
        const p = cli(["pcap", "export", capture, parts, "--rows-per-file", "20000"]);
        expect(`${p.code} ${p.err}`).toMatch(/^1 packet-traits: ENOSPC: cannot write .*: no space left on device\n$/);
        expect(readdirSync(parts)).toEqual(before);
        expect(readdirSync(at).sort()).toEqual(["out.parquet", "parts"]);
      } finally {
        spawnSync("umount", [at]);
      }
    },
  );

  it("memory stays bounded: 1,500,000 packets through a pipe in under 200 MB", () => {
    const r = spawnSync(
      "bash",
      [
        "-c",
        `set -o pipefail; node ${join(ROOT, "bench", "pipeline.js")} --make 1500000 - | /usr/bin/time -f '%M' node ${CLI} pcap export - ${join(dir, "big.parquet")}`,
      ],
      { encoding: "utf8" },
    );
    expect(r.status, r.stderr).toBe(0);
    const kb = Number(r.stderr.trim().split("\n").at(-1));
    expect(kb / 1024).toBeLessThan(200);
  }, 120_000);
});
