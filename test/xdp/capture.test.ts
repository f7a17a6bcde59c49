// `packet-traits xdp capture` on a veth pair between two namespaces this test makes (and removes,
// even on failure): -c 1000 writes a capture whose traits `pcap show` prints; SIGINT, SIGTERM and
// SIGHUP stop a capture with no limit, keeping all it received; after SIGKILL the file holds every
// packet that arrived more than 100 ms before; stdout gets packets while the capture runs; the
// program is detached after each. A --meta-length other than the program's is refused before
// capturing, or (for a program that does not declare it) its packets are kept without traits.
// Every check compares the packets on disk with the packets sent. Skipped, saying why, where
// namespaces or bpf() are not permitted; with CI=true that fails instead.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { compileFixture, packetsOf } from "./helpers.js";
import { children, send, vethPair } from "./netns.js";
import type { VethPair } from "./netns.js";

const CLI = join(import.meta.dirname, "../../dist/cli/bin.js");
const dir = mkdtempSync(join(tmpdir(), "xdp-capture-test-"));

let pair: VethPair | undefined,
  reason = "",
  undeclared = "";
try {
  if (process.getuid?.() !== 0) throw new Error("network namespaces and AF_XDP need root");
  undeclared = compileFixture("receive-undeclared", dir);
  pair = vethPair("c");
} catch (error) {
  reason = (error as Error).message;
}
const skip = pair === undefined && process.env.CI !== "true";
if (skip) console.warn(`xdp capture test skipped: ${reason}`);

type Ended = { code: number | null; signal: NodeJS.Signals | null; err: string };

/** Captures still running: a failed test kills its own in afterEach, so that none outlives the test (or keeps its program attached). */
const running = children();

/** Starts `xdp capture` in the receiving namespace; resolves once it listens, with its pid, its stdout so far and its end. */
function start(p: VethPair, args: string[]): Promise<{ pid: number; stdout: () => Buffer; done: Promise<Ended> }> {
  const child = spawn(
    "ip",
    ["netns", "exec", p.rxNs, process.execPath, CLI, "xdp", "capture", "--dev", p.rxDev, ...args],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  running.track(child);
  let err = "";
  const out: Buffer[] = [];
  child.stdout.on("data", (d: Buffer) => out.push(d));
  const done = new Promise<Ended>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, err })));
  return new Promise((resolve, reject) => {
    child.stderr.on("data", (d: Buffer) => {
      err += d;
      if (err.includes("listening on")) resolve({ pid: child.pid!, stdout: () => Buffer.concat(out), done });
    });
    void done.then(({ code }) => reject(new Error(`xdp capture exited ${code} before listening: ${err.trim()}`)));
  });
}

/** The payload the sender puts in datagram i (netns.js send(), 32 bytes). */
const payload = (i: number) => {
  const p = Buffer.alloc(32, 0x2e);
  p.write(`packet ${i}`);
  return p.toString("hex");
};

/** The UDP payloads of the packets in a capture (bytes, e.g. what a capture wrote to stdout so far), each with its packet_id (key 0, the first value) if its store has it. */
const payloads = (bytes: Uint8Array) =>
  packetsOf(bytes).map(({ data, store }) => ({
    payload: data.slice(2 * 42),
    id: store && store.length >= 24 && (store[8]! & 1) === 1 ? Buffer.from(store).readBigUInt64LE(16) : undefined,
  }));

/** Polls `check` every 20 ms until it holds or `ms` pass; returns whether it held. */
async function until(check: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((resolve) => setTimeout(resolve, 20)))
    if (check()) return true;
  return check();
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
  afterEach(() => running.killAll());
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
    expect(shown.map((p) => p.traits.packet_id!.value)).toEqual(shown.map((_, i) => String(i)));
    expect(shown.every((p) => p.traits.rx_hash && p.traits.rx_timestamp)).toBe(true);
    expect(attached(pair)).toBe(false);
  }, 30000);

  it.each(["SIGINT", "SIGTERM", "SIGHUP"] as const)(
    "%s stops a capture without a limit, keeping every packet it received; the program is detached",
    async (signal) => {
      if (!pair) throw new Error(reason);
      const out = join(dir, `stopped-${signal}.pcapng`);
      const { pid, done } = await start(pair, [out]);
      send(pair, 10, 2);
      await new Promise((resolve) => setTimeout(resolve, 300));
      process.kill(pid, signal);
      const { code, err } = await done;
      expect([code, err.trim().split("\n").pop()]).toEqual([
        0,
        `xdp capture: 10 packets from ${pair.rxDev} queue 0: ${out}`,
      ]);
      expect(payloads(readFileSync(out))).toEqual(
        Array.from({ length: 10 }, (_, i) => ({ payload: payload(i), id: BigInt(i) })),
      );
      expect(attached(pair)).toBe(false);
    },
    30000,
  );

  it("SIGKILL: the file on disk is a valid pcapng holding every packet that arrived over 100 ms before (-U: each at once)", async () => {
    if (!pair) throw new Error(reason);
    for (const args of [[], ["-U"]]) {
      const out = join(dir, `killed${args.join("")}.pcapng`);
      const { pid, done } = await start(pair, [...args, out]);
      send(pair, 40, 3);
      expect(await until(() => payloads(readFileSync(out)).length === 40, 3000), `${args}: on disk while running`).toBe(
        true,
      );
      await new Promise((resolve) => setTimeout(resolve, 150));
      process.kill(pid, "SIGKILL");
      expect((await done).signal).toBe("SIGKILL");
      expect(payloads(readFileSync(out))).toEqual(
        Array.from({ length: 40 }, (_, i) => ({ payload: payload(i), id: BigInt(i) })),
      );
      expect(await until(() => !attached(pair!)), "the kernel detaches the program of a dead process").toBe(true);
    }
  }, 30000);

  it("to stdout: a reader gets the packets while the capture runs, not at its end", async () => {
    if (!pair) throw new Error(reason);
    const { pid, stdout, done } = await start(pair, ["-"]);
    send(pair, 5, 1);
    expect(await until(() => payloads(stdout()).length === 5, 3000)).toBe(true);
    expect(payloads(stdout()).map((p) => p.payload)).toEqual([0, 1, 2, 3, 4].map(payload));
    process.kill(pid, "SIGTERM");
    const { code, err } = await done;
    expect([code, err.trim().split("\n").pop()]).toEqual([
      0,
      `xdp capture: 5 packets from ${pair.rxDev} queue 0: stdout`,
    ]);
  }, 30000);

  it.each([52, 44])(
    "--meta-length %i with a program that does not declare its 48 bytes: every packet kept, without traits, said on stderr; exit 1",
    async (metaLength) => {
      if (!pair) throw new Error(reason);
      const out = join(dir, `meta-${metaLength}.pcapng`);
      const { done } = await start(pair, [
        "-c",
        "20",
        "--program",
        undeclared,
        "--meta-length",
        String(metaLength),
        out,
      ]);
      send(pair, 20, 2);
      const { code, err } = await done;
      const lines = err.trim().split("\n");
      expect([code, lines.length, lines[1], lines[2]]).toEqual([
        1,
        3,
        `xdp capture: packet 0 (queue 0): the program's metadata area is not a ${metaLength}-byte traits store of profile v1 (the program made an area of another length): written without traits`,
        `xdp capture: 20 packets from ${pair.rxDev} queue 0: ${out}; 20 written without traits`,
      ]);
      expect(payloads(readFileSync(out))).toEqual(
        Array.from({ length: 20 }, (_, i) => ({ payload: payload(i), id: undefined })),
      );
      // Told its length, the same program's traits are all there.
      const right = join(dir, "meta-48.pcapng"),
        again = await start(pair, ["-c", "5", "--program", undeclared, "--meta-length", "48", right]);
      send(pair, 5, 1);
      expect((await again.done).code).toBe(0);
      expect(payloads(readFileSync(right)).map((p) => p.id)).toEqual([0n, 1n, 2n, 3n, 4n]);
    },
    30000,
  );

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
      "packet-traits: xdp capture takes --dev IF (or -i IF) and OUT.pcapng (or - for stdout) (see packet-traits --help)",
    ]);
    // A metadata length other than the program declares, or none for a program that declares none: refused before capturing.
    const receive = join(import.meta.dirname, "../../bpf/receive.bpf.o");
    for (const [args, message] of [
      [
        ["--meta-length", "52"],
        `${receive} makes a 48-byte metadata area (its TRAITS_PROGRAM declaration), not 52: leave out --meta-length or pass 48`,
      ],
      [
        ["--program", undeclared],
        `${undeclared} does not declare the length of its metadata area (TRAITS_PROGRAM in bpf/traits.bpf.h): pass --meta-length N`,
      ],
    ] as const) {
      const out = join(empty, "y.pcapng"),
        r = spawnSync(process.execPath, [CLI, "xdp", "capture", "--dev", "nosuchdev0", ...args, out], {
          encoding: "utf8",
        });
      expect([r.status, r.stderr.trim(), existsSync(out)]).toEqual([
        2,
        `packet-traits: ${message} (see packet-traits --help)`,
        false,
      ]);
    }
  });
});
