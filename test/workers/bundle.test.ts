// WorkerGroup from a bundled copy of packet-traits (an app bundled with esbuild, the package in its
// node_modules): without its worker script the constructor says so and how to build it; built as
// the error says, beside the bundle, it runs. ES module and CommonJS bundles alike.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const ESBUILD = join(ROOT, "node_modules", "esbuild", "bin", "esbuild");
const APP = `
import { PacketPool } from "packet-traits";
import { WorkerGroup } from "packet-traits/workers";
async function main() {
  const pool = new PacketPool({ count: 8, memory: new WebAssembly.Memory({ initial: 1, maximum: 64, shared: true }) });
  const group = new WorkerGroup(pool, { workers: 2 });
  try {
    console.log("ran", await group.run({ op: "init" }));
  } finally {
    await group.close();
  }
}
main().catch((error) => console.log(error.code, error.message));
`;

/** A user's project: app.js, and this package in node_modules (a link to the repository, as npm link makes). */
const dir = mkdtempSync(join(tmpdir(), "packet-traits-bundle-"));
mkdirSync(join(dir, "node_modules"));
symlinkSync(ROOT, join(dir, "node_modules", "packet-traits"));
writeFileSync(join(dir, "app.js"), APP);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (command: string, args: string[]) =>
  execFileSync(command, args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });

describe.each(["esm", "cjs"] as const)("WorkerGroup in an esbuild bundle (%s)", { timeout: 60_000 }, (format) => {
  const out = `out-${format}`;
  const bundle = (args: string[]) => {
    run(ESBUILD, [...args, `--outdir=${out}`, `--format=${format}`, "--log-level=error"]);
    if (format === "esm") writeFileSync(join(dir, out, "package.json"), '{ "type": "module" }\n');
  };

  it("without its worker script: the constructor throws ENOENT saying how to build it; built so, the group runs", () => {
    bundle(["app.js", "--bundle", "--platform=node"]);
    const missing = run(process.execPath, [join(out, "app.js")]);
    // Before: ESM "EINVAL: worker 0 died: Cannot find module '.../worker.js'"; CommonJS "ERR_INVALID_URL Invalid URL".
    expect(missing.split(": packet-traits was bundled without it. ")[0]).toBe(
      `ENOENT ENOENT: WorkerGroup cannot find its worker script ${join(dir, out, "packet-traits-worker.js")}`,
    );
    const command = /\(esbuild ([^)]+)\)/.exec(missing)?.[1];
    expect(command).toBe(
      "app.js packet-traits-worker=node_modules/packet-traits/dist/workers/worker.js --bundle --platform=node --outdir=out",
    );
    bundle(command!.replace(" --outdir=out", "").split(" "));
    expect(run(process.execPath, [join(out, "app.js")])).toBe("ran 8\n");
  });
});
