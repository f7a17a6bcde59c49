// Stock Wireshark, no plugin: what `pcap annotate`, `xdp run` and `xdp capture` write in the standard
// EPB options (epb_packetid, epb_queue, epb_verdict of type eBPF XDP, epb_hash of algorithm Toeplitz),
// read by tshark alone and filtered on frame.packet_id, frame.interface_queue and frame.verdict.ebpf_xdp;
// the user's own options kept, ours replaced (never doubled); both byte orders; the WebAssembly fast path
// and the JS path byte for byte; and the plugin (wireshark/traits.lua) on each command's default output.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { XdpProgram } from "../../dist/xdp/index.js";
import { send, vethPair, type VethPair } from "../xdp/netns.js";
import {
  CLI,
  ROOT,
  SAMPLE,
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

const dir = tempDir(),
  hasTshark = needs(installed("tshark"), "tshark is not installed (apt-get install tshark; .ci/run installs it)"),
  PLUGIN = join(ROOT, "wireshark", "traits.lua");

/** tshark's fields of every packet of `file` passing `filter` ("" for all), without the plugin unless `plugin`; one line a packet. */
function fields(file: string, filter: string, names: string[], plugin = false): string[] {
  const r = spawnSync(
    "tshark",
    [
      ...(plugin ? ["-X", `lua_script:${PLUGIN}`] : []),
      "-r",
      file,
      ...(filter ? ["-Y", filter] : []),
      "-T",
      "fields",
      ...names.flatMap((n) => ["-e", n]),
    ],
    { encoding: "utf8" },
  );
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).not.toMatch(/warn|error|malformed/i);
  return r.stdout.trim() === "" ? [] : r.stdout.trim().split("\n");
}

const u64 = (value: bigint, le = true) => {
  const b = Buffer.alloc(8);
  if (le) b.writeBigUInt64LE(value);
  else b.writeBigUInt64BE(value);
  return b;
};
const u32 = (value: number, le = true) => {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(value);
  else b.writeUInt32BE(value);
  return b;
};
/** The codes of each EPB's options in `file`. */
const codes = (file: string) =>
  blocks(readFileSync(file))
    .filter((b) => b.type === 6)
    .map((b) => epbOptions(b).map((o) => o.code));

describe("standard EPB options", () => {
  it("annotate writes epb_packetid and epb_hash (Toeplitz, the section's byte order) beside its traits: tshark alone filters on frame.packet_id", () => {
    const out = join(dir, "annotated.pcapng");
    expect(cli(["pcap", "annotate", SAMPLE, out]).code).toBe(0);
    const shown = showJson(out);
    // Packet 4 is ARP: no RSS hash (rss_hash_type 0), so no epb_hash.
    expect(codes(out)).toEqual([
      [2989, 5, 3, 1],
      [2989, 5, 3, 1],
      [2989, 5, 3, 1],
      [2989, 5, 3, 1],
      [2989, 5, 1],
    ]);
    const epbs = blocks(readFileSync(out)).filter((b) => b.type === 6);
    epbs.forEach((b, i) => {
      const options = epbOptions(b);
      expect(options.find((o) => o.code === 5)!.value).toEqual(u64(BigInt(i)));
      const hash = options.find((o) => o.code === 3);
      if (i < 4)
        expect(hash!.value).toEqual(Buffer.concat([Buffer.from([5]), u32(Number(valueOf(shown, i, "rx_hash")))]));
    });
    if (!hasTshark) return;
    expect(fields(out, "frame.packet_id == 3", ["frame.number", "frame.packet_id"])).toEqual(["4\t3"]);
    expect(fields(out, "", ["frame.packet_id"])).toEqual(["0", "1", "2", "3", "4"]);
    // tshark 4.0's file-format view shows the hash option: algorithm 5 (Toeplitz, which 4.0 does not name), the hash's bytes.
    const view = spawnSync("tshark", ["-X", "read_format:MIME Files Format", "-r", out, "-V"], { encoding: "utf8" });
    expect(view.stdout).toMatch(
      /Code: Hash \(3\)\n\s+Length: 5\n\s+Hash Algorithm: [^\n]*\(5\)\n\s+Hash Data: 78c1cc51/,
    );
  });

  it("annotating our own output replaces our options (never doubles them) and keeps the user's", () => {
    const user = [
      option(5, u64(77n)),
      option(6, u32(2)),
      option(3, Buffer.from([2, 0xec, 0x1d, 0x87, 0x97])),
      option(1, Buffer.from("the user's note")),
    ];
    for (const le of [true, false]) {
      const input = join(dir, `user-${le}.pcapng`);
      writeFileSync(
        input,
        Buffer.concat([
          shb({ le }),
          idb({ le }),
          epb(udp(1), { le, opts: user.map((o) => reorder(o, le)) }),
          epb(udp(2), { le }),
        ]),
      );
      const once = join(dir, `once-${le}.pcapng`),
        twice = join(dir, `twice-${le}.pcapng`);
      expect(cli(["pcap", "annotate", input, once]).code).toBe(0);
      expect(cli(["pcap", "annotate", once, twice]).code).toBe(0);
      // The user's packet id and queue stay (they allow one each): ours is not added; their hash stays beside ours.
      const expected = [
        [5, 6, 3, 1, 2989, 3, 1],
        [2989, 5, 3, 1],
      ];
      expect(codes(once), `le ${le}`).toEqual(expected);
      expect(codes(twice), `le ${le}`).toEqual(expected);
      expect(readFileSync(twice).equals(readFileSync(once))).toBe(true);
      if (!hasTshark) continue;
      expect(fields(twice, "", ["frame.packet_id", "frame.interface_queue"]), `le ${le}`).toEqual(["77\t2", "1"]);
    }
  });

  it("the WebAssembly fast path writes the JS path's bytes, with and without the comment", () => {
    const input = join(dir, "plain.pcap"),
      keys = join(dir, "keys.json");
    writeFileSync(input, pcap(Array.from({ length: 600 }, (_, i) => udp(i * 7919, 60 + (i % 40)))));
    writeFileSync(
      keys,
      JSON.stringify({ version: 1, profile: "v1", keys: { tenant: { key: 4, size: 2 }, flow: { key: 9, size: 4 } } }),
    );
    for (const args of [[], ["--no-comment"], ["--registry", keys, "--set", "tenant=0x2a", "--set", "flow=7"]]) {
      const wasm = join(dir, "wasm.pcapng"),
        js = join(dir, "js.pcapng");
      expect(cli(["pcap", "annotate", input, wasm, ...args]).code).toBe(0);
      expect(
        cli(["pcap", "annotate", input, js, ...args], { env: { ...process.env, PACKET_TRAITS_IMPL: "js" } }).code,
      ).toBe(0);
      expect(readFileSync(wasm).equals(readFileSync(js)), args.join(" ")).toBe(true);
    }
  });

  let reason = "";
  try {
    XdpProgram.load(join(ROOT, "bpf", "example.bpf.o")).close();
  } catch (error) {
    reason = `xdp run needs bpf() (root, a kernel that permits BPF_PROG_TEST_RUN): ${(error as Error).message}`;
  }
  it.runIf(needs(reason === "", reason))(
    "xdp run writes the program's verdict as epb_verdict (eBPF XDP): tshark alone filters on frame.verdict.ebpf_xdp",
    () => {
      const out = join(dir, "run.pcapng");
      expect(cli(["xdp", "run", join(ROOT, "bpf", "example.bpf.o"), SAMPLE, out]).code).toBe(0);
      expect(codes(out).every((c) => c.includes(7))).toBe(true);
      const verdict = blocks(readFileSync(out))
        .filter((b) => b.type === 6)
        .map((b) => epbOptions(b).find((o) => o.code === 7)!.value);
      expect(verdict[0]).toEqual(Buffer.concat([Buffer.from([2]), u64(2n)]));
      if (!hasTshark) return;
      expect(fields(out, "frame.verdict.ebpf_xdp == 2", ["frame.number"])).toEqual(["1", "2", "3", "4", "5"]);
      expect(fields(out, "frame.verdict.ebpf_xdp == 1", ["frame.number"])).toEqual([]);
      // The plugin reads xdp run's default output.
      expect(fields(out, 'traits.name == "xdp_verdict" && traits.value == 2', ["frame.number"], true)).toHaveLength(5);
    },
  );

  it.runIf(hasTshark)("the plugin shows the traits of annotate's default output", () => {
    const out = join(dir, "default.pcapng");
    expect(cli(["pcap", "annotate", SAMPLE, out]).code).toBe(0);
    expect(fields(out, "traits.packet_id == 3", ["traits.rx_hash", "traits.vlan_tci"], true)).toEqual([
      "0x29d3b545\t0x2064",
    ]);
  });
});

/** An option built little-endian, in byte order `le` (its code and length; values here are bytes or a u32/u64 written for `le` by the caller). */
function reorder(o: Buffer, le: boolean): Buffer {
  if (le) return o;
  const code = o.readUInt16LE(0),
    length = o.readUInt16LE(2),
    value = Buffer.from(o.subarray(4, 4 + length));
  if (code === 5 || code === 6) value.reverse();
  return option(code, value, false);
}

// xdp capture, live, on a veth pair between two namespaces this test makes (and removes).
let pair: VethPair | undefined,
  live = "";
try {
  if (process.getuid?.() !== 0) throw new Error("network namespaces and AF_XDP need root");
  pair = vethPair("s");
} catch (error) {
  live = `xdp capture needs root, network namespaces and AF_XDP: ${(error as Error).message}`;
}
const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) child.kill("SIGKILL");
  pair?.remove();
});

describe("xdp capture", () => {
  it.runIf(needs(pair !== undefined, live))(
    "writes its queue (epb_queue), the redirect (epb_verdict XDP_REDIRECT) and packet_id (epb_packetid): tshark alone filters on them; the plugin reads the default output",
    async () => {
      const p = pair!,
        out = join(dir, "live.pcapng");
      const child = spawn(
        "ip",
        ["netns", "exec", p.rxNs, process.execPath, CLI, "xdp", "capture", "--dev", p.rxDev, "-c", "5", out],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      running.add(child);
      let err = "";
      const done = new Promise<number | null>((resolve) => child.on("close", resolve));
      await new Promise<void>((resolve, reject) => {
        child.stderr.on("data", (d: Buffer) => {
          err += d;
          if (err.includes("listening on")) resolve();
        });
        void done.then(() => reject(new Error(err)));
      });
      send(p, 5, 1);
      expect(await done, err).toBe(0);
      running.delete(child);
      expect(codes(out)[0]!.slice(0, 4)).toEqual([2989, 5, 6, 7]);
      if (!hasTshark) return;
      expect(fields(out, "frame.interface_queue == 0 && frame.verdict.ebpf_xdp == 4", ["frame.packet_id"])).toEqual([
        "0",
        "1",
        "2",
        "3",
        "4",
      ]);
      expect(fields(out, "traits.packet_id == 2", ["frame.number"], true)).toEqual(["3"]);
    },
    30_000,
  );
});
