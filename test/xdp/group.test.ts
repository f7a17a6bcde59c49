// XskGroup on veth pairs of 2 and 4 queues between two namespaces this test makes (and removes, even
// on failure): the sender's flows spread over the queues, every socket runs in its own worker over one
// shared pool, and every packet sent must arrive exactly once, with its traits, on one queue per flow;
// the per-queue counters add up, every frame is back in its fill ring at the end, and nothing stays
// attached. Both UMEM layouts (separate, shared). Zero-copy on veth is refused (EOPNOTSUPP), with
// nothing left attached. The group runs in test/fixtures/xdp/group.mjs inside the receiving namespace.
// Skipped, saying why, where namespaces or bpf() are not permitted; with CI=true that fails instead.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { send, vethPair } from "./netns.js";
import type { VethPair } from "./netns.js";
import type { XskQueueStatistics } from "packet-traits/xdp";

const CHILD = join(import.meta.dirname, "../fixtures/xdp/group.mjs");
const N = 2000,
  FLOWS = 64;

const pairs = new Map<number, VethPair>();
let reason = "";
try {
  if (process.getuid?.() !== 0) throw new Error("network namespaces and AF_XDP need root");
  pairs.set(2, vethPair("g", 2));
  pairs.set(4, vethPair("h", 4));
} catch (error) {
  reason = (error as Error).message;
}
const skip = pairs.size < 2 && process.env.CI !== "true";
if (skip) console.warn(`XskGroup test skipped: ${reason}`);

type Seen = [queue: number, packet: number, port: number, id: string, hash: number, data: string];
interface Report {
  error?: string;
  code?: string;
  mode: string;
  queues: number[];
  results: Seen[][];
  statistics: Array<Omit<XskQueueStatistics, "kernel"> & { kernel: Record<string, string> }>; // bigints as strings
  attached: boolean;
}

/** Runs the group in the receiving namespace; calls `traffic` once it is ready; resolves to its report. */
function group(p: VethPair, count: number, options: object, traffic = () => {}): Promise<Report> {
  const child = spawn(
    "ip",
    ["netns", "exec", p.rxNs, process.execPath, CHILD, p.rxDev, String(count), "15000", JSON.stringify(options)],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "",
    err = "",
    sent = false;
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d;
      if (!sent && out.startsWith("ready\n")) {
        sent = true;
        traffic();
      }
    });
    child.stderr.on("data", (d: Buffer) => (err += d));
    child.on("close", (code) => {
      const last = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !last.startsWith("{")) reject(new Error(`group.mjs exited ${code}: ${err.trim() || out}`));
      else resolve(JSON.parse(last) as Report);
    });
  });
}

describe.skipIf(skip)(`XskGroup: a worker per queue over one memory${skip ? ` skipped: ${reason}` : ""}`, () => {
  afterAll(() => {
    for (const pair of pairs.values()) pair.remove();
  });

  it.each([
    [2, "separate"],
    [2, "shared"],
    [4, "separate"],
    [4, "shared"],
  ])(
    `%i queues, %s UMEM: ${N} packets of ${FLOWS} flows each arrive once, with traits, one queue per flow; counters add up; no frame leaks; nothing stays attached`,
    async (queues, umem) => {
      const pair = pairs.get(queues)!;
      const report = await group(pair, N, { umem }, () => send(pair, N, FLOWS, 32));
      expect(report.error).toBeUndefined();
      expect(report.queues).toEqual(Array.from({ length: queues }, (_, q) => q));
      expect(report.mode).toBe("copy");
      const seen = report.results.flat();
      // Every packet once (the payload says which), none other.
      expect(seen.map((s) => s[1]).sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i));
      // Each with its traits: a packet id (unique: one counter for all queues) and an rx hash, the same for a flow.
      expect(new Set(seen.map((s) => s[3])).size).toBe(N);
      expect(seen.filter((s) => s[3] === "missing" || s[4] === -1)).toEqual([]);
      const queueOf = new Map<number, number>(),
        hashOf = new Map<number, number>();
      for (const [queue, , port, , hash] of seen) {
        expect(queueOf.get(port) ?? queue, `flow ${port}: one queue`).toBe(queue);
        expect(hashOf.get(port) ?? hash, `flow ${port}: one hash`).toBe(hash);
        queueOf.set(port, queue);
        hashOf.set(port, hash);
      }
      // The flows spread: every queue got some.
      expect(new Set(queueOf.values()).size).toBe(queues);
      // Per queue: the counters are what the handler saw; every frame back in the fill ring; no kernel drops.
      for (const [i, s] of report.statistics.entries()) {
        const here = seen.filter((p) => p[0] === s.queue).length;
        expect(s, `queue ${s.queue}`).toMatchObject({
          received: here,
          dropped: here,
          transmitted: 0,
          txFailed: 0,
          held: 0,
        });
        expect(report.results.length).toBe(queues);
        expect(s.kernel, `queue ${i}`).toEqual({
          rxDropped: "0",
          rxInvalid: "0",
          txInvalid: "0",
          rxRingFull: "0",
          fillRingEmpty: "0",
        });
      }
      expect(report.statistics.reduce((n, s) => n + s.received, 0)).toBe(N);
      expect(report.attached).toBe(false);
    },
    30000,
  );

  it("one worker for all queues (queues dealt to workers): the same packets", async () => {
    const pair = pairs.get(4)!;
    const report = await group(pair, 500, { workers: 1 }, () => send(pair, 500, FLOWS, 32));
    expect(report.results).toHaveLength(1);
    expect(report.results[0]!.map((s) => s[1]).sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(new Set(report.results[0]!.map((s) => s[0])).size).toBe(4);
    expect(report.attached).toBe(false);
  }, 30000);

  it("a handler that leaves another verdict than XDP_DROP or XDP_TX stops the group with EINVAL naming it; nothing stays attached", async () => {
    const pair = pairs.get(2)!;
    const report = await group(
      pair,
      1000,
      { handler: join(import.meta.dirname, "../fixtures/xdp/bad-handler.mjs") },
      () => send(pair, 50, FLOWS, 32),
    );
    expect(report.code).toBe("EINVAL");
    expect(report.error).toMatch(
      /^EINVAL: worker \d: the handler left verdict 2 for frame \d+ of queue \d: XdpAction.DROP \(1\) or XdpAction.TX \(3\)$/,
    );
    expect(report.attached).toBe(false);
  }, 30000);

  it("zero-copy on veth is EOPNOTSUPP, said in one line; a queue the device lacks is EINVAL; nothing stays attached", async () => {
    const pair = pairs.get(2)!;
    const zc = await group(pair, 0, { mode: "zero-copy" });
    expect(zc.code).toBe("EOPNOTSUPP");
    expect(zc.error).toMatch(
      /^EOPNOTSUPP: zero-copy AF_XDP on \S+ queue 0: its driver cannot .*ask for mode "copy"\)$/,
    );
    expect(zc.attached).toBe(false);
    const bad = await group(pair, 0, { queues: [0, 5] });
    expect(bad.error).toMatch(/^EINVAL: \S+ has no rx queue 5 \(it has 2: 0-1\)$/);
    expect(bad.attached).toBe(false);
  }, 30000);
});
