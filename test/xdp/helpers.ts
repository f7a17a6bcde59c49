// Helpers of the kernel tests: compiling the BPF programs of test/fixtures/xdp with clang.
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const FIXTURES = join(import.meta.dirname, "../fixtures/xdp");

/**
 * Compiles test/fixtures/xdp/NAME.bpf.c into `dir`; returns the object's path. Throws an Error whose
 * message names clang if it is missing or fails (the tests skip on it, saying why, outside CI).
 */
export function compileFixture(name: string, dir: string): string {
  const out = join(dir, `${name}.bpf.o`);
  const cc = spawnSync(
    "clang",
    [
      "-target",
      "bpf",
      "-O2",
      "-g",
      "-Wall",
      "-Werror",
      "-I",
      `/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`,
      "-c",
      join(FIXTURES, `${name}.bpf.c`),
      "-o",
      out,
    ],
    { encoding: "utf8" },
  );
  if (cc.error)
    throw new Error(`clang not found (needed to build test/fixtures/xdp/${name}.bpf.c): ${cc.error.message}`);
  if (cc.status !== 0) throw new Error(`clang failed on ${name}.bpf.c: ${cc.stderr.trim().split("\n")[0]}`);
  return out;
}
