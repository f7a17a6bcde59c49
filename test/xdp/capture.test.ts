// `packet-traits xdp capture` on a veth pair between two namespaces this test makes (and removes,
// even on failure): -c 1000 writes a capture whose traits `pcap show` prints; SIGINT stops a capture
// with no limit, flushing what it has; the program is detached after either. Skipped, saying why,
// where namespaces or bpf() are not permitted; with CI=true that fails instead.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { send, vethPair } from "./netns.js";
import type { VethPair } from "./netns.js";

const CLI = join(import.meta.dirname, "../../dist/cli/bin.js");
const dir = mkdtempSync(join(tmpdir(), "xdp-capture-test-"));

let pair: VethPair | undefined,
  reason = "";
try {
  if (process.getuid?.() !== 0) throw new Error("network namespaces and AF_XDP need root");
  pair = vethPair("c");
} catch (error) {
  reason = (error as Error).message;
}
const skip = pair === undefined && process.env.CI !== "true";
if (skip) console.warn(`xdp capture test skipped: ${reason}`);

/** Starts `xdp capture` in the receiving namespace; resolves once it listens, with its pid and its end. */
function start(
  p: VethPair,
  args: string[],
): Promise<{ pid: number; done: Promise<{ code: number | null; err: string }> }> {
  const child = spawn(
    "ip",
    ["netns", "exec", p.rxNs, process.execPath, CLI, "xdp", "capture", "--dev", p.rxDev, ...args],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  const done = new Promise<{ code: number | null; err: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, err })),
  );
  return new Promise((resolve, reject) => {
    child.stderr.on("data", (d: Buffer) => {
      err += d;
      if (err.includes("listening on")) resolve({ pid: child.pid!, done });
    });
    void done.then(({ code }) => reject(new Error(`xdp capture exited ${code} before listening: ${err.trim()}`)));
  });
}

/** `pcap show --json` (JSON Lines) of a capture: each packet's entries by name. */
function show(file: string): Array<{ packet: number; traits: Record<string, { value: string }> }> {
  const r = spawnSync(process.execPath, [CLI, "pcap", "show", file, "--json"], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout
    .trim()
    .split("\n")
    .map((line) => {
      const { packet, entries } = JSON.parse(line) as {
        packet: number;
        entries: Array<{ key: number; name: string; value: string }>;
      };
      return { packet, traits: Object.fromEntries(entries.map((e) => [e.name || String(e.key), e])) };
    });
}

/** True while the receiving end has an XDP program. */
const attached = (p: VethPair) =>
  /xdp/.test(spawnSync("ip", ["-n", p.rxNs, "link", "show", p.rxDev], { encoding: "utf8" }).stdout);

describe.skipIf(skip)(`packet-traits xdp capture${skip ? ` skipped: ${reason}` : ""}`, () => {
  afterAll(() => {
    pair?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it("-c 1000 writes every packet with its traits, which pcap show prints; the program is detached after", async () => {
    if (!pair) throw new Error(reason);
    const out = join(dir, "live.pcapng");
    const { done } = await start(pair, ["-c", "1000", out]);
    expect(attached(pair)).toBe(true);
    send(pair, 1000, 3);
    const { code, err } = await done;
    expect([code, err.trim().split("\n").pop()]).toEqual([
      0,
      `xdp capture: 1000 packets from ${pair.rxDev} queue 0: ${out}`,
    ]);
    const shown = show(out);
    expect(shown).toHaveLength(1000);
    expect(shown.map((p) => p.traits["0"]!.value)).toEqual(shown.map((_, i) => String(i)));
    expect(shown.every((p) => p.traits.rx_hash && p.traits.rx_timestamp)).toBe(true);
    expect(attached(pair)).toBe(false);
  }, 30000);

  it("SIGINT stops a capture without a limit and flushes what it received", async () => {
    if (!pair) throw new Error(reason);
    const out = join(dir, "interrupted.pcapng");
    const { pid, done } = await start(pair, [out]);
    send(pair, 10, 2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(pid, "SIGINT");
    const { code, err } = await done;
    expect([code, err.trim().split("\n").pop()]).toEqual([
      0,
      `xdp capture: 10 packets from ${pair.rxDev} queue 0: ${out}`,
    ]);
    expect(show(out).map((p) => p.traits["0"]!.value)).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
    expect(attached(pair)).toBe(false);
  }, 30000);

  it("refuses a missing interface or arguments with one line, leaving no file", () => {
    const empty = mkdtempSync(join(dir, "refused-"));
    const r = spawnSync(process.execPath, [CLI, "xdp", "capture", "--dev", "nosuchdev0", join(empty, "x.pcapng")], {
      encoding: "utf8",
    });
    expect([r.status, r.stderr.trim(), readdirSync(empty)]).toEqual([
      1,
      "packet-traits: ENODEV: no interface nosuchdev0",
      [],
    ]);
    const usage = spawnSync(process.execPath, [CLI, "xdp", "capture", "x.pcapng"], { encoding: "utf8" });
    expect([usage.status, usage.stderr.trim()]).toEqual([
      2,
      "packet-traits: xdp capture takes --dev IF and OUT.pcapng (or - for stdout) (see packet-traits --help)",
    ]);
  });
});
