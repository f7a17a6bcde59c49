// `npm run bench -- --xdp`: packets/s received through AF_XDP on a veth pair between two namespaces
// made here (and removed, even on failure), with traits read by WASM batch, by JS batch and not at all,
// next to the ceiling of the same setup with an XDP program dropping every packet, in one run. The
// traffic comes from bench/xdp/gen.bpf.c (BPF_PROG_TEST_RUN live frames) on the other end. Each figure
// is the median of --samples runs of 3 seconds (bench/run.js prints them). Needs root, clang (builds bench/xdp/*.bpf.c) and
// the kernel bridge (koffi, libbpf).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { vethPair } from "../test/xdp/netns.js";

const CHILD = join(import.meta.dirname, "xdp", "child.js");

/** Compiles bench/xdp/NAME.bpf.c into `dir`. */
function compile(dir, name) {
  const out = join(dir, `${name}.bpf.o`),
    arch = process.arch === "arm64" ? "aarch64" : "x86_64";
  const cc = spawnSync(
    "clang",
    [
      "-target",
      "bpf",
      "-O2",
      "-g",
      "-I",
      `/usr/include/${arch}-linux-gnu`,
      "-c",
      join(import.meta.dirname, "xdp", `${name}.bpf.c`),
      "-o",
      out,
    ],
    { encoding: "utf8" },
  );
  if (cc.error || cc.status !== 0)
    throw new Error(
      `clang could not build bench/xdp/${name}.bpf.c: ${cc.error?.message ?? cc.stderr.trim().split("\n")[0]}`,
    );
  return out;
}

/** Starts a child in a namespace; resolves when it prints "ready" (or at once for the generator). */
function child(ns, args) {
  const proc = spawn("ip", ["netns", "exec", ns, process.execPath, CHILD, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "",
    err = "";
  proc.stdout.on("data", (d) => (out += d));
  proc.stderr.on("data", (d) => (err += d));
  const done = new Promise((resolve, reject) =>
    proc.on("close", (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`bench child ${args[0]} ${args[1]} exited ${code}: ${err.trim().split("\n").pop()}`)),
    ),
  );
  const ready = new Promise((resolve, reject) => {
    proc.stdout.on("data", () => out.includes("ready") && resolve());
    done.catch(reject);
  });
  return { proc, done, ready };
}

/**
 * Runs the live benchmark; returns rows { case, runs: packets/s of each sample }.
 * @returns {Promise<Array<{ case: string, runs: number[] }>>}
 */
export async function benchXdp({ samples = 3, seconds = 3 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "bench-xdp-"));
  const pair = vethPair("b");
  const interrupted = () => {
    pair.remove();
    process.exit(130);
  }; // the namespaces go even when the run is stopped
  process.once("SIGINT", interrupted).once("SIGTERM", interrupted);
  try {
    const gen = compile(dir, "gen"),
      drop = compile(dir, "drop");
    const mac = JSON.parse(
      spawnSync("ip", ["-n", pair.txNs, "-j", "link", "show", pair.txDev], { encoding: "utf8" }).stdout,
    )[0].address;
    const cases = [
      ["XDP drop (ceiling)", ["drop", drop]],
      ["AF_XDP, traits not read", ["rx", "none"]],
      ["AF_XDP + WASM batch get x2", ["rx", "wasm"]],
      ["AF_XDP + JS batch get x2", ["rx", "js"]],
    ];
    const runs = new Map(cases.map(([name]) => [name, []]));
    for (let s = 0; s < samples; s++) {
      for (const [name, args] of cases) {
        const rx = child(pair.rxNs, [...args, pair.rxDev, String(seconds)]);
        await rx.ready;
        const tx = child(pair.txNs, ["gen", gen, pair.txDev, String(seconds + 1.5), pair.rxMac, mac]);
        await new Promise((resolve) => setTimeout(resolve, 500));
        rx.proc.stdin.end("go\n"); // end: the child then has nothing keeping it alive
        const line = (await rx.done).trim().split("\n").pop();
        await tx.done;
        runs.get(name).push(JSON.parse(line).pps);
        console.log(`xdp: ${name}: ${(JSON.parse(line).pps / 1e6).toFixed(3)} Mpps (sample ${s + 1}/${samples})`);
      }
    }
    return cases.map(([name]) => ({ case: String(name), runs: runs.get(name) }));
  } finally {
    process.removeListener("SIGINT", interrupted).removeListener("SIGTERM", interrupted);
    pair.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}
