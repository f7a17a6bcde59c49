// The Wireshark plugin (wireshark/traits.lua): tshark filters on trait values, as `pcap show` reads them.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  ROOT,
  SAMPLE,
  cli,
  epb,
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

  it.runIf(needs(installed("tshark"), "tshark is not installed (apt-get install tshark; .ci/run installs it)"))(
    "reads only our comment, strictly: a value that does not parse exactly or fit its size is an error and no field",
    () => {
      /** Our comment, with its check: what annotate writes after its traits option. */
      const ours = (entries: string): string => {
        const body = `traits: ${entries}`;
        return `${body} crc32:${crc32(body).toString(16).padStart(8, "0")}`;
      };
      const store = Buffer.concat([Buffer.from([0xd9, 0x7e, 0, 0]), Buffer.alloc(16)]); // our option: PEN, an empty store
      const packet = (...comments: string[]): Buffer =>
        epb(udp(1), { opts: [option(2989, store), ...comments.map((c) => option(1, Buffer.from(c)))] });
      // [comment(s), what the plugin must read (fields), and the errors it must report]
      const malformed: Array<[string, string]> = [
        ["packet_id=abc", "not a decimal or 0x-hex integer"],
        ["packet_id=12abc34", "not a decimal or 0x-hex integer"],
        ["packet_id=-5", "not a decimal or 0x-hex integer"],
        ["packet_id=+5", "not a decimal or 0x-hex integer"],
        ["packet_id=1e3", "not a decimal or 0x-hex integer"],
        ["packet_id=5.0", "not a decimal or 0x-hex integer"],
        ["packet_id=", "not a decimal or 0x-hex integer"],
        ["packet_id=18446744073709551621", "does not fit packet_id's 8 bytes"],
        ["packet_id=18446744073709551616", "does not fit packet_id's 8 bytes"],
        ["packet_id=340282366920938463463374607431768211456", "does not fit packet_id's 8 bytes"],
        ["packet_id=0x10", "packet_id is 8 bytes, written in decimal, not 0x-hex"],
        ["packet_id", "packet_id is not a flag"],
        ["rx_hash=0x1deadbeef", "does not fit rx_hash's 32 bits"],
        ["rx_hash=0xdeadbeeg", "not a decimal or 0x-hex integer"],
        ["rx_hash=0x", "not a decimal or 0x-hex integer"],
        ["rx_hash=0X1F", "not a decimal or 0x-hex integer"],
        ["rx_hash=-0x5", "not a decimal or 0x-hex integer"],
        ["rx_hash=123", "written in 0x-hex, not decimal"],
        ["rss_hash_type=0x100000000", "does not fit rss_hash_type's 32 bits"],
        ["vlan_tci=70000", "written in 0x-hex, not decimal"],
        ["vlan_tci=0x11170", "does not fit vlan_tci's 16 bits"],
        ["vlan_proto=0x10000", "does not fit vlan_proto's 16 bits"],
        ["tenant=0x100000000", "does not fit tenant's 32 bits"],
        ["tenant=18446744073709551616", "does not fit tenant's 8 bytes"],
        ["=5", "is not a key's name or number"],
        ["Tenant=0x1", "is not a key's name or number"],
        ["64=0x1", "is not a key's name or number"],
        ["a=b=c", "not a decimal or 0x-hex integer"],
      ];
      const cases: Array<[string[], string, string[]]> = [
        ...malformed.map(([entry, why]): [string[], string, string[]] => [[ours(entry)], "\t\t\t\t\t", [why]]),
        // Valid edges: the largest values, leading zeros, a flag, a key without a name, a zero.
        [
          [ours("packet_id=18446744073709551615 rx_hash=0xffffffff vlan_tci=0xffff 0=0x3 seen tenant=0x0002a")],
          "18446744073709551615\t0xffffffff\t0xffff\tpacket_id|rx_hash|vlan_tci|0|seen|tenant\t18446744073709551615|4294967295|65535|3|1|42\t",
          [],
        ],
        // A bad entry costs only itself; a repeated name is an error.
        [
          [ours("packet_id=7 rx_hash=0x1deadbeef packet_id=8")],
          "7\t\t\tpacket_id\t7\t",
          ["does not fit", "appears twice"],
        ],
        // A user's own comment, before or after ours, with no check or a wrong one, is never read.
        [
          ["traits: packet_id=999", ours("packet_id=5")],
          "5\t\t\tpacket_id\t5\t",
          ["without packet-traits' crc32 check"],
        ],
        [
          [ours("packet_id=5"), "traits: packet_id=999"],
          "5\t\t\tpacket_id\t5\t",
          ["without packet-traits' crc32 check"],
        ],
        [[`${ours("packet_id=5").slice(0, -1)}0`], "\t\t\t\t\t", ["without packet-traits' crc32 check"]],
        [[ours("packet_id=5").replace("5", "6")], "\t\t\t\t\t", ["without packet-traits' crc32 check"]],
        [[ours("packet_id=5"), ours("packet_id=6")], "5\t\t\tpacket_id\t5\t", ["a second traits: comment"]],
      ];
      const input = join(tempDir(), "comments.pcapng");
      writeFileSync(input, Buffer.concat([shb(), idb(), ...cases.map(([comments]) => packet(...comments))]));
      const fields = [
        "traits.packet_id",
        "traits.rx_hash",
        "traits.vlan_tci",
        "traits.name",
        "traits.value",
        "_ws.expert.message",
      ];
      const r = tshark([
        "-r",
        input,
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=|",
        ...fields.flatMap((f) => ["-e", f]),
      ]);
      expect(r.status, r.stderr).toBe(0);
      const lines = r.stdout.split("\n").slice(0, -1);
      expect(lines).toHaveLength(cases.length);
      cases.forEach(([comments, read, errors], i) => {
        const columns = lines[i]!.split("\t"),
          messages = columns
            .pop()!
            .split("|")
            .filter((m) => /^(Malformed trait|Not read)/.test(m));
        expect(`${columns.join("\t")}\t`, comments.join(" | ")).toBe(read);
        expect(messages, comments.join(" | ")).toHaveLength(errors.length);
        errors.forEach((why, j) => expect(messages[j], comments.join(" | ")).toContain(why));
      });
      // The tree says what is wrong, as an error of group Malformed.
      expect(tshark(["-r", input, "-c", "1", "-O", "traits"]).stdout).toMatch(
        /Packet traits\n\s+\[Expert Info \(Error\/Malformed\): Malformed trait packet_id=abc: "abc" is not a decimal or 0x-hex integer\]/,
      );
    },
  );
});
