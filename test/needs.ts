// Tests that need something a machine may lack (chromium, Deno, Bun, tshark, BPF privileges): skipped
// with a one-line reason where it is missing, but run (and so fail) under CI=true, where .ci/run
// installs everything.
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** The path of the first of `commands` found on PATH (an executable file), or undefined. */
export function onPathAt(...commands: string[]): string | undefined {
  for (const command of commands)
    for (const dir of (process.env.PATH ?? "").split(delimiter).filter(Boolean)) {
      try {
        accessSync(join(dir, command), constants.X_OK);
        return join(dir, command);
      } catch {
        // not in this folder
      }
    }
  return undefined;
}

/** True if `command` is on PATH and runs `--version`. */
export const onPath = (command: string): boolean =>
  spawnSync(command, ["--version"], { stdio: "ignore", timeout: 30_000 }).status === 0;

/**
 * Whether to run a test that needs something this machine may lack: true if it is there; else false,
 * printing the one-line reason (SKIPPED: ...), except under CI=true, where the test runs anyway.
 */
export function needs(available: boolean, reason: string): boolean {
  if (available || process.env.CI === "true") return true;
  console.warn(`SKIPPED: ${reason}`);
  return false;
}
