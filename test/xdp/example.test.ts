// bpf/example.bpf.o through BPF_PROG_TEST_RUN on the frames of test/fixtures/sample.pcap: each
// run leaves a traits store in the metadata area that the library decodes, with the packet id,
// the RSS hash and type that `pcap annotate` computes in software, and the VLAN tag. Skipped,
// saying why, where bpf() is not permitted; with CI=true that fails instead.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HardwareKey, TraitStore } from "packet-traits";
import { BpfError, BpfObject, testRun } from "packet-traits/xdp";

const OBJECT = join(import.meta.dirname, "../../bpf/example.bpf.o");
const META = 40;

let example: BpfObject | undefined,
  reason = "";
try {
  example = BpfObject.load(OBJECT);
} catch (error) {
  if (!(error instanceof BpfError)) throw error;
  reason = error.message;
}
const skip = example === undefined && process.env.CI !== "true";
if (skip) console.warn(`example program skipped: ${reason}`);

/** The frames of a little-endian classic pcap file. */
function frames(file: string): Uint8Array[] {
  const bytes = readFileSync(file),
    out: Uint8Array[] = [];
  for (let at = 24; at + 16 <= bytes.length; ) {
    const length = bytes.readUInt32LE(at + 8);
    out.push(new Uint8Array(bytes.subarray(at + 16, at + 16 + length)));
    at += 16 + length;
  }
  return out;
}

// What `pcap annotate` gives the same frames (src/rss.ts; frames 0 and 2 carry the addresses and
// ports of Microsoft's RSS verification suite, whose published hashes these are).
const EXPECTED = [
  { hash: 0x51ccc178, type: 25 },
  { hash: 0x066f68a8, type: 41 },
  { hash: 0x40207d3d, type: 26 },
  { hash: 0x29d3b545, type: 41, tci: 0x2064, proto: 0x8100 },
  { hash: 0, type: 0 },
];

describe.skipIf(skip)(`example XDP program (bpf/example.bpf.o)${skip ? ` skipped: ${reason}` : ""}`, () => {
  afterAll(() => example?.close());

  it("writes packet_id, rx_hash, rss_hash_type and the VLAN tag into a store the library decodes, and passes every frame", () => {
    if (!example) throw new Error(`example program unavailable: ${reason}`);
    const fd = example.programFd("traits_example"),
      sample = frames(join(import.meta.dirname, "../fixtures/sample.pcap"));
    expect(sample).toHaveLength(EXPECTED.length);
    sample.forEach((frame, i) => {
      const out = new Uint8Array(META + frame.length);
      const run = testRun(fd, { dataIn: frame, dataOut: out });
      expect(run.retval, `frame ${i}: XDP_PASS`).toBe(2);
      expect(run.dataSize).toBe(out.length);
      expect(Buffer.from(out.subarray(META)).equals(frame), `frame ${i} unchanged`).toBe(true);
      const store = TraitStore.over(out.subarray(0, META), { profile: "v1", impl: "js", hardwareKeys: "keys" }),
        want = EXPECTED[i]!;
      expect(store.get(0), `frame ${i} packet_id`).toBe(BigInt(i));
      expect(store.get(HardwareKey.RX_HASH), `frame ${i} rx_hash`).toBe(want.hash);
      expect(store.get(HardwareKey.RSS_HASH_TYPE), `frame ${i} rss_hash_type`).toBe(want.type);
      expect(store.get(HardwareKey.VLAN_TCI), `frame ${i} vlan_tci`).toBe(want.tci);
      expect(store.get(HardwareKey.VLAN_PROTO), `frame ${i} vlan_proto`).toBe(want.proto);
      expect(store.keys()).toEqual(want.tci === undefined ? [0, 59, 60] : [0, 59, 60, 61, 62]);
    });
  });
});
