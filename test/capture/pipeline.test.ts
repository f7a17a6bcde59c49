// Streaming: stdin and stdout, pipelines with real Wireshark tools, output before the input ends,
// memory bounded whatever the capture's size.
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, ROOT, SAMPLE, cli, installed, needs, pcap, tempDir, udp } from "./helpers.js";

const dir = tempDir();
const tools = installed("tshark") && installed("editcap") && installed("text2pcap");
const bash = (script: string) =>
  spawnSync("bash", ["-c", `set -euo pipefail; ${script}`], { encoding: "utf8", maxBuffer: 2 ** 28 });

describe("pipelines", () => {
  it.runIf(
    needs(tools, "tshark, editcap and text2pcap are not installed (apt-get install tshark; .ci/run installs them)"),
  )(
    "editcap | annotate - - | tshark -r -: every packet arrives, byte-exact, with its traits",
    () => {
      // 20,000 packets of 60 to 1559 bytes: 16 MB, so records cross the reader's 1 MiB chunks and bursts end early.
      const count = 20_000,
        size = (i: number) => 60 + ((i * 677) % 1500),
        input = join(dir, "in.pcapng");
      writeFileSync(input, pcap(Array.from({ length: count }, (_, i) => udp(i, size(i)))));
      const r = bash(
        `editcap -F pcap ${input} - | node ${CLI} pcap annotate - - --comment | tshark -r - -T fields -e frame.number -e frame.len -e ip.src -e udp.srcport -e frame.comment`,
      );
      expect(r.status, r.stderr).toBe(0);
      const lines = r.stdout.trim().split("\n");
      expect(lines).toHaveLength(count);
      lines.forEach((line, i) => {
        const source = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}\t${1024 + (i & 0x7fff)}`;
        const time = `1700000000${String(i * 1000).padStart(9, "0")}`;
        if (
          !new RegExp(
            `^${i + 1}\t${size(i)}\t${source}\ttraits: packet_id=${i} rx_hash=0x[0-9a-f]+ rss_hash_type=0x29 rx_timestamp=${time} crc32:[0-9a-f]{8}$`,
          ).test(line)
        )
          expect(line, `packet ${i}`).toBe("");
      });
    },
    60_000,
  );

  it.runIf(needs(tools, "text2pcap and tshark are not installed (apt-get install tshark)"))(
    "text2pcap | annotate - - | tshark -r -",
    () => {
      const hex = [udp(7), udp(8)]
        .map((p) => `000000 ${[...p].map((b) => b.toString(16).padStart(2, "0")).join(" ")}\n`)
        .join("");
      const r = bash(
        `printf '${hex}' | text2pcap -q - - | node ${CLI} pcap annotate - - --comment | tshark -r - -T fields -e ip.src -e frame.comment`,
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^10\.0\.0\.7\ttraits: packet_id=0 .*\n10\.0\.0\.8\ttraits: packet_id=1 /);
    },
  );

  it("pcap show prints its first packet before the input ends, and stops at -c", async () => {
    const child = spawn(process.execPath, [CLI, "pcap", "show", "-"], { stdio: ["pipe", "pipe", "pipe"] });
    const annotated = cli(["pcap", "annotate", SAMPLE, "-"]).bytes;
    child.stdin.write(annotated.subarray(0, annotated.length - 40)); // the capture but the end of its last block
    const first = await new Promise<string>((resolve) =>
      child.stdout.once("data", (d: Buffer) => resolve(d.toString())),
    );
    expect(first).toMatch(/^packet 0:\n/);
    child.stdin.end(annotated.subarray(annotated.length - 40));
    const code = await new Promise((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
    expect(
      cli(["pcap", "show", "-", "-c", "2", "--json"], { input: annotated })
        .out.trim()
        .split("\n")
        .map((l) => JSON.parse(l).packet),
    ).toEqual([0, 1]);
  });

  it("pcap show --json writes JSON Lines, decode --json's shape with the packet's index", () => {
    const lines = cli(["pcap", "show", "-", "--json"], { input: cli(["pcap", "annotate", SAMPLE, "-"]).bytes })
      .out.trim()
      .split("\n");
    expect(lines).toHaveLength(5);
    expect(JSON.parse(lines[0]!)).toEqual({
      packet: 0,
      profile: "v1",
      capacity: 40,
      size: 40,
      entries: [
        { key: 0, name: "packet_id", length: 8, hex: "0000000000000000", value: "0" },
        { key: 59, name: "rx_hash", length: 4, hex: "78c1cc51", value: "1372373368" },
        { key: 60, name: "rss_hash_type", length: 4, hex: "19000000", value: "25" },
        { key: 63, name: "rx_timestamp", length: 8, hex: "00002a36fe9c9717", value: "1700000000000000000" },
      ],
    });
  });

  it("a reader that stops early (| head) ends show quietly", () => {
    const r = bash(
      `node ${join(ROOT, "bench", "pipeline.js")} --make 300000 - | node ${CLI} pcap annotate - - | node ${CLI} pcap show - | head -2`,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^packet 0:\n {2}key +name/);
  });

  it.runIf(
    needs(
      installed("/usr/bin/time") || spawnSync("/usr/bin/time", ["true"]).status === 0,
      "/usr/bin/time is not installed (apt-get install time)",
    ),
  )(
    "memory stays bounded: 1,000,000 packets through stdin and stdout in under 100 MB",
    () => {
      const r = bash(
        `node ${join(ROOT, "bench", "pipeline.js")} --make 1000000 - | /usr/bin/time -f '%M' node ${CLI} pcap annotate - - --no-comment 2> ${join(dir, "rss")} | wc -c; cat ${join(dir, "rss")}`,
      );
      expect(r.status, r.stderr).toBe(0);
      const [bytes, kb] = r.stdout.trim().split(/\s+/).map(Number);
      // 172 bytes a packet: the EPB, 64 bytes of data, our traits option, epb_packetid and epb_hash.
      const header = cli(["pcap", "annotate", "-", "-", "--no-comment"], { input: pcap([udp(0)]) }).bytes.length - 172;
      expect(bytes).toBe(1_000_000 * 172 + header);
      expect(kb).toBeLessThan(100 * 1024);
    },
    60_000,
  );
});
