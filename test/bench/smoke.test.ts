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
  expect(impls.size).toBeGreaterThanOrEqual(4);
  expect(readFileSync(svg, "utf8")).toMatch(/^<svg/);
});
