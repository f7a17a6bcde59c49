// The reference forwarder (examples/forwarder), run as a user runs it, on a veth pair of 2 queues between
// two namespaces this test makes (and removes, even on failure): datagrams of 16 flows (ports 9000-9015)
// sent from the other namespace come back with their Ethernet addresses swapped, each exactly once and
// otherwise byte for byte as sent, except those its trait rule drops (tenant 9003); its counters add up
// and every frame is back in its fill ring at the end (nothing leaks); nothing stays attached. The frames
// that come back are taken on the sending end by test/fixtures/xdp/group.mjs (an XskGroup there: they
// come back on both its queues).
// Skipped, saying why, where namespaces or bpf() are not permitted; with CI=true that fails instead.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { send, vethPair } from "./netns.js";
import type { VethPair } from "./netns.js";

const FORWARDER = join(import.meta.dirname, "../../examples/forwarder/forwarder.mjs"),
  GROUP = join(import.meta.dirname, "../fixtures/xdp/group.mjs");
const N = 800,
  FLOWS = 16,
  SIZE = 32;

let pair: VethPair | undefined,
  reason = "";
try {
  if (process.getuid?.() !== 0) throw new Error("network namespaces and AF_XDP need root");
  pair = vethPair("w", 2);
} catch (error) {
  reason = (error as Error).message;
}
const skip = pair === undefined && process.env.CI !== "true";
if (skip) console.warn(`forwarder test skipped: ${reason}`);

/** Runs `node SCRIPT ARGS` in namespace `ns`; `ready` resolves once it printed "ready", `done` to its stdout lines after that. */
function run(
  ns: string,
  script: string,
  args: string[],
): { child: ChildProcess; ready: Promise<void>; done: Promise<string[]> } {
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, script, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "",
    err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d));
  const done = new Promise<string[]>((resolve, reject) =>
    child.on("close", (code) =>
      code === 0
        ? resolve(out.trim().split("\n").slice(1))
        : reject(new Error(`${script} exited ${code}: ${err.trim().split("\n").pop() ?? ""}`)),
    ),
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d;
      if (out.startsWith("ready\n")) resolve();
    });
    done.catch(reject);
  });
  return { child, ready, done };
}

describe.skipIf(skip)(`examples/forwarder${skip ? ` skipped: ${reason}` : ""}`, () => {
  afterAll(() => pair?.remove());

  it(`forwards ${N} datagrams of ${FLOWS} flows back with the Ethernet addresses swapped, each once, dropping tenant 9003 by its trait; no frame leaks`, async () => {
    const p = pair!,
      txMac = JSON.parse(spawnSync("ip", ["-n", p.txNs, "-j", "link", "show", p.txDev], { encoding: "utf8" }).stdout)[0]
        .address as string;
    const forwarder = run(p.rxNs, FORWARDER, [p.rxDev, "--deny", "9003"]);
    try {
      await forwarder.ready;
      const kept = N - N / FLOWS,
        back = run(p.txNs, GROUP, [p.txDev, String(kept), "15000"]);
      await back.ready;
      send(p, N, FLOWS, SIZE);
      const [returned] = await back.done,
        frames = (JSON.parse(returned!) as { results: string[][][] }).results
          .flat()
          .map((seen) => Buffer.from(seen[5]!, "hex"));
      forwarder.child.kill("SIGINT");
      const [line] = await forwarder.done,
        report = JSON.parse(line!) as {
          queues: Array<{ received: number; dropped: number; transmitted: number; txFailed: number; held: number }>;
          workers: Array<{ packets: number }>;
        };
      const hex = (mac: string) => Buffer.from(mac.replaceAll(":", ""), "hex");
      const numbers: number[] = [];
      for (const frame of frames) {
        expect(frame.subarray(0, 6).equals(hex(txMac)), "destination: the sender").toBe(true);
        expect(frame.subarray(6, 12).equals(hex(p.rxMac)), "source: the forwarder's interface").toBe(true);
        const port = frame.readUInt16BE(36),
          n = Number(/^packet (\d+)/.exec(frame.subarray(42).toString("latin1"))![1]);
        expect(port).toBe(9000 + (n % FLOWS));
        const payload = Buffer.alloc(SIZE, 0x2e);
        payload.write(`packet ${n}`);
        expect(frame.subarray(42).equals(payload), `packet ${n}: payload as sent`).toBe(true);
        numbers.push(n);
      }
      expect(numbers.sort((a, b) => a - b)).toEqual(
        Array.from({ length: N }, (_, i) => i).filter((i) => i % FLOWS !== 3),
      );
      const sum = (k: "received" | "dropped" | "transmitted" | "txFailed" | "held") =>
        report.queues.reduce((s, q) => s + q[k], 0);
      expect([sum("received"), sum("dropped"), sum("transmitted"), sum("txFailed"), sum("held")]).toEqual([
        N,
        N / FLOWS,
        kept,
        0,
        0,
      ]);
      expect(report.queues.every((q) => q.received > 0)).toBe(true); // both queues served (16 flows on one: 2 in 65,536)
      expect(report.workers.reduce((s, w) => s + w.packets, 0)).toBe(N);
      expect(
        /\bxdp/.test(spawnSync("ip", ["-n", p.rxNs, "link", "show", "dev", p.rxDev], { encoding: "utf8" }).stdout),
      ).toBe(false);
    } finally {
      forwarder.child.kill("SIGKILL");
    }
  }, 40000);
});
