// SIGINT, SIGTERM and SIGHUP during a transform (pcap annotate, xdp run): the temporary file is removed,
// OUT is left as it was (absent, or its old content), the command ends at once with one line on stderr
// and the exit code a shell gives for the signal; in the middle of a large file, and while it waits on a
// stdin pipe with no data yet, or with part of a capture and then none.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { XdpProgram } from "../../dist/xdp/index.js";
import { CLI, ROOT, largeCapture, needs, pcap, tempDir, temporaries, udp, until } from "./helpers.js";

const dir = tempDir();
const EXAMPLE = join(ROOT, "bpf", "example.bpf.o");
const SIGNALS = [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
] as const;

let xdpReason = "";
try {
  XdpProgram.load(EXAMPLE).close();
} catch (error) {
  xdpReason = `xdp run needs bpf() (root, a kernel that permits BPF_PROG_TEST_RUN): ${(error as Error).message}`;
}
const COMMANDS = [
  ["pcap annotate", (input: string, out: string) => ["pcap", "annotate", input, out], ""],
  ["xdp run", (input: string, out: string) => ["xdp", "run", EXAMPLE, input, out], xdpReason],
] as const;

/** The exit of a child: its code (or signal) and its stderr, and how long after `since` it came. */
async function exited(
  child: ChildProcess,
  since: number,
): Promise<{ code: number | null; signal: string | null; err: string; ms: number }> {
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
    child.on("exit", (c, s) => resolve([c, s])),
  );
  return { code, signal, err, ms: Date.now() - since };
}

/** Checks what a stopped transform left: OUT as it was, no temporary file, one line, the signal's exit code. */
function stoppedCleanly(
  r: Awaited<ReturnType<typeof exited>>,
  out: string,
  before: string | undefined,
  signal: string,
  code: number,
): void {
  expect([r.code, r.signal, r.err]).toEqual([
    code,
    null,
    `packet-traits: stopped by ${signal}: ${out} left as it was\n`,
  ]);
  expect(r.ms).toBeLessThan(5000);
  expect(existsSync(out) ? readFileSync(out, "utf8") : undefined).toBe(before);
  expect(temporaries(dir, out)).toEqual([]);
}

describe("a signal stops a transform cleanly", () => {
  for (const [name, argv, reason] of COMMANDS) {
    it.runIf(needs(reason === "", reason))(
      `${name}: in the middle of a large file, each signal: OUT as it was, no temporary file`,
      async () => {
        const input = largeCapture(dir);
        for (const [signal, code] of SIGNALS) {
          const out = join(dir, `large-${signal}.pcapng`),
            before = signal === "SIGTERM" ? undefined : `old ${signal}`;
          if (before) writeFileSync(out, before);
          const child = spawn(process.execPath, [CLI, ...argv(input, out)], { stdio: ["ignore", "ignore", "pipe"] });
          const done = exited(child, 0);
          // Mid-run: the temporary file has its first chunks; the capture's end is far ahead.
          await until(() => temporaries(dir, out).some((t) => statSync(join(dir, t)).size > 0), "the first chunk");
          const since = Date.now();
          child.kill(signal);
          const r = await done;
          stoppedCleanly({ ...r, ms: Date.now() - since }, out, before, signal, code);
        }
      },
      120_000,
    );

    it.runIf(needs(reason === "", reason))(
      `${name}: waiting on a stdin pipe (no data yet; part of a capture, then none), each signal`,
      async () => {
        const capture = pcap(Array.from({ length: 20000 }, (_, i) => udp(i)));
        for (const [signal, code] of SIGNALS) {
          for (const part of [0, capture.length >> 1]) {
            const out = join(dir, `stdin-${signal}-${part}.pcapng`),
              before = part ? `old ${signal}` : undefined;
            if (before) writeFileSync(out, before);
            const child = spawn(process.execPath, [CLI, ...argv("-", out)], { stdio: ["pipe", "ignore", "pipe"] });
            const done = exited(child, 0);
            child.stdin!.on("error", () => {}); // EPIPE: the rest of the part when the child is stopped
            child.stdin!.write(capture.subarray(0, part));
            // Started and waiting: the temporary file is there (and has what was read, for part of a capture).
            await until(
              () => temporaries(dir, out).some((t) => !part || statSync(join(dir, t)).size > 0),
              "the temporary file",
            );
            const since = Date.now();
            child.kill(signal);
            const r = await done;
            child.stdin!.destroy();
            stoppedCleanly({ ...r, ms: Date.now() - since }, out, before, signal, code);
          }
        }
      },
      60_000,
    );
  }

  it("with OUT on stdout there is nothing to protect: the signal ends the command at once, as it ends C tools", async () => {
    const child = spawn(process.execPath, [CLI, "pcap", "annotate", "-", "-"], { stdio: ["pipe", "pipe", "pipe"] });
    const done = exited(child, 0);
    child.stdin!.write(pcap([udp(1)]));
    await new Promise((resolve) => child.stdout!.once("data", resolve));
    child.kill("SIGTERM");
    const r = await done;
    child.stdin!.destroy();
    expect([r.code, r.signal, r.err]).toEqual([null, "SIGTERM", ""]);
  });
});
