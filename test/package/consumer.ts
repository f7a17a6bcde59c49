// The consumer project the package tests share: the packed tarball installed into a fresh project in
// the OS temp folder, made once per test file.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The repository's root (its node_modules hold the tools the tests run: tsc, esbuild, jest). */
export const ROOT = join(import.meta.dirname, "..", "..");

/** Runs a command as a user would (PACKET_TRAITS_IMPL unset unless `env` sets it); returns its stdout, or throws with its stderr. */
export function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const { PACKET_TRAITS_IMPL: _, ...inherited } = process.env;
  return execFileSync(command, args, {
    cwd,
    env: { ...inherited, ...env },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 120_000,
  });
}

/** Packs the built package (dist/ must be built: npm test builds it) and installs it into a new consumer project; returns the project's folder. */
export function makeConsumer(): string {
  const dir = mkdtempSync(join(tmpdir(), "packet-traits-consumer-"));
  run("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", dir], ROOT);
  const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"))!;
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true }));
  // --prefer-offline: the optional dependency koffi (the kernel bridge's FFI) from npm's cache, which
  // the repository's own npm ci filled (--offline would skip it quietly, and packet-traits/xdp with it).
  run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--silent", `./${tarball}`], dir);
  return dir;
}
