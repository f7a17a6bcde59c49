// Line-rate benchmark: WASM vs pure JS, batch vs single-op, on rings of 64-byte packets' frames.
// Usage: npm run bench [-- --packets N --rings 256,4096 --filter REGEX --samples N --burst N --json FILE --svg FILE]
//        npm run bench -- --xdp [--samples N]   (live AF_XDP figures on a veth pair: bench/xdp.js)
import { writeFileSync } from "node:fs";
import os from "node:os";
import { Bench } from "tinybench";
import { PacketPool, WorkerGroup } from "packet-traits";
import { IMPLS, Ring, WORKLOADS, fillStores } from "./workloads.js";
import { chart } from "./chart.js";
import { loadNative } from "./native.js";

const LINE_RATES = [
  ["10GbE", 14.88],
  ["25GbE", 37.2],
  ["40GbE", 59.5],
  ["100GbE", 148.8],
  ["400GbE", 595.2],
];

// --pipeline: the capture pipeline against editcap instead (bench/pipeline.js).
if (process.argv.includes("--pipeline")) {
  await import("./pipeline.js");
  process.exit(0);
}

function parseArgs(argv) {
  const options = {
    packets: 14_880_952,
    rings: [256, 4096],
    filter: /./,
    samples: 3,
    burst: 256,
    json: undefined,
    svg: "docs/bench.svg",
    workers: undefined,
    workerRing: 8192,
    xdp: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i],
      value = argv[i + 1];
    const need = () => {
      if (value === undefined) fail(`${flag} needs a value`);
      i++;
      return value;
    };
    const int = (text, min) => {
      const n = Number(text);
      if (!Number.isInteger(n) || n < min) fail(`${flag} needs an integer >= ${min}, not ${text}`);
      return n;
    };
    switch (flag) {
      case "--packets":
        options.packets = int(need(), 1);
        break;
      case "--rings":
        options.rings = need()
          .split(",")
          .map((r) => int(r, 1));
        break;
      case "--filter":
        try {
          options.filter = new RegExp(need(), "i");
        } catch (e) {
          fail(`--filter: ${e.message}`);
        }
        break;
      case "--samples":
        options.samples = int(need(), 1);
        break;
      case "--burst":
        options.burst = int(need(), 1);
        break;
      case "--json":
        options.json = need();
        break;
      case "--svg":
        options.svg = need();
        break;
      case "--workers":
        options.workers = need()
          .split(",")
          .map((w) => int(w, 1));
        break;
      case "--worker-ring":
        options.workerRing = int(need(), 1);
        break;
      case "--xdp":
        options.xdp = true;
        break;
      case "--help":
        console.log(
          "npm run bench -- [--packets N] [--rings 256,4096] [--filter REGEX] [--samples N] [--burst N] [--json FILE] [--svg FILE] [--workers 1,2 [--worker-ring N]] | --xdp [--samples N]",
        );
        process.exit(0);
      default:
        fail(`unknown option ${flag} (see --help)`);
    }
  }
  return options;
}

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(2);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b),
    m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x, digits = 1) => x.toFixed(digits);

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.arch()}`,
    v8: process.versions.v8,
  };
}

/**
 * The mean latency (ms) of a task that completed (errored ones stopped the run above).
 * @param {unknown} result
 * @returns {number}
 */
function latencyOf(result) {
  return /** @type {{ latency: { mean: number } }} */ (result).latency.mean;
}

const options = parseArgs(process.argv.slice(2));
if (options.xdp) {
  const { benchXdp } = await import("./xdp.js");
  const rows = await benchXdp({ samples: options.samples });
  console.log(
    `\nlive AF_XDP on a veth pair, copy mode, 64-byte UDP packets, ${machine().cores} cores, medians of ${options.samples} samples of 3 s\ncase                          Mpps    of ceiling  samples (Mpps)`,
  );
  const ceiling = median(rows[0].runs);
  for (const row of rows)
    console.log(
      `${row.case.padEnd(28)}  ${fmt(median(row.runs) / 1e6, 3).padStart(6)}  ${fmt((100 * median(row.runs)) / ceiling, 0).padStart(9)}%  ${row.runs.map((r) => fmt(r / 1e6, 3)).join(", ")}`,
    );
  process.exit(0);
}
const workloads = Object.entries(WORKLOADS).filter(([name]) => options.filter.test(name));
if (workloads.length === 0)
  fail(`--filter ${options.filter} matches no workload (${Object.keys(WORKLOADS).join(", ")})`);

console.log(
  `packet-traits benchmark: ${options.packets.toLocaleString("en")} packets per sample, rings ${options.rings.join(", ")} x 2048 B, bursts of ${options.burst}, ${options.samples} samples`,
);
console.log(`${machine().cpu}, ${machine().cores} cores, node ${process.version}\n`);

// The C reference joins when the system compiler can build it.
const native = await loadNative();
const impls = native.skipped ? IMPLS : [...IMPLS, "c"];
if (native.skipped) console.log(`(no "c" implementation: ${native.skipped})\n`);

const results = [];
for (const size of options.rings) {
  const passes = Math.ceil(options.packets / size),
    packets = passes * size;
  const rings = new Map();
  for (const impl of impls)
    rings.set(impl, {
      main: new Ring(size, impl, options.burst, native),
      annotate: new Ring(size, impl, options.burst, native),
    });
  const ringFor = (impl, name) => (name.startsWith("annotate") ? rings.get(impl).annotate : rings.get(impl).main);

  // Every workload checks its result: the same checksum from every implementation, before timing.
  for (const [name, w] of workloads) {
    const sums = impls.map((impl) => w.check(ringFor(impl, name)));
    if (new Set(sums).size !== 1)
      fail(
        `${name} on ring ${size}: implementations disagree (${impls.map((impl, i) => `${impl} ${sums[i]}`).join(", ")})`,
      );
    for (const impl of impls) ringFor(impl, name).fill();
  }

  // Interleaved rounds: each round runs every (workload, impl) once, in a rotating order.
  const tasks = workloads.flatMap(([name, w]) => impls.map((impl) => ({ name, impl, w, samples: [] })));
  for (let round = -1; round < options.samples; round++) {
    const bench = new Bench({ iterations: 1, time: 0, warmup: false });
    const order = tasks.map((_, i) => tasks[(i + Math.max(round, 0) * 3) % tasks.length]);
    for (const t of order) {
      bench.add(`${t.name}|${t.impl}`, () => {
        const ok = t.w.run(ringFor(t.impl, t.name), round < 0 ? Math.min(passes, 64) : passes);
        const expected = (round < 0 ? Math.min(passes, 64) * size : packets) * t.w.perPacket;
        if (ok !== expected) throw new Error(`${t.name} ${t.impl}: ${ok} of ${expected} operations succeeded`);
      });
    }
    bench.runSync();
    for (const task of bench.tasks) {
      if (task.result.state === "errored") fail(`${task.name}: ${task.result.error?.message}`);
    }
    if (round >= 0) order.forEach((t, i) => t.samples.push((latencyOf(bench.tasks[i].result) * 1e6) / packets));
    process.stderr.write(
      round < 0 ? `ring ${size}: warmed up\n` : `ring ${size}: sample ${round + 1}/${options.samples}\n`,
    );
  }
  for (const t of tasks) {
    const ns = median(t.samples);
    results.push({
      workload: t.name,
      ring: size,
      impl: t.impl,
      nsPerPacket: ns,
      mpps: 1e3 / ns,
      samples: t.samples,
      spread: [Math.min(...t.samples), Math.max(...t.samples)],
    });
  }
}

// Worker threads: the WASM batch path in N workers over one large ring in shared memory.
const scaling = [];
if (options.workers) {
  const ring = options.workerRing,
    passes = Math.max(1, Math.ceil(options.packets / ring)),
    packets = passes * ring;
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  const pool = new PacketPool({ count: ring, memory, hardwareKeys: "off" });
  const groups = new Map();
  for (const n of options.workers) {
    const group = new WorkerGroup(pool, {
      workers: n,
      handler: new URL("./parallel.js", import.meta.url),
      burst: options.burst,
      slots: 4,
    });
    await group.ready();
    groups.set(n, group);
  }
  console.log(
    `\nworkers: ${ring} frames x 2048 B in shared memory (${pool.impl}), ${packets.toLocaleString("en")} packets per sample, workers ${options.workers.join(", ")}`,
  );
  for (const [name, w] of workloads.filter(([name]) => name !== "decode store")) {
    const samples = new Map(options.workers.map((n) => [n, []]));
    for (let round = -1; round < options.samples; round++) {
      for (const n of options.workers) {
        fillStores(pool);
        const runPasses = round < 0 ? 1 : passes,
          t0 = performance.now();
        const ok = await groups.get(n).run({ op: "handler", args: { workload: name } }, { passes: runPasses });
        const ns = ((performance.now() - t0) * 1e6) / (runPasses * ring);
        if (ok !== runPasses * ring * w.perPacket)
          fail(`${name} with ${n} workers: ${ok} of ${runPasses * ring * w.perPacket} operations succeeded`);
        if (round >= 0) samples.get(n).push(ns);
      }
    }
    process.stderr.write(`workers: ${name} done\n`);
    const base = 1e3 / median(samples.get(options.workers[0]));
    for (const n of options.workers) {
      const ns = median(samples.get(n));
      scaling.push({
        workload: name,
        ring,
        impl: "wasm-batch",
        workers: n,
        nsPerPacket: ns,
        mpps: 1e3 / ns,
        samples: samples.get(n),
        scaling: 1e3 / ns / base,
      });
    }
  }
  await Promise.all([...groups.values()].map((g) => g.close()));
}

// Terminal table.
const lineRate = (mpps) => LINE_RATES.filter(([, rate]) => mpps >= rate).pop()?.[0] ?? "< 10GbE";
const rows = [];
for (const size of options.rings) {
  for (const [name] of workloads) {
    const of = (impl) => results.find((r) => r.ring === size && r.workload === name && r.impl === impl);
    const ratio = (a, b) => (a && b ? `${fmt(a.nsPerPacket / b.nsPerPacket, 2)}x` : "");
    for (const impl of impls) {
      const r = of(impl),
        batch = impl === "wasm-batch";
      rows.push([
        String(size),
        name,
        impl,
        `${fmt(r.nsPerPacket, 2)} (${fmt(r.spread[0], 2)}-${fmt(r.spread[1], 2)})`,
        fmt(r.mpps),
        impl.startsWith("wasm") ? ratio(of(impl.replace("wasm", "js")), r) : "",
        batch ? ratio(r, of("c")) : "",
        impl === "js-batch" ? ratio(r, of("js-plain")) : "",
        lineRate(r.mpps),
      ]);
    }
  }
}
const header = [
  "ring",
  "workload",
  "impl",
  "ns/packet median (min-max)",
  "Mpps",
  "WASM/JS",
  "WASM/C",
  "JS/js-plain",
  "keeps up with",
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
console.log(`\n${line(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
for (const r of rows) console.log(line(r));
console.log("\nWASM/JS: JS ns/packet divided by WASM ns/packet, batch vs batch and single vs single, same run.");
console.log(
  "WASM/C: WASM batch ns/packet divided by C's; JS/js-plain: JS batch (the twin) ns/packet divided by js-plain's (1.00x = as fast).",
);
console.log(
  "c and js-plain are references that do less: no header validation, no per-frame status (c: per-packet C as in trait.h).",
);
console.log(`Line rates at 64-byte packets: ${LINE_RATES.map(([n, r]) => `${n} ${r} Mpps`).join(", ")}.`);

if (scaling.length) {
  console.log(`\nworkload            workers  ns/packet    Mpps  scaling vs ${options.workers[0]}  keeps up with`);
  for (const r of scaling)
    console.log(
      `${r.workload.padEnd(18)}  ${String(r.workers).padStart(7)}  ${fmt(r.nsPerPacket, 2).padStart(9)}  ${fmt(r.mpps).padStart(6)}  ${(`${fmt(r.scaling, 2)}x`).padStart(12)}  ${lineRate(r.mpps)}`,
    );
}

const report = {
  machine: machine(),
  node: process.version,
  packets: options.packets,
  burst: options.burst,
  results: [...results.map(({ spread, ...r }) => r), ...scaling],
};
if (options.json) {
  writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`results written to ${options.json}`);
}
if (options.svg) {
  writeFileSync(options.svg, chart(report, LINE_RATES));
  console.log(`chart written to ${options.svg}`);
}
