// bench/callgrind.js (instructions per frame under callgrind) cannot rot: a short count of one workload
// on the WASM batch path and the C reference, its skip line without valgrind, its option errors.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "bench-callgrind-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Why the count cannot run here (no valgrind; .ci/run installs it, so CI runs it), or undefined. */
const noValgrind =
  spawnSync("valgrind", ["--version"]).error && process.env.CI !== "true" ? "valgrind is not installed" : undefined;
const noCompiler = spawnSync("cc", ["--version"]).error ? "no C compiler (cc)" : undefined;

/** Runs bench/callgrind.js with `args`; returns the run (stdout, stderr, status). */
const callgrind = (args: string[], env = process.env) =>
  spawnSync(process.execPath, ["bench/callgrind.js", ...args], { cwd: ROOT, encoding: "utf8", timeout: 600_000, env });

type Report = {
  results: Array<{ workload: string; traffic: string; impl: string; perFrame: number; counts: number[] }>;
};

it.skipIf(noValgrind)(
  "counts the instructions per frame of a workload on the WASM batch path and in the C reference's function",
  () => {
    const json = join(dir, "counts.json");
    const impls = noCompiler ? "wasm-batch" : "wasm-batch,c";
    const args = ["--workload", "get 4B", "--traffic", "mixed", "--impls", impls, "--passes", "1,3"];
    const run = callgrind([...args, "--warmup", "30", "--ring", "1024", "--json", json]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^mixed +get 4B +\d+\.\d/m);
    const { results } = JSON.parse(readFileSync(json, "utf8")) as Report;
    expect(results.map((r) => r.impl)).toEqual(impls.split(","));
    for (const r of results) {
      expect(r.counts[1], r.impl).toBeGreaterThan(r.counts[0] ?? Number.POSITIVE_INFINITY);
      // A get is some tens of instructions a frame (C: 34 with gcc -O2), not a few, not thousands.
      expect(r.perFrame, r.impl).toBeGreaterThan(15);
      expect(r.perFrame, r.impl).toBeLessThan(200);
    }
  },
  600_000,
);

it("without valgrind it says so in one line and exits 0", () => {
  const run = callgrind(["--workload", "get 4B"], { ...process.env, PATH: dir });
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout.trim()).toBe("bench:callgrind: skipped, valgrind is not installed (apt-get install valgrind)");
});

it("a bad option is a one-line error", () => {
  for (const [args, message] of [
    [["--traffic", "bursty"], "bench:callgrind: --traffic: unknown bursty (uniform, flows, mixed)"],
    [["--passes", "40,10"], "bench:callgrind: --passes needs two counts, the first smaller"],
    [
      ["--impls", "rust"],
      "bench:callgrind: --impls: unknown rust (wasm-batch, wasm-single, js-batch, js-single, js-plain, c)",
    ],
  ] as const) {
    const run = callgrind([...args]);
    expect(run.status, args.join(" ")).toBe(2);
    expect(run.stderr.trim()).toBe(message);
  }
});
