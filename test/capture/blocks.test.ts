// Packet blocks as Wireshark reads them: simple and obsolete packet blocks are packets (traits, numbering,
// conversion to EPBs as editcap converts them, xdp run), timestamp resolutions (decimal and binary) read
// as tshark reads them, and the 16 MiB limit of a packet at its edge.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { XdpProgram } from "../../dist/xdp/index.js";
import {
  ROOT,
  block,
  blocks,
  cli,
  epb,
  epbOptions,
  idb,
  installed,
  needs,
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
const u32 = (x: number): Buffer => Buffer.from(new Uint32Array([x]).buffer);
const u16 = (x: number): Buffer => Buffer.from(new Uint16Array([x]).buffer);
const padded = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);

/** A simple packet block: original length, the data (padded). */
const spb = (data: Buffer, original = data.length): Buffer => block(3, Buffer.concat([u32(original), padded(data)]));
/** An obsolete packet block: 16-bit interface and drop count, timestamp, lengths, data, options. */
const opb = (data: Buffer, drops: number, ticks: bigint, opts: Buffer[] = []): Buffer =>
  block(
    2,
    Buffer.concat([
      u16(0),
      u16(drops),
      u32(Number(ticks >> 32n)),
      u32(Number(ticks & 0xffffffffn)),
      u32(data.length),
      u32(data.length + 10),
      padded(data),
      opts.length ? Buffer.concat([...opts, u32(0)]) : Buffer.alloc(0),
    ]),
  );
/** An IDB with snap length `snap` and options. */
const idbSnap = (snap: number, opts: Buffer[] = []): Buffer => {
  const b = idb({ opts });
  b.writeUInt32LE(snap, 12);
  return b;
};

const tshark = installed("tshark"),
  editcap = installed("editcap");
const NO_TSHARK = "tshark and editcap are not installed (apt-get install tshark; .ci/run installs it)";
/** tshark's fields of every frame of `path`, tab-separated, one line a frame. */
const frames = (path: string, fields: string[]): string[] =>
  spawnSync("tshark", ["-r", path, "-T", "fields", ...fields.flatMap((f) => ["-e", f])], { encoding: "utf8" })
    .stdout.trim()
    .split("\n");

const TICKS = 1_700_000_000_123_456n;
const mixed = Buffer.concat([
  shb(),
  idbSnap(100),
  epb(udp(0), { ticks: TICKS }),
  spb(udp(1, 61)),
  opb(udp(2, 62), 7, TICKS + 1n, [option(2, u32(1)), option(1, Buffer.from("opb comment"))]),
  block(4, Buffer.concat([u16(1), u16(8), Buffer.from([10, 0, 0, 1]), Buffer.from("h1\0\0"), u32(0)])),
  spb(udp(3, 100), 150),
  opb(udp(4, 70), 0xffff, TICKS + 2n),
  epb(udp(5), { ticks: TICKS + 3n }),
]);

describe("simple and obsolete packet blocks", () => {
  it("are packets: traits for each, numbered as Wireshark numbers frames", () => {
    const input = file("mixed.pcapng", mixed),
      out = file("mixed-out.pcapng");
    const r = cli(["pcap", "annotate", input, out]);
    expect(`${r.code} ${r.err}${r.out}`).toBe(`0 annotated 6 packets: ${out}\n`);
    const shown = showJson(out);
    expect(shown.map((p) => [p.packet, valueOf(shown, p.packet, "packet_id")])).toEqual(
      [0, 1, 2, 3, 4, 5].map((i) => [i, String(i)]),
    );
    // The hash of each packet's own addresses; a simple packet block has no capture time, so no rx_timestamp.
    for (const i of [0, 1, 2, 3, 4, 5]) expect(Number(valueOf(shown, i, "rss_hash_type")), `packet ${i}`).toBe(41);
    expect(shown.map((p) => valueOf(shown, p.packet, "rx_timestamp"))).toEqual([
      "1700000000123456000",
      undefined,
      "1700000000123457000",
      undefined,
      "1700000000123458000",
      "1700000000123459000",
    ]);
    // Every packet of the output is an EPB; the name resolution block passes through.
    expect(blocks(readFileSync(out)).map((b) => b.type)).toEqual([0x0a0d0d0a, 1, 6, 6, 6, 4, 6, 6, 6]);
  });

  it.runIf(needs(tshark && editcap, NO_TSHARK))(
    "pcap show's packet i is tshark's frame i + 1; each becomes the EPB editcap makes of it, plus our option",
    () => {
      const input = file("mixed.pcapng", mixed),
        out = file("mixed-out.pcapng"),
        converted = file("mixed-editcap.pcapng");
      expect(cli(["pcap", "annotate", input, out, "--comment"]).code).toBe(0);
      const fields = ["frame.number", "frame.len", "frame.cap_len", "frame.drop_count", "ip.src", "data.data"];
      const before = frames(input, fields),
        after = frames(out, fields);
      expect(before).toHaveLength(6);
      expect(after).toEqual(before);
      // Our comment is frame i + 1's, for packet_id i.
      frames(out, ["frame.number", "frame.comment"]).forEach((line, i) =>
        expect(line).toMatch(new RegExp(`^${i + 1}\t(opb comment,)?traits: packet_id=${i} `)),
      );
      // editcap converts SPBs and OPBs to EPBs: ours are the same blocks, byte for byte, with our option added.
      expect(spawnSync("editcap", [input, converted]).status).toBe(0);
      const without = (b: { le: boolean; bytes: Buffer }): Buffer => {
        const captured = b.bytes.readUInt32LE(20),
          opts = epbOptions(b).filter((o) => ![2989, 5, 3].includes(o.code)),
          body = Buffer.concat([
            b.bytes.subarray(8, 28 + captured + ((4 - (captured % 4)) % 4)),
            opts.length ? Buffer.concat([...opts.map((o) => option(o.code, o.value)), u32(0)]) : Buffer.alloc(0),
          ]);
        return block(6, body);
      };
      const packets = (path: string) =>
        blocks(readFileSync(path))
          .filter((b) => b.type === 6)
          .map((b) => b.bytes);
      const ours = blocks(readFileSync(annotateTo(input))).filter((b) => b.type === 6);
      expect(ours.map((b) => without(b).toString("hex"))).toEqual(packets(converted).map((b) => b.toString("hex")));
    },
  );

  it("refuses a simple packet block that does not hold exactly its packet, as tshark does", () => {
    for (const [what, bytes, message] of [
      [
        "too short",
        spb(udp(1), 200),
        /byte offset 132: simple packet block of 80 bytes does not hold exactly its 100-byte packet \(original length 200, snap length 100\): 116 bytes/,
      ],
      [
        "too long",
        spb(udp(1, 80), 61),
        /byte offset 132: simple packet block of 96 bytes does not hold exactly its 61-byte packet \(original length 61, snap length 100\): 80 bytes/,
      ],
    ] as const) {
      const input = file(`spb-${what}.pcapng`, Buffer.concat([shb(), idbSnap(100), spb(udp(0)), bytes]));
      for (const args of [
        ["show", input],
        ["annotate", input, file("x.pcapng")],
      ]) {
        const r = cli(["pcap", ...args]);
        expect(`${r.code} ${r.err}`, `${what}: ${args[0]}`).toMatch(
          new RegExp(`^1 packet-traits: EBADMSG: ${message.source}\n$`),
        );
      }
      if (tshark)
        expect(spawnSync("tshark", ["-r", input], { encoding: "utf8" }).stderr, what).toMatch(/damaged or corrupt/);
    }
  });

  let reason = "";
  try {
    XdpProgram.load(join(ROOT, "bpf", "example.bpf.o")).close();
  } catch (error) {
    reason = `xdp run needs bpf() (root, a kernel that permits BPF_PROG_TEST_RUN): ${(error as Error).message}`;
  }
  it.runIf(needs(reason === "", reason))("xdp run runs the program on them and counts them", () => {
    const input = file("mixed.pcapng", mixed),
      out = file("xdp-out.pcapng");
    const r = cli(["xdp", "run", join(ROOT, "bpf", "example.bpf.o"), input, out]);
    expect(`${r.code} ${r.err}${r.out}`).toBe(`0 xdp run: 6 packets (6 XDP_PASS): ${out}\n`);
    const shown = showJson(out);
    expect(shown.map((p) => [p.packet, valueOf(shown, p.packet, "xdp_verdict")])).toEqual(
      [0, 1, 2, 3, 4, 5].map((i) => [i, "2"]),
    );
    const list = blocks(readFileSync(out)).filter((b) => b.type === 6);
    expect(list).toHaveLength(6);
    // The OPB's drop count travels as epb_dropcount, its flags and comment as they were.
    // Then ours: traits, epb_verdict, epb_hash (rx_hash), our comment, "xdp: XDP_PASS".
    expect(epbOptions(list[2]!).map((o) => o.code)).toEqual([2, 1, 4, 2989, 7, 3, 1, 1]);
  });
});

/** Annotates `input` without comments; returns the output's path. */
function annotateTo(input: string): string {
  const out = file("plain.pcapng"),
    r = cli(["pcap", "annotate", input, out, "--no-comment"]);
  expect(r.code, r.err).toBe(0);
  return out;
}

describe("timestamp resolutions (if_tsresol)", () => {
  // Ticks per second: 10^r, or 2^(r & 0x7f) with the high bit set.
  const perSecond = (r: number): bigint => (r & 0x80 ? 1n << BigInt(r & 0x7f) : 10n ** BigInt(r));
  // 2023 where the ticks fit 64 bits, 12 days after 1970 for finer resolutions.
  const ticksFor = (r: number): bigint =>
    (perSecond(r) > 10n ** 10n ? 1_000_000n : 1_700_000_000n) * perSecond(r) + perSecond(r) / 3n;
  /** One section a resolution, each with one packet at ticksFor(r). */
  const capture = (resolutions: number[]): string =>
    file(
      "tsresol.pcapng",
      Buffer.concat(
        resolutions.flatMap((r) => [
          shb(),
          idb({ opts: [option(9, Buffer.from([r]))] }),
          epb(udp(1), { ticks: ticksFor(r) }),
        ]),
      ),
    );

  it("reads decimal and binary (power-of-two bit) resolutions, to the nanosecond, rounding down", () => {
    const resolutions = [0, 3, 6, 9, 10, 12, 0x80, 0x80 | 1, 0x80 | 10, 0x80 | 20, 0x80 | 30, 0x80 | 32, 0x80 | 33];
    const shown = showJson(annotateTo(capture(resolutions)));
    expect(resolutions.map((_, i) => valueOf(shown, i, "rx_timestamp"))).toEqual(
      resolutions.map((r) => String((ticksFor(r) * 1_000_000_000n) / perSecond(r))),
    );
  });

  it.runIf(needs(tshark, NO_TSHARK))(
    "gives the time tshark gives, for every resolution tshark computes exactly",
    () => {
      const resolutions = [3, 6, 9, 0x80, 0x80 | 10, 0x80 | 20, 0x80 | 30],
        input = capture(resolutions);
      const shown = showJson(annotateTo(input));
      expect(
        resolutions.map((_, i) => {
          const ns = valueOf(shown, i, "rx_timestamp")!;
          return `${ns.slice(0, -9)}.${ns.slice(-9)}`;
        }),
      ).toEqual(frames(input, ["frame.time_epoch"]));
    },
  );
});

describe("the 16 MiB limit of a packet", () => {
  const MAX = 16 * 2 ** 20;
  const big = (size: number): Buffer => {
    const p = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) p[i] = (i >> 12) & 255;
    udp(7).copy(p);
    return p;
  };

  it("takes a 16 MiB packet, byte-exact, and reads its own output back; one byte more is refused, naming it", () => {
    const packet = big(MAX);
    for (const [kind, capture] of [
      ["pcap", pcap([udp(0), packet])],
      ["pcapng", Buffer.concat([shb(), idb(), epb(udp(0)), epb(packet)])],
    ] as const) {
      const once = annotateTo(file(`max.${kind}`, capture)),
        twice = annotateTo(once);
      const last = blocks(readFileSync(twice)).at(-1)!;
      expect(last.bytes.readUInt32LE(20), kind).toBe(MAX);
      expect(last.bytes.subarray(28, 28 + MAX).equals(packet), kind).toBe(true);
      expect(valueOf(showJson(twice), 1, "packet_id"), kind).toBe("1");
    }
    const over = big(MAX + 1);
    for (const [kind, capture, offset] of [
      ["pcap", pcap([udp(0), over]), 24 + 16 + 64 + 8],
      ["pcapng", Buffer.concat([shb(), idb(), epb(udp(0)), epb(over)]), 28 + 20 + 96 + 20],
    ] as const) {
      const r = cli(["pcap", "annotate", file(`over.${kind}`, capture), file("x.pcapng")]);
      expect(`${r.code} ${r.err}`, kind).toBe(
        `1 packet-traits: EBADMSG: byte offset ${offset}: captured length ${MAX + 1} is over the ${MAX}-byte limit of a packet\n`,
      );
    }
  });
});
