// The benchmark cannot rot: a short run of every workload on every implementation and traffic model
// (a few thousand packets, one sample), which also checks that all implementations return the same
// checksums and operation counts. Timings are not looked at here (they belong in BENCHMARKS.md).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "bench-smoke-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Why the benchmark's "c" implementation cannot run here (no C compiler, no koffi), or undefined. */
const noCompiler = spawnSync("cc", ["--version"]).error
  ? "no C compiler (cc) on this machine"
  : await import("koffi").then(
      () => undefined,
      () => "koffi (an optional dependency) is not installed",
    );

type Report = {
  results: Array<{ workload: string; impl: string; traffic: string; ring: number }>;
  floors: Array<{ ring: number; traffic: string; nsPerPacket: number }>;
};

/** Runs bench/run.js with `args`; returns the run (stdout, stderr, status). */
const bench = (args: string[], env = process.env) =>
  spawnSync(process.execPath, ["bench/run.js", ...args], { cwd: ROOT, encoding: "utf8", timeout: 180_000, env });

it("npm run bench runs every workload on every implementation and traffic model, and writes no file unless asked", () => {
  const json = join(dir, "bench.json"),
    svg = join(dir, "bench.svg"),
    tracked = join(ROOT, "docs", "bench.svg"),
    before = statSync(tracked).mtimeMs;
  const run = bench(["--packets", "4096", "--rings", "256", "--samples", "1", "--json", json, "--svg", svg]);
  expect(run.status, run.stderr).toBe(0);
  const report = JSON.parse(readFileSync(json, "utf8")) as Report;
  const workloads = new Set(report.results.map((r) => r.workload)),
    impls = new Set(report.results.map((r) => r.impl));
  expect(workloads.size).toBeGreaterThanOrEqual(6);
  for (const impl of ["wasm-batch", "wasm-single", "js-batch", "js-single", "js-plain"]) expect(impls).toContain(impl);
  expect(new Set(report.results.map((r) => r.traffic))).toEqual(new Set(["uniform", "flows", "mixed"]));
  // Every ratio is one direction, named so (time of the first ÷ time of the second).
  expect(run.stdout).toMatch(/impl\/floor +WASM\/JS +WASM\/C +JS\/js-plain/);
  expect(run.stdout).toMatch(/\| workload \| traffic \| C \| WASM batch \| JS twin \| plain JS \| WASM\/C \|/);
  expect(readFileSync(svg, "utf8")).toMatch(/^<svg/);
  expect(statSync(tracked).mtimeMs).toBe(before);
});

it("--traffic picks the models; an unknown one is a one-line error", () => {
  const json = join(dir, "bench-mixed.json");
  const run = bench(["--packets", "256", "--rings", "256", "--samples", "1", "--traffic", "mixed", "--json", json]);
  expect(run.status, run.stderr).toBe(0);
  const report = JSON.parse(readFileSync(json, "utf8")) as Report;
  expect(new Set(report.results.map((r) => r.traffic))).toEqual(new Set(["mixed"]));
  const bad = bench(["--traffic", "bursty"]);
  expect(bad.status).toBe(2);
  expect(bad.stderr.trim()).toBe("bench: --traffic: unknown model bursty (uniform, flows, mixed)");
});

it.skipIf(noCompiler)(
  "the bench builds the C reference, runs it on every workload and measures the memory floor",
  () => {
    const json = join(dir, "bench-c.json");
    const run = bench(["--packets", "2048", "--rings", "256", "--samples", "1", "--json", json]);
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(readFileSync(json, "utf8")) as Report;
    for (const traffic of ["uniform", "flows", "mixed"]) {
      expect(
        report.results.filter((r) => r.impl === "c" && r.traffic === traffic).map((r) => r.workload),
        traffic,
      ).toEqual(["get 4B", "get 8B", "set 8B (overwrite)", "insert+delete", "decode store", "annotate 4 keys"]);
      expect(report.floors.find((f) => f.traffic === traffic)?.nsPerPacket).toBeGreaterThan(0);
    }
    expect(run.stdout).toMatch(/^memory floor \(C reading one 8-byte word of each frame's header/m);
  },
);

it("without a C compiler the bench says so in one line and runs the rest", () => {
  const args = ["--packets", "256", "--rings", "256", "--samples", "1", "--filter", "get 4B"];
  const run = bench(args, { ...process.env, PATH: dir });
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/^\(no "c" implementation and no memory floor: no C compiler/m);
  expect(run.stdout).toMatch(/get 4B +js-plain/);
});
