// `xdp capture --format parquet` on a veth pair between two namespaces this test makes (and removes,
// even on failure): every packet sent is a row, read back by DuckDB; with --rows-per-file each part
// is published while the capture runs, and a stop signal publishes the last. Skipped, saying why,
// where namespaces or AF_XDP are not permitted; with CI=true that fails instead.
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { children, send, vethPair } from "../xdp/netns.js";
import type { VethPair } from "../xdp/netns.js";
import { CLI, cli, tempDir } from "../capture/helpers.js";
import { duckdbMissing, literal, query } from "./helpers.js";

const dir = tempDir();
let pair: VethPair | undefined,
  /** A pair of 4 queues, for --queues all. */
  wide: VethPair | undefined,
  reason = "";
try {
  if (process.getuid?.() !== 0) throw new Error("network namespaces and AF_XDP need root");
  if (!query) throw new Error(`DuckDB cannot load here (${duckdbMissing}): npm ci installs @duckdb/node-api`);
  pair = vethPair("p");
  wide = vethPair("q", 4);
} catch (error) {
  reason = (error as Error).message;
}
const skip = pair === undefined && process.env.CI !== "true";
if (skip) console.warn(`xdp capture --format parquet test skipped: ${reason}`);

/** Captures still running: a failed test kills its own in afterEach, so that none outlives the test (or keeps its program attached). */
const running = children();

/** Starts `xdp capture` in the receiving namespace; resolves once it listens, with its pid and its end (exit code, stderr). */
function start(
  p: VethPair,
  args: string[],
): Promise<{ pid: number; done: Promise<{ code: number | null; err: string }> }> {
  const child = spawn(
    "ip",
    [
      "netns",
      "exec",
      p.rxNs,
      process.execPath,
      CLI,
      "xdp",
      "capture",
      "--dev",
      p.rxDev,
      "--format",
      "parquet",
      ...args,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  running.track(child);
  let err = "";
  const done = new Promise<{ code: number | null; err: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, err })),
  );
  return new Promise((resolve, reject) => {
    child.stderr!.on("data", (d: Buffer) => {
      err += d;
      if (err.includes("listening on")) resolve({ pid: child.pid!, done });
    });
    void done.then(({ code }) => reject(new Error(`xdp capture exited ${code} before listening: ${err.trim()}`)));
  });
}

/** Polls `check` every 20 ms until it holds or `ms` pass; returns whether it held. */
async function until(check: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((resolve) => setTimeout(resolve, 20)))
    if (check()) return true;
  return check();
}

/** The parts published in `folder`. */
const parts = (folder: string) => (existsSync(folder) ? readdirSync(folder).filter((n) => n.endsWith(".parquet")) : []);

/** The rows of `files` (a file or a glob) as the checks need them, in packet order. */
const rows = (files: string) =>
  query!(
    `SELECT packet, interface, queue, xdp_verdict, captured_length = original_length AS whole, src_addr, dst_addr, ip_proto, dst_port, packet_id, rx_hash IS NOT NULL AS hashed, epoch_ns(capture_time) = rx_timestamp AS timed FROM ${literal(files)} ORDER BY packet`,
  );

/** What the rows of the `count` datagrams send() sends over `flows` ports are. */
const sent = (p: VethPair, count: number, flows: number) =>
  Array.from({ length: count }, (_, i) => ({
    packet: String(i),
    interface: 0,
    queue: 0,
    xdp_verdict: 4,
    whole: true,
    src_addr: p.rxIp.replace(/\.1$/, ".2"),
    dst_addr: p.rxIp,
    ip_proto: 17,
    dst_port: 9000 + (i % flows),
    packet_id: String(i),
    hashed: true,
    timed: true,
  }));

describe.skipIf(skip)(`packet-traits xdp capture --format parquet${skip ? ` skipped: ${reason}` : ""}`, () => {
  afterEach(() => running.killAll());
  afterAll(() => {
    pair?.remove();
    wide?.remove();
  });

  it("-c 500: every packet a row, with its queue, the redirect verdict, its flow and its traits", async () => {
    if (!pair) throw new Error(reason);
    const out = join(dir, "live.parquet");
    const { done } = await start(pair, ["-c", "500", out]);
    send(pair, 500, 3);
    const { code, err } = await done;
    expect([code, err.trim().split("\n").pop()]).toEqual([
      0,
      `xdp capture: 500 packets from ${pair.rxDev} queue 0: ${out}`,
    ]);
    expect(await rows(out)).toEqual(sent(pair, 500, 3));
  }, 30000);

  it("--rows-per-file: each part published while the capture runs; SIGINT publishes the last", async () => {
    if (!pair) throw new Error(reason);
    const out = join(dir, "parts");
    const { pid, done } = await start(pair, ["--rows-per-file", "100", out]);
    send(pair, 250, 2);
    // Two parts complete while the capture still runs; the other 50 rows wait for a part's end.
    expect(await until(() => parts(out).length === 2)).toBe(true);
    expect(await rows(join(out, "part-00001.parquet"))).toEqual(sent(pair, 250, 2).slice(100, 200));
    process.kill(pid, "SIGINT");
    const { code, err } = await done;
    expect([code, err.trim().split("\n").pop()]).toEqual([
      0,
      `xdp capture: 250 packets from ${pair.rxDev} queue 0: ${out}`,
    ]);
    expect(readdirSync(out).sort()).toEqual(["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]);
    expect(await rows(`${out}/*.parquet`)).toEqual(sent(pair, 250, 2));
  }, 30000);

  it("--queues all: each row's queue is the one its packet came on (one queue per flow, every queue used)", async () => {
    if (!wide) throw new Error(reason);
    const out = join(dir, "queues.parquet");
    const { done } = await start(wide, ["--queues", "all", "-c", "400", out]);
    send(wide, 400, 32);
    const { code, err } = await done;
    expect([code, err.trim().split("\n").pop()]).toEqual([
      0,
      `xdp capture: 400 packets from ${wide.rxDev} queues 0,1,2,3: ${out}`,
    ]);
    const got = (await query!(`SELECT dst_port, queue, packet_id FROM ${literal(out)}`)) as {
      dst_port: number;
      queue: number;
      packet_id: string;
    }[];
    expect(new Set(got.map((r) => Number(r.packet_id))).size).toBe(400);
    const queueOf = new Map<number, number>();
    for (const r of got) {
      expect(queueOf.get(r.dst_port) ?? r.queue, `flow ${r.dst_port}: one queue`).toBe(r.queue);
      queueOf.set(r.dst_port, r.queue);
    }
    expect([...new Set(queueOf.values())].sort()).toEqual([0, 1, 2, 3]);
  }, 30000);
});

describe("xdp capture --format: usage errors, before any socket is opened", () => {
  it("an unknown format, --rows-per-file without parquet or to stdout, -U with parquet: exit 2, one line", () => {
    for (const [args, message] of [
      [["--format", "csv", "x"], '--format must be pcapng or parquet, not "csv"'],
      [["--rows-per-file", "5", "x"], "--rows-per-file needs --format parquet and a folder to write, not stdout (-)"],
      [["--format", "parquet", "--rows-per-file", "5", "-"], "--rows-per-file needs --format parquet and a folder"],
      [["--format", "parquet", "-U", "x"], "-U writes each packet out at once, which Parquet cannot"],
    ] as const) {
      const r = cli(["xdp", "capture", "--dev", "lo", ...args]);
      expect([r.code, r.out], args.join(" ")).toEqual([2, ""]);
      expect(r.err, args.join(" ")).toMatch(new RegExp(`^packet-traits: ${message.replace(/[()-]/g, "\\$&")}.*\n$`));
    }
  });
});
