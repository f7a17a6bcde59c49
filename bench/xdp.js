// `npm run bench -- --xdp [--samples N]`: live AF_XDP figures on veth pairs between namespaces made here (and
// removed, even on failure or SIGINT/SIGTERM), one pair of 1 queue and one of 2. Traffic: 64-byte UDP
// packets of 4 flows from bench/xdp/gen.bpf.c (BPF_PROG_TEST_RUN live frames, XDP_TX on the sending end);
// on 2 queues one generator per CPU (veth hands a frame sent from CPU c to rx queue c). Per setup:
//   - the ceiling: bench/xdp/drop.bpf.c attached natively, counting and dropping every packet;
//   - the C anchor: bench/xdp/xsk-bench.c on libxdp (a thread per queue, reading key 0 of each store),
//     built here with cc when libxdp-dev is installed (else its rows are skipped, saying why);
//   - packet-traits: XskSocket polled on the main thread (1 queue), XskGroup (a worker per queue, separate
//     UMEMs or one shared UMEM), traits not read or read by two batch gets per burst;
//   - the reference forwarder (examples/forwarder) next to the same l2fwd loop in C: forwarded packets/s,
//     counted by the drop program on the sending end, and the share of a packet's time in trait reads.
// Then the CPU an idle `xdp capture` takes over 10 s. Every case runs once per sample, interleaved; each
// figure is the median of the samples. Needs root, clang (builds bench/xdp/*.bpf.c) and the kernel bridge.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { vethPair } from "../test/xdp/netns.js";

const here = import.meta.dirname,
  CHILD = join(here, "xdp", "child.js"),
  RECEIVE = join(here, "..", "bpf", "receive.bpf.o"),
  FORWARD = join(here, "..", "examples", "forwarder", "forward.bpf.o"),
  CLI = join(here, "..", "dist", "cli", "bin.js");

/** Compiles bench/xdp/NAME.bpf.c into `dir`. */
function compileBpf(dir, name) {
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
      join(here, "xdp", `${name}.bpf.c`),
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

/** Builds bench/xdp/xsk-bench.c with cc: its path, or why it cannot be built. */
function compileC(dir) {
  if (!existsSync("/usr/include/xdp/xsk.h"))
    return { skipped: "no libxdp-dev (/usr/include/xdp/xsk.h): apt-get install libxdp-dev" };
  const out = join(dir, "xsk-bench"),
    cc = spawnSync("cc", ["-O2", "-o", out, join(here, "xdp", "xsk-bench.c"), "-lxdp", "-lbpf", "-lpthread"], {
      encoding: "utf8",
    });
  if (cc.error || cc.status !== 0)
    return {
      skipped: `cc could not build bench/xdp/xsk-bench.c: ${cc.error?.message ?? cc.stderr.trim().split("\n")[0]}`,
    };
  return { path: out };
}

/**
 * Starts a process in namespace `ns` (pinned to `cpu` if given); `ready` resolves when it prints "ready", `done` to its last line.
 * @param {string} ns
 * @param {string[]} command
 * @param {{ cpu?: number }} [options]
 */
function start(ns, command, { cpu } = {}) {
  const argv = ["netns", "exec", ns, ...(cpu === undefined ? [] : ["taskset", "-c", String(cpu)]), ...command];
  const proc = spawn("ip", argv, { stdio: ["pipe", "pipe", "pipe"] });
  let out = "",
    err = "";
  proc.stdout.on("data", (d) => (out += d));
  proc.stderr.on("data", (d) => (err += d));
  const done = new Promise((resolve, reject) =>
    proc.on("close", (code) =>
      code === 0
        ? resolve(out.trim().split("\n").pop())
        : reject(new Error(`${command.slice(0, 3).join(" ")} exited ${code}: ${errorLine(err)}`)),
    ),
  );
  const ready = new Promise((resolve, reject) => {
    proc.stdout.on("data", () => out.includes("ready") && resolve());
    done.catch(reject);
  });
  done.catch(() => {});
  return { proc, done, ready };
}

const node = (...args) => [process.execPath, CHILD, ...args];

/** The line of a child's stderr that says what went wrong: the last one that is neither a stack frame, source context nor Node's version. */
const errorLine = (err) =>
  err
    .split("\n")
    .filter((line) => /^\w*(Error|E[A-Z]+)\b/.test(line.trim()))
    .pop() ?? err.trim().split("\n").pop();

/**
 * One measurement: `receiver` (rx namespace) and, for a forwarder, the counter on the sending end; then the
 * generators. Resolves to the receiver's report, with `forwarded` packets/s when there is a counter.
 */
async function measure(setup, receiver, { count = false, seconds }) {
  const { pair, queues, gen, drop, mac } = setup;
  const rx = start(pair.rxNs, receiver);
  await rx.ready;
  const counter = count ? start(pair.txNs, node("drop", drop, pair.txDev, String(seconds))) : undefined;
  await counter?.ready;
  const gens = Array.from({ length: queues }, (_, q) =>
    start(pair.txNs, node("gen", gen, pair.txDev, String(seconds + 1.5), pair.rxMac, mac), {
      cpu: queues > 1 ? q : undefined,
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 500));
  rx.proc.stdin.end("go\n"); // end: the child then has nothing keeping it alive
  counter?.proc.stdin.end("go\n");
  const report = JSON.parse(await rx.done);
  if (counter) report.forwarded = JSON.parse(await counter.done).pps;
  await Promise.all(gens.map((g) => g.done));
  return report;
}

/** The CPU share of one core an `xdp capture` with no traffic takes over `seconds` (its worker sleeps in poll()). */
async function idleCpu(pair, seconds) {
  const capture = spawn(
    "ip",
    ["netns", "exec", pair.rxNs, process.execPath, CLI, "xdp", "capture", "--dev", pair.rxDev, "-"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  await new Promise((resolve, reject) => {
    let err = "";
    capture.stderr.on("data", (d) => {
      err += d;
      if (err.includes("listening on")) resolve();
    });
    capture.on("close", (code) => reject(new Error(`xdp capture exited ${code}: ${err.trim()}`)));
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  const ticks = () => {
    const fields = readFileSync(`/proc/${capture.pid}/stat`, "utf8").split(") ")[1].split(" ");
    return Number(fields[11]) + Number(fields[12]);
  };
  const before = ticks(),
    t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const used = ticks() - before,
    wall = (performance.now() - t0) / 1000,
    hz = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;
  capture.kill("SIGTERM");
  await new Promise((resolve) => capture.once("close", resolve));
  return used / hz / wall;
}

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mpps = (pps) => (pps / 1e6).toFixed(3);

/**
 * Runs the live benchmark and prints its tables; returns the rows { setup, case, runs: [reports] }.
 * @param {{ samples?: number, seconds?: number }} options
 */
export async function benchXdp({ samples = 3, seconds = 3 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "bench-xdp-"));
  const pairs = [];
  const cleanUp = () => {
    for (const pair of pairs) pair.remove();
    rmSync(dir, { recursive: true, force: true });
  };
  const interrupted = () => {
    cleanUp();
    process.exit(130);
  }; // the namespaces go even when the run is stopped
  process.once("SIGINT", interrupted).once("SIGTERM", interrupted);
  try {
    const gen = compileBpf(dir, "gen"),
      drop = compileBpf(dir, "drop"),
      c = compileC(dir);
    const setups = [1, 2].map((queues) => {
      const pair = vethPair(`b${queues}`, queues);
      pairs.push(pair);
      const mac = JSON.parse(
        spawnSync("ip", ["-n", pair.txNs, "-j", "link", "show", pair.txDev], { encoding: "utf8" }).stdout,
      )[0].address;
      return { pair, queues, gen, drop, mac };
    });
    const s = String(seconds);
    /** @type {Array<[number, string, string[], { count?: boolean, c?: boolean }]>} */
    const cases = [];
    for (const { pair, queues } of setups) {
      const q = String(queues),
        dev = pair.rxDev;
      cases.push([queues, "XDP drop (ceiling)", node("drop", drop, dev, s), {}]);
      if (c.path)
        cases.push([queues, "C receiver, libxdp (reads key 0)", [c.path, "rx", dev, RECEIVE, q, s, "48"], { c: true }]);
      if (queues === 1)
        for (const read of ["none", "wasm", "js"])
          cases.push([
            queues,
            `XskSocket, main thread, ${read === "none" ? "traits not read" : `${read.toUpperCase()} batch get x2`}`,
            node("rx", read, dev, s),
            {},
          ]);
      for (const umem of queues === 1 ? ["separate"] : ["separate", "shared"])
        for (const read of queues === 1 ? ["none", "wasm"] : ["wasm"])
          cases.push([
            queues,
            `XskGroup, ${umem} UMEM${queues > 1 && umem === "separate" ? "s" : ""}, ${read === "none" ? "traits not read" : "WASM batch get x2"}`,
            node("group", read, dev, s, q, umem),
            {},
          ]);
      if (c.path)
        cases.push([
          queues,
          "l2fwd in C, libxdp (forwarded)",
          [c.path, "l2fwd", dev, FORWARD, q, s, "32", "9003"],
          { count: true, c: true },
        ]);
      cases.push([queues, "examples/forwarder (forwarded)", node("forward", FORWARD, dev, s, q), { count: true }]);
    }
    const runs = cases.map(() => []);
    for (let sample = 0; sample < samples; sample++)
      for (const [i, [queues, name, command, options]] of cases.entries()) {
        const report = await measure(setups[queues - 1], command, { count: options.count, seconds });
        runs[i].push(report);
        console.log(
          `xdp: ${queues} queue${queues > 1 ? "s" : ""}: ${name}: ${mpps(report.forwarded ?? report.pps)} Mpps (sample ${sample + 1}/${samples}, load ${loadavg()[0].toFixed(2)})`,
        );
      }
    const idle = await idleCpu(setups[0].pair, 10);

    console.log(
      `\nlive AF_XDP on veth pairs, copy mode, need-wakeup, 64-byte UDP packets of 4 flows, ${cpus().length} CPUs, medians of ${samples} samples of ${seconds} s, load ${loadavg()[0].toFixed(2)}${c.skipped ? `\n(no C rows: ${c.skipped})` : ""}`,
    );
    for (const queues of [1, 2]) {
      const rows = cases.map((k, i) => ({ k, runs: runs[i] })).filter(({ k }) => k[0] === queues);
      const rate = (r) => r.forwarded ?? r.pps;
      const ceiling = median(rows[0].runs.map(rate)),
        cRx = rows.find(({ k }) => k[1].startsWith("C receiver")),
        cFwd = rows.find(({ k }) => k[1].startsWith("l2fwd in C"));
      console.log(
        `\n${queues} queue${queues > 1 ? "s" : ""}${queues > 1 ? " (a generator pinned to each CPU)" : ""}\ncase                                             Mpps   per queue        of ceiling  of C   samples (Mpps)`,
      );
      for (const { k, runs: r } of rows) {
        const m = median(r.map(rate)),
          anchor = k[3].count ? cFwd : cRx,
          ofC =
            anchor && !k[3].c && !k[1].startsWith("XDP drop")
              ? `${(m / median(anchor.runs.map(rate))).toFixed(2)}x`
              : "",
          received = r[0].perQueue
            ? r[0].perQueue.map((_, q) => mpps(median(r.map((x) => x.perQueue[q])))).join(" + ")
            : "",
          perQueue = k[3].count ? "" : received; // a forwarder's: on the next line, as received
        console.log(
          `${k[1].padEnd(47)}  ${mpps(m).padStart(6)}  ${perQueue.padEnd(15)}  ${`${((100 * m) / ceiling).toFixed(0)}%`.padStart(9)}  ${ofC.padStart(5)}  ${r.map((x) => mpps(rate(x))).join(", ")}`,
        );
        if (k[3].count) {
          const line = `received ${mpps(median(r.map((x) => x.pps)))} Mpps (${received})`;
          if (!k[1].startsWith("examples/forwarder")) console.log(`  (${line})`);
          else {
            const nsTraits = median(r.map((x) => x.traitsNsPerPacket)),
              nsPacket = 1e9 / (median(r.map((x) => x.pps)) / queues);
            console.log(
              `  (${line}; trait reads ${nsTraits.toFixed(1)} ns a packet: ${((100 * nsTraits) / nsPacket).toFixed(1)}% of a packet's time in its worker)`,
            );
          }
        }
      }
    }
    console.log(`\nidle: xdp capture with no traffic for 10 s uses ${(100 * idle).toFixed(2)}% of a core`);
    return cases.map(([queues, name], i) => ({
      setup: `${queues} queue${queues > 1 ? "s" : ""}`,
      case: name,
      runs: runs[i],
    }));
  } finally {
    process.removeListener("SIGINT", interrupted).removeListener("SIGTERM", interrupted);
    cleanUp();
  }
}
