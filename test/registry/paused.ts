// A copy of the built package whose registry sleeps at the steps PACKET_TRAITS_TEST_PAUSES names
// ("lock.acquired=1500,lock.save=1000"), for tests that widen the races of the registry file's lock
// and of the SharedKeyRegistry's lock word. The published pauses.js does nothing (src/registry/pauses.ts):
// this copy replaces it, in the ES module and the CommonJS build, so that the hook never ships.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");

const HOOK = `// Test hook (test/registry/paused.ts): sleeps at the steps PACKET_TRAITS_TEST_PAUSES names.
const pauses = new Map();
for (const item of (process.env.PACKET_TRAITS_TEST_PAUSES ?? "").split(",")) {
  const [step, ms] = item.split("=");
  if (step && Number(ms) > 0) pauses.set(step.trim(), Number(ms));
}
const sleeper = new Int32Array(new SharedArrayBuffer(4));
function pauseAt(step) {
  const ms = pauses.get(step);
  if (ms !== undefined) Atomics.wait(sleeper, 0, 0, ms);
}
`;

/**
 * Makes a folder whose node_modules/packet-traits is the built package (package.json and dist/) with
 * the pausing registry; returns the folder (run child processes there, so that "packet-traits"
 * resolves to the copy) and a function that removes it.
 */
export function pausedPackage(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "traits-paused-")),
    pkg = join(dir, "node_modules", "packet-traits");
  cpSync(join(ROOT, "package.json"), join(pkg, "package.json"));
  cpSync(join(ROOT, "dist"), join(pkg, "dist"), { recursive: true });
  writeFileSync(join(pkg, "dist", "registry", "pauses.js"), `${HOOK}export { pauseAt };\n`);
  writeFileSync(
    join(pkg, "dist", "cjs", "registry", "pauses.js"),
    `"use strict";\n${HOOK}exports.pauseAt = pauseAt;\n`,
  );
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
