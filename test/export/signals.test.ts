// SIGINT, SIGTERM and SIGHUP during pcap export end it as they end the transforms (src/cli/transform.ts):
// the temporary file (or folder of parts) removed, OUT left as it was (absent, or its old content), one
// line on stderr, exit code 128 + N; in the middle of a large file, and while it waits on a stdin pipe
// with no data yet, or with part of a capture and then none.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, largeCapture, pcap, tempDir, temporaries, udp, until } from "../capture/helpers.js";

const dir = tempDir();
const SIGNALS = [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
] as const;

/** Bytes in the temporary file, or parts in the temporary folder, of `out`. */
const progress = (out: string): number =>
  temporaries(dir, out).reduce((sum, t) => {
    const path = join(dir, t);
    return sum + (statSync(path).isDirectory() ? readdirSync(path).length : statSync(path).size);
  }, 0);

/** Sends `signal` to `child` and resolves to its exit: code (or signal), stderr, ms after the signal. */
async function stop(
  child: ChildProcess,
  signal: NodeJS.Signals,
): Promise<{ code: number | null; signal: string | null; err: string; ms: number }> {
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exit = new Promise<[number | null, string | null]>((resolve) => child.on("exit", (c, s) => resolve([c, s])));
  const since = Date.now();
  child.kill(signal);
  const [code, by] = await exit;
  return { code, signal: by, err, ms: Date.now() - since };
}

/** What OUT holds: absent, a file's text, or a folder's entries. */
const state = (out: string): string | string[] | undefined =>
  !existsSync(out) ? undefined : statSync(out).isDirectory() ? readdirSync(out).sort() : readFileSync(out, "utf8");

/** Checks what a stopped export left: OUT as it was, no temporary file or folder, one line, the signal's exit code. */
function stoppedCleanly(
  r: Awaited<ReturnType<typeof stop>>,
  out: string,
  before: ReturnType<typeof state>,
  signal: string,
  code: number,
): void {
  expect([r.code, r.signal, r.err]).toEqual([
    code,
    null,
    `packet-traits: stopped by ${signal}: ${out} left as it was\n`,
  ]);
  expect(r.ms).toBeLessThan(5000);
  expect(state(out)).toEqual(before);
  expect(temporaries(dir, out)).toEqual([]);
}

/** OUT before the export: absent for SIGTERM, else an old file or (for a folder) an old export's part. */
function prepare(out: string, signal: string, folder: boolean): ReturnType<typeof state> {
  if (signal === "SIGTERM") return undefined;
  if (!folder) writeFileSync(out, `old ${signal}`);
  else {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "part-00000.parquet"), `old ${signal}`);
  }
  return state(out);
}

describe("a signal stops pcap export cleanly", () => {
  for (const folder of [false, true])
    it(`in the middle of a large file, each signal (${folder ? "a folder of parts" : "one file"}): OUT as it was, nothing left beside it`, async () => {
      const input = largeCapture(dir);
      for (const [signal, code] of SIGNALS) {
        const out = join(dir, `large-${signal}${folder ? "" : ".parquet"}`),
          before = prepare(out, signal, folder);
        const child = spawn(
          process.execPath,
          [CLI, "pcap", "export", input, out, ...(folder ? ["--rows-per-file", "100000"] : [])],
          { stdio: ["ignore", "ignore", "pipe"] },
        );
        // Mid-run: the first row group (or part) is written; the capture's end is far ahead.
        await until(() => progress(out) > 0, "the first row group");
        stoppedCleanly(await stop(child, signal), out, before, signal, code);
      }
    }, 180_000);

  it("waiting on a stdin pipe (no data yet; part of a capture, then none), each signal", async () => {
    const capture = pcap(Array.from({ length: 20000 }, (_, i) => udp(i)));
    for (const [signal, code] of SIGNALS)
      for (const part of [0, capture.length >> 1]) {
        // With part of a capture, parts of 1000 rows show that it was read (one file gets bytes only at its end).
        const folder = part > 0,
          out = join(dir, `stdin-${signal}-${part}${folder ? "" : ".parquet"}`),
          before = prepare(out, signal, folder);
        const child = spawn(
          process.execPath,
          [CLI, "pcap", "export", "-", out, ...(folder ? ["--rows-per-file", "1000"] : [])],
          { stdio: ["pipe", "ignore", "pipe"] },
        );
        child.stdin!.on("error", () => {}); // EPIPE: the rest of the part when the child is stopped
        child.stdin!.write(capture.subarray(0, part));
        await until(() => temporaries(dir, out).length > 0 && (!part || progress(out) >= 5), "the input read");
        const r = await stop(child, signal);
        child.stdin!.destroy();
        stoppedCleanly(r, out, before, signal, code);
      }
  }, 90_000);

  it("with OUT on stdout there is nothing to protect: the signal ends the command at once, as it ends C tools", async () => {
    const child = spawn(process.execPath, [CLI, "pcap", "export", "-", "-"], { stdio: ["pipe", "pipe", "pipe"] });
    child.stdin!.write(pcap([udp(1)]));
    // The writer has started (its encoder's first bytes come at the end): give it the time to take the packet.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const r = await stop(child, "SIGTERM");
    child.stdin!.destroy();
    expect([r.code, r.signal, r.err]).toEqual([null, "SIGTERM", ""]);
  });
});
