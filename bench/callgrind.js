// Instruction counts per frame under callgrind: what decides a change to a hot loop on a machine whose
// load makes wall-clock timings meaningless (counts do not depend on load).
// Usage: npm run bench:callgrind [-- --workload REGEX --traffic uniform,flows,mixed
//                                  --impls wasm-batch,js-batch,js-plain,c --passes 10,40 --warmup 300
//                                  --ring 4096 --json FILE]
// Each figure is the instructions of one workload x traffic model x implementation per frame of the
// ring: two runs of node under `valgrind --tool=callgrind`, each building the same ring (bench/workloads.js)
// and running the same warm-up passes, then P1 (P2) measured passes inside one Array.prototype.forEach
// call with callgrind collecting only inside it (--toggle-collect); the figure is (count(P2) - count(P1))
// / ((P2 - P1) x frames), so the set-up, the warm-up and the entry into the measured region cancel out.
// What is counted: everything the measured passes execute (the JS glue of the batch API, the WASM, the
// builtins and the GC they call). node runs with --no-liftoff (TurboFan code for the WASM from the first
// call), --single-threaded (no concurrent compilation or GC threads) and a 4x smaller interrupt budget
// (the JS glue is optimized within the warm-up: with the defaults, batchGet was still compiled by TurboFan
// in the measured region after 100 warm-up passes), so both runs execute the same code.
// The C reference ("c") is counted in its own function (tr_*, built with -march=x86-64-v3: valgrind has
// no AVX-512); its annotate count leaves out the JS fill of the value slots that every side does.
// Without valgrind it says so in one line and exits 0.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { TRAFFIC } from "./traffic.js";
import { loadNative } from "./native.js";
import { Ring, WORKLOADS } from "./workloads.js";

const SELF = fileURLToPath(import.meta.url);
/** The implementations it counts by default, and every one it can. */
const DEFAULT_IMPLS = ["wasm-batch", "js-batch", "js-plain", "c"];
const IMPLS = ["wasm-batch", "wasm-single", "js-batch", "js-single", "js-plain", "c"];
/** The C reference's function of each workload (callgrind collects inside it only). */
const C_FUNCTION = {
  "get 4B": "tr_get",
  "get 8B": "tr_get",
  "set 8B (overwrite)": "tr_set",
  "insert+delete": "tr_insert_delete",
  "decode store": "tr_decode",
  "annotate 4 keys": "tr_annotate",
};
const BURST = 256;

if (process.argv[2] === "--child") await child(process.argv.slice(3));
else await main(parseArgs(process.argv.slice(2)));

/**
 * In node under callgrind: builds the ring, warms up, runs `passes` passes inside one forEach call.
 * `args`: impl, traffic, workload, passes, warm-up passes, ring size.
 */
async function child(args) {
  const [impl, traffic, workload, passes, warmup, size] = args;
  const native = impl === "c" ? await loadNative({ march: "x86-64-v3" }) : undefined;
  if (native?.skipped) throw new Error(native.skipped);
  const ring = new Ring(Number(size), impl, BURST, native, traffic),
    w = WORKLOADS[workload];
  // One pass a call, the same function in the warm-up as in the measured region, and no loop of its own
  // there (whose on-stack replacement would compile in the region): the same optimized code runs in both.
  let ok = 0;
  const pass = (r) => {
    ok += w.run(r, 1);
  };
  for (let p = 0; p < Number(warmup); p++) pass(ring);
  // The measured region: callgrind's --toggle-collect=Builtins_ArrayForEach (or the C function).
  new Array(Number(passes)).fill(ring).forEach(pass);
  const expected = (Number(warmup) + Number(passes)) * ring.opsOf(w);
  if (ok !== expected)
    throw new Error(`${workload} on ${impl}/${traffic}: ${ok} operations succeeded, not ${expected}`);
}

function parseArgs(argv) {
  const options = {
    workload: /./,
    traffic: TRAFFIC,
    impls: DEFAULT_IMPLS,
    passes: [10, 40],
    warmup: 300,
    ring: 4096,
    json: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (argv[i + 1] === undefined) fail(`${flag} needs a value`);
      return argv[++i];
    };
    const int = (text, min) => {
      const n = Number(text);
      if (!Number.isInteger(n) || n < min) fail(`${flag} needs an integer >= ${min}, not ${text}`);
      return n;
    };
    const list = (text, known) => {
      const items = text.split(",");
      for (const item of items) if (!known.includes(item)) fail(`${flag}: unknown ${item} (${known.join(", ")})`);
      return items;
    };
    switch (flag) {
      case "--workload":
        try {
          options.workload = new RegExp(value(), "i");
        } catch (e) {
          fail(`--workload: ${e.message}`);
        }
        break;
      case "--traffic":
        options.traffic = list(value(), TRAFFIC);
        break;
      case "--impls":
        options.impls = list(value(), IMPLS);
        break;
      case "--passes": {
        const passes = value()
          .split(",")
          .map((p) => int(p, 0));
        if (passes.length !== 2 || passes[0] >= passes[1]) fail("--passes needs two counts, the first smaller");
        options.passes = passes;
        break;
      }
      case "--warmup":
        options.warmup = int(value(), 0);
        break;
      case "--ring":
        options.ring = int(value(), 1);
        break;
      case "--json":
        options.json = value();
        break;
      case "--help":
        console.log(
          "npm run bench:callgrind -- [--workload REGEX] [--traffic uniform,flows,mixed] [--impls wasm-batch,js-batch,js-plain,c] [--passes 10,40] [--warmup 300] [--ring 4096] [--json FILE]",
        );
        process.exit(0);
      default:
        fail(`unknown option ${flag} (see --help)`);
    }
  }
  return options;
}

function fail(message) {
  console.error(`bench:callgrind: ${message}`);
  process.exit(2);
}

/** Instructions callgrind collected in one child run, or throws with the child's error. */
function collected(impl, traffic, workload, passes, options) {
  const toggle = impl === "c" ? C_FUNCTION[workload] : "Builtins_ArrayForEach";
  const run = spawnSync(
    "valgrind",
    [
      "--tool=callgrind",
      "--callgrind-out-file=/dev/null",
      "--collect-atstart=no",
      `--toggle-collect=${toggle}`,
      process.execPath,
      // Builtins stay at their symbols in node's binary (not copied next to the JIT code), so the toggle finds them.
      "--no-short-builtin-calls",
      "--no-liftoff",
      "--single-threaded",
      // Tier up 4x sooner, so that the warm-up leaves nothing to compile in the measured region.
      "--interrupt-budget=16384",
      SELF,
      "--child",
      impl,
      traffic,
      workload,
      String(passes),
      String(options.warmup),
      String(options.ring),
    ],
    { encoding: "utf8", maxBuffer: 64 << 20 },
  );
  const count = /Collected : (\d+)/.exec(run.stderr);
  if (run.status !== 0 || !count) {
    const why = run.stderr.split("\n").find((l) => /Error|error:/.test(l)) ?? `exit ${run.status}`;
    throw new Error(`${workload} on ${impl}/${traffic} (${passes} passes): ${why.trim()}`);
  }
  return Number(count[1]);
}

async function main(options) {
  const valgrind = spawnSync("valgrind", ["--version"], { encoding: "utf8" });
  if (valgrind.error) {
    console.log("bench:callgrind: skipped, valgrind is not installed (apt-get install valgrind)");
    return;
  }
  let impls = options.impls;
  if (impls.includes("c")) {
    const native = await loadNative({ march: "x86-64-v3" });
    if (native.skipped) {
      console.log(`(no "c" implementation: ${native.skipped})`);
      impls = impls.filter((i) => i !== "c");
    }
  }
  const workloads = Object.keys(WORKLOADS).filter((w) => options.workload.test(w));
  if (workloads.length === 0) fail(`--workload: no workload matches ${options.workload}`);
  const [p1, p2] = options.passes;
  console.log(
    `${valgrind.stdout.trim()}, node ${process.version}; instructions per frame = (count(${p2} passes) - count(${p1})) / (${p2 - p1} x ${options.ring} frames), after ${options.warmup} warm-up passes`,
  );
  console.log(["traffic".padEnd(8), "workload".padEnd(20), ...impls.map((i) => i.padStart(11))].join(" "));
  const results = [];
  for (const traffic of options.traffic)
    for (const workload of workloads) {
      const row = [];
      for (const impl of impls) {
        const a = collected(impl, traffic, workload, p1, options),
          b = collected(impl, traffic, workload, p2, options);
        const perFrame = (b - a) / ((p2 - p1) * options.ring);
        results.push({ workload, traffic, impl, ring: options.ring, perFrame, counts: [a, b], passes: [p1, p2] });
        row.push(perFrame.toFixed(1).padStart(11));
      }
      console.log([traffic.padEnd(8), workload.padEnd(20), ...row].join(" "));
    }
  if (options.json) {
    writeFileSync(
      options.json,
      `${JSON.stringify({ node: process.version, warmup: options.warmup, results }, null, 2)}\n`,
    );
    console.log(`results written to ${options.json}`);
  }
}
