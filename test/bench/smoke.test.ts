// The benchmark cannot rot: a short run of every workload on every implementation (a few thousand
// packets, one sample), which also checks that all implementations return the same checksums and
// operation counts. Timings are not looked at here (they belong in BENCHMARKS.md).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
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

it("npm run bench runs every workload on every implementation", () => {
  const json = join(dir, "bench.json"),
    svg = join(dir, "bench.svg");
  const args = ["bench/run.js", "--packets", "4096", "--rings", "256", "--samples", "1", "--json", json, "--svg", svg];
  const run = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  expect(run.status, run.stderr).toBe(0);
  const report = JSON.parse(readFileSync(json, "utf8")) as { results: Array<{ workload: string; impl: string }> };
  const workloads = new Set(report.results.map((r) => r.workload)),
    impls = new Set(report.results.map((r) => r.impl));
  expect(workloads.size).toBeGreaterThanOrEqual(6);
  for (const impl of ["wasm-batch", "wasm-single", "js-batch", "js-single", "js-plain"]) expect(impls).toContain(impl);
  expect(run.stdout).toMatch(/WASM\/C +JS\/js-plain/);
  expect(readFileSync(svg, "utf8")).toMatch(/^<svg/);
});

it.skipIf(noCompiler)("the bench builds the C reference and runs it on every workload", () => {
  const json = join(dir, "bench-c.json");
  const args = ["bench/run.js", "--packets", "2048", "--rings", "256", "--samples", "1", "--json", json, "--svg", ""];
  const run = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  expect(run.status, run.stderr).toBe(0);
  const report = JSON.parse(readFileSync(json, "utf8")) as { results: Array<{ workload: string; impl: string }> };
  expect(report.results.filter((r) => r.impl === "c").map((r) => r.workload)).toEqual([
    "get 4B",
    "get 8B",
    "set 8B (overwrite)",
    "insert+delete",
    "decode store",
    "annotate 4 keys",
  ]);
});

it("without a C compiler the bench says so in one line and runs the rest", () => {
  const args = [
    "bench/run.js",
    "--packets",
    "256",
    "--rings",
    "256",
    "--samples",
    "1",
    "--filter",
    "get 4B",
    "--svg",
    "",
  ];
  const run = spawnSync(process.execPath, args, {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, PATH: dir },
  });
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/^\(no "c" implementation: no C compiler/m);
  expect(run.stdout).toMatch(/get 4B +js-plain/);
});
