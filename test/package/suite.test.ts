// The test suite itself, on machines without some tools (issue 22 item 12): the browser tests skip,
// saying why, where there is no chromium, but fail under CI=true; `npm test` runs the JS pass whatever
// the first pass gives.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "./consumer.js";

const bin = mkdtempSync(join(tmpdir(), "traits-suite-"));
afterAll(() => rmSync(bin, { recursive: true, force: true }));
symlinkSync(process.execPath, join(bin, "node"));

describe("on a machine without chromium", () => {
  /** Runs vitest on the browser tests with PATH holding node only, without $CHROMIUM. */
  const browserTests = (ci: boolean) => {
    const { CHROMIUM: _, CI: __, ...env } = process.env;
    return spawnSync(
      process.execPath,
      [join(ROOT, "node_modules", "vitest", "vitest.mjs"), "run", "test/browser/browser.test.ts"],
      { cwd: ROOT, encoding: "utf8", env: { ...env, PATH: bin, ...(ci ? { CI: "true" } : {}) }, timeout: 120_000 },
    );
  };

  it("the browser tests are skipped with a one-line reason (before: they failed, Browser was not found)", () => {
    const r = browserTests(false);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain(
      "SKIPPED: browser tests: no chromium on PATH and no $CHROMIUM (apt-get install chromium)",
    );
  }, 120_000);

  it("under CI=true they run, and fail", () => {
    const r = browserTests(true);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/Browser was not found/);
  }, 120_000);
});

describe("npm test", () => {
  /** Runs package.json's test script with stand-ins for vitest and npm that exit with the given codes and log their arguments. */
  const testScript = (vitest: number, npm: number) => {
    const log = join(bin, "calls.log");
    writeFileSync(log, "");
    for (const [name, code] of [
      ["vitest", vitest],
      ["npm", npm],
    ] as const) {
      writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${log}\nexit ${code}\n`);
      chmodSync(join(bin, name), 0o755);
    }
    const script = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts.test;
    const r = spawnSync("sh", ["-c", script], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    return [r.status, readFileSync(log, "utf8").trim().split("\n")];
  };

  it("runs the JS pass after the first pass, whatever the first pass gives; fails if either fails", () => {
    const both = ["vitest run", "npm run test:js --silent"];
    expect(testScript(0, 0)).toEqual([0, both]);
    expect(testScript(1, 0)).toEqual([1, both]); // before: the JS pass never ran
    expect(testScript(0, 1)).toEqual([1, both]);
    expect(testScript(1, 1)).toEqual([1, both]);
  });
});
