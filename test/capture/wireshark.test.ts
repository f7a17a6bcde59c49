// The Wireshark plugin (wireshark/traits.lua): tshark filters on trait values, as `pcap show` reads them.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, SAMPLE, cli, installed, needs, pcap, showJson, tempDir, udp, valueOf } from "./helpers.js";

const PLUGIN = join(ROOT, "wireshark", "traits.lua");
const tshark = (args: string[]) => spawnSync("tshark", ["-X", `lua_script:${PLUGIN}`, ...args], { encoding: "utf8" });

describe("wireshark/traits.lua", () => {
  it.runIf(needs(installed("tshark"), "tshark is not installed (apt-get install tshark; .ci/run installs it)"))(
    "filters packets on their traits, by the names in the capture",
    () => {
      const dir = tempDir(),
        input = join(dir, "in.pcap"),
        out = join(dir, "out.pcapng"),
        keys = join(dir, "keys.json");
      spawnSync("sh", ["-c", `cat > ${keys}`], {
        input: JSON.stringify({ version: 1, profile: "v1", keys: { tenant: { key: 4, size: 2 } } }),
      });
      spawnSync("sh", ["-c", `cat > ${input}`], { input: pcap(Array.from({ length: 20 }, (_, i) => udp(i * 7919))) });
      expect(cli(["pcap", "annotate", input, out, "--registry", keys, "--set", "tenant=0x2a", "--comment"]).code).toBe(
        0,
      );
      const shown = showJson(out);
      const r = tshark([
        "-r",
        out,
        "-Y",
        "traits.packet_id == 3",
        "-T",
        "fields",
        "-e",
        "traits.rx_hash",
        "-e",
        "traits.rx_timestamp",
      ]);
      expect(r.status, r.stderr).toBe(0);
      const [hash, timestamp] = r.stdout.trim().split("\t");
      expect(Number(hash)).toBe(Number(valueOf(shown, 3, "rx_hash")));
      expect(timestamp).toBe(valueOf(shown, 3, "rx_timestamp"));
      // Every packet: its id and hash as tshark sees them are what show reads from the binary option.
      const all = tshark(["-r", out, "-T", "fields", "-e", "traits.packet_id", "-e", "traits.rx_hash"])
        .stdout.trim()
        .split("\n");
      expect(all.map((line) => line.split("\t").map(Number))).toEqual(
        shown.map((_p, i) => [i, Number(valueOf(shown, i, "rx_hash"))]),
      );
      // Keys without a field of their own filter by name and value; the tree shows them by name.
      expect(
        tshark(["-r", out, "-Y", 'traits.name == "tenant" && traits.value == 42', "-T", "fields", "-e", "frame.number"])
          .stdout.trim()
          .split("\n"),
      ).toHaveLength(20);
      expect(tshark(["-r", out, "-c", "1", "-V"]).stdout).toMatch(
        /Packet traits\n\s+packet_id: 0\n\s+tenant: 0x2a\n\s+rx_hash: 0x[0-9a-f]+/,
      );
    },
  );

  it.runIf(needs(installed("tshark"), "tshark is not installed (apt-get install tshark; .ci/run installs it)"))(
    "tshark reads our pcapng without a warning, showing the comment and the custom option",
    () => {
      const out = join(tempDir(), "tshark.pcapng");
      expect(cli(["pcap", "annotate", SAMPLE, out, "--comment"]).code).toBe(0);
      const quiet = (stderr: string) =>
        stderr.split("\n").filter((line) => line && !/^Running as user "root"/.test(line));
      const packets = spawnSync("tshark", ["-r", out], { encoding: "utf8" });
      expect(packets.status).toBe(0);
      expect(quiet(packets.stderr)).toEqual([]);
      expect(packets.stdout.trim().split("\n")).toHaveLength(5);
      expect(packets.stdout).not.toMatch(/Malformed/);
      const blocks = spawnSync("tshark", ["-X", "read_format:MIME Files Format", "-r", out, "-V"], {
        encoding: "utf8",
      });
      expect(blocks.status).toBe(0);
      expect(quiet(blocks.stderr)).toEqual([]);
      expect(blocks.stdout).toMatch(/Code: [^\n]*\(2989\)/);
      expect(blocks.stdout).toMatch(
        /Comment: traits: packet_id=0 rx_hash=0x51ccc178 rss_hash_type=0x19 rx_timestamp=1700000000000000000/,
      );
      const comments = spawnSync("tshark", ["-r", out, "-T", "fields", "-e", "frame.comment"], {
        encoding: "utf8",
      }).stdout;
      expect(comments.split("\n")[3]).toMatch(/vlan_tci=0x2064 vlan_proto=0x8100/);
    },
  );
});
