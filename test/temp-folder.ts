// vitest globalSetup: the run gets a temporary folder of its own as TMPDIR (os.tmpdir() in every test
// and every process a test starts), removed when the run ends. Tests remove their own folders after
// their last test; this also takes what a file whose tests were all skipped made at import (vitest
// runs no afterAll there), and what tools leave (Jest's cache, Chromium's profiles).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const previous = process.env.TMPDIR,
    dir = mkdtempSync(join(tmpdir(), "packet-traits-tests-"));
  process.env.TMPDIR = dir;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      console.warn(`could not remove the tests' temporary folder ${dir}: ${(error as Error).message}`);
    }
  };
}
