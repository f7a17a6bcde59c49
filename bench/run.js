// Line-rate benchmark: WASM vs pure JS, batch vs single-op, against the best C and plain-JS loops, on
// rings of 64-byte packets' frames whose stores follow traffic models (bench/traffic.js).
// Usage: npm run bench [-- --packets N --rings 256,4096 --traffic uniform,flows,mixed --filter REGEX
//                         --samples N --burst N --json FILE --svg FILE]
//        npm run bench -- --xdp [--samples N]   (live AF_XDP figures on a veth pair: bench/xdp.js)
// It writes no file unless asked (--json, --svg).
import { writeFileSync } from "node:fs";
import os from "node:os";
import { Bench } from "tinybench";
import { PacketPool, WorkerGroup } from "packet-traits";
import { IMPLS, Ring, WORKLOADS, fillStores } from "./workloads.js";
import { TRAFFIC, planStats, trafficPlan } from "./traffic.js";
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
    rings: [4096],
    traffic: TRAFFIC,
    filter: /./,
    samples: 3,
    burst: 256,
    json: undefined,
    svg: undefined,
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
      case "--traffic": {
        const models = need().split(",");
        for (const m of models) if (!TRAFFIC.includes(m)) fail(`--traffic: unknown model ${m} (${TRAFFIC.join(", ")})`);
        options.traffic = TRAFFIC.filter((m) => models.includes(m));
        break;
      }
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
          "npm run bench -- [--packets N] [--rings 4096] [--traffic uniform,flows,mixed] [--filter REGEX] [--samples N] [--burst N] [--json FILE] [--svg FILE] [--workers 1,2 [--worker-ring N]] | --xdp [--samples N]",
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

/** The 1-, 5- and 15-minute load averages (the machine may be shared: figures under load are provisional). */
function loadAverage() {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(", ");
}

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
  await benchXdp({ samples: options.samples }); // prints its own tables (bench/xdp.js)
  process.exit(0);
}
const workloads = Object.entries(WORKLOADS).filter(([name]) => options.filter.test(name));
if (workloads.length === 0)
  fail(`--filter ${options.filter} matches no workload (${Object.keys(WORKLOADS).join(", ")})`);

console.log(
  `packet-traits benchmark: ${options.packets.toLocaleString("en")} packets per sample, rings ${options.rings.join(", ")} x 2048 B, traffic ${options.traffic.join(", ")}, bursts of ${options.burst}, ${options.samples} samples`,
);
console.log(`${machine().cpu}, ${machine().cores} cores, node ${process.version}, load average ${loadAverage()}\n`);

// The C reference joins when the system compiler can build it.
const native = await loadNative();
const impls = native.skipped ? IMPLS : [...IMPLS, "c"];
if (native.skipped) console.log(`(no "c" implementation and no memory floor: ${native.skipped})\n`);

const results = [],
  floors = [],
  models = [];
for (const size of options.rings) {
  const passes = Math.ceil(options.packets / size),
    packets = passes * size;
  for (const traffic of options.traffic) {
    models.push({ ring: size, traffic, ...planStats(trafficPlan(traffic, size)) });
    const rings = new Map();
    for (const impl of impls)
      rings.set(impl, {
        main: new Ring(size, impl, options.burst, native, traffic),
        annotate: new Ring(size, impl, options.burst, native, traffic),
      });
    const ringFor = (impl, name) => (name.startsWith("annotate") ? rings.get(impl).annotate : rings.get(impl).main);
    const where = `ring ${size}, ${traffic} traffic`;

    // Every workload checks its result: the same checksum from every implementation, before timing.
    for (const [name, w] of workloads) {
      const sums = impls.map((impl) => w.check(ringFor(impl, name)));
      if (new Set(sums).size !== 1)
        fail(
          `${name} on ${where}: implementations disagree (${impls.map((impl, i) => `${impl} ${sums[i]}`).join(", ")})`,
        );
      for (const impl of impls) ringFor(impl, name).fill();
    }

    // Interleaved rounds: each round runs every (workload, impl) once, in a rotating order; the memory
    // floor (C reading one word of each frame's header) is one more task.
    const tasks = workloads.flatMap(([name, w]) => impls.map((impl) => ({ name, impl, w, samples: [] })));
    const floor = native.skipped ? undefined : { name: "memory floor", impl: "c", w: undefined, samples: [] };
    if (floor) tasks.push(floor);
    for (let round = -1; round < options.samples; round++) {
      const bench = new Bench({ iterations: 1, time: 0, warmup: false });
      const order = tasks.map((_, i) => tasks[(i + Math.max(round, 0) * 3) % tasks.length]);
      const runPasses = round < 0 ? Math.min(passes, 64) : passes;
      for (const t of order) {
        bench.add(`${t.name}|${t.impl}`, () => {
          const ring = t === floor ? rings.get("c").main : ringFor(t.impl, t.name);
          if (t === floor) {
            for (let p = 0; p < runPasses; p++) ring.reference.floor();
            return;
          }
          const ok = t.w.run(ring, runPasses),
            expected = runPasses * ring.opsOf(t.w);
          if (ok !== expected) throw new Error(`${t.name} ${t.impl}: ${ok} of ${expected} operations succeeded`);
        });
      }
      bench.runSync();
      for (const task of bench.tasks) {
        if (task.result.state === "errored") fail(`${task.name} (${where}): ${task.result.error?.message}`);
      }
      if (round >= 0) order.forEach((t, i) => t.samples.push((latencyOf(bench.tasks[i].result) * 1e6) / packets));
      process.stderr.write(round < 0 ? `${where}: warmed up\n` : `${where}: sample ${round + 1}/${options.samples}\n`);
    }
    if (floor) floors.push({ ring: size, traffic, nsPerPacket: median(floor.samples), samples: floor.samples });
    for (const t of tasks) {
      if (t === floor) continue;
      const ns = median(t.samples);
      results.push({
        workload: t.name,
        ring: size,
        traffic,
        impl: t.impl,
        nsPerPacket: ns,
        mpps: 1e3 / ns,
        samples: t.samples,
        spread: [Math.min(...t.samples), Math.max(...t.samples)],
      });
    }
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

// Terminal table: one block per ring and traffic model. Every ratio is a time divided by a time
// (A/B = A's ns/packet ÷ B's, same run): below 1.00x, A is faster.
const lineRate = (mpps) => LINE_RATES.filter(([, rate]) => mpps >= rate).pop()?.[0] ?? "< 10GbE";
const find = (size, traffic, name, impl) =>
  results.find((r) => r.ring === size && r.traffic === traffic && r.workload === name && r.impl === impl);
const floorOf = (size, traffic) => floors.find((f) => f.ring === size && f.traffic === traffic);
const ratio = (a, b) => (a && b ? `${fmt(a.nsPerPacket / b.nsPerPacket, 2)}x` : "");
const header = [
  "ring",
  "traffic",
  "workload",
  "impl",
  "ns/packet median (min-max)",
  "Mpps",
  "impl/floor",
  "WASM/JS",
  "WASM/C",
  "JS/js-plain",
  "keeps up with",
];
const rows = [];
for (const size of options.rings)
  for (const traffic of options.traffic)
    for (const [name] of workloads)
      for (const impl of impls) {
        const r = find(size, traffic, name, impl),
          of = (other) => find(size, traffic, name, other);
        rows.push([
          String(size),
          traffic,
          name,
          impl,
          `${fmt(r.nsPerPacket, 2)} (${fmt(r.spread[0], 2)}-${fmt(r.spread[1], 2)})`,
          fmt(r.mpps),
          ratio(r, floorOf(size, traffic)),
          impl.startsWith("wasm") ? ratio(r, of(impl.replace("wasm", "js"))) : "",
          impl === "wasm-batch" ? ratio(r, of("c")) : "",
          impl === "js-batch" ? ratio(r, of("js-plain")) : "",
          lineRate(r.mpps),
        ]);
      }
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => (i >= 4 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
console.log(`\n${line(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
rows.forEach((r, i) => {
  if (i > 0 && (r[0] !== rows[i - 1][0] || r[1] !== rows[i - 1][1])) console.log("");
  console.log(line(r));
});
console.log(
  "\nEvery ratio is time ÷ time, medians of the same run (below 1.00x = the first one is faster): impl/floor = the",
);
console.log(
  "implementation's ns/packet ÷ the memory floor's; WASM/JS = WASM ÷ the JS twin (batch ÷ batch, single ÷ single);",
);
console.log("WASM/C = WASM batch ÷ c; JS/js-plain = the JS twin's batch ÷ js-plain.");
console.log(
  "c (the best straightforward per-packet C) and js-plain (the best plain JS batch loop) do less: no header validation, no per-frame status.",
);
console.log(
  "Annotate: every batch side and reference fills four value slots a packet from JS (fillAnnotate, timed), then sets them; the single-op side makes five calls a packet.",
);
console.log(`Line rates at 64-byte packets: ${LINE_RATES.map(([n, r]) => `${n} ${r} Mpps`).join(", ")}.`);

// The traffic models as drawn, and the memory floor of each ring.
console.log("\ntraffic models (bench/traffic.js):");
for (const m of models)
  console.log(
    `  ring ${m.ring} ${m.traffic.padEnd(7)}: ${m.distinct} distinct headers, ${fmt(100 * m.repeats, 0)}% of frames with the header of the frame before, ${m.keys[0]}-${m.keys[2]} keys a store (mean ${fmt(m.keys[1])})`,
  );
if (floors.length)
  console.log(
    `memory floor (C reading one 8-byte word of each frame's header, nothing else), ns/packet: ${floors.map((f) => `ring ${f.ring} ${f.traffic} ${fmt(f.nsPerPacket, 2)}`).join(", ")}`,
  );

// The README's table: the largest ring, realistic traffic first, uniform as one row among them.
const big = Math.max(...options.rings),
  readmeOrder = [...options.traffic].sort((a, b) => Number(a === "uniform") - Number(b === "uniform"));
console.log(
  `\nREADME table (ring ${big} x 2048 B, medians of ${options.samples} samples, ns/packet; ratios time ÷ time; load average ${loadAverage()}):\n`,
);
console.log(
  "| workload | traffic | C | WASM batch | JS twin | plain JS | WASM/C | JS twin/plain JS | WASM/JS twin | WASM/floor |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const [name] of workloads)
  for (const traffic of readmeOrder) {
    const of = (impl) => find(big, traffic, name, impl),
      ns = (r) => (r ? fmt(r.nsPerPacket, 2) : "-"),
      x = (a, b) => ratio(a, b) || "-";
    const wasm = of("wasm-batch"),
      js = of("js-batch");
    console.log(
      `| ${name} | ${traffic} | ${ns(of("c"))} | ${ns(wasm)} | ${ns(js)} | ${ns(of("js-plain"))} | ${x(wasm, of("c"))} | ${x(js, of("js-plain"))} | ${x(wasm, js)} | ${x(wasm, floorOf(big, traffic))} |`,
    );
  }

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
  loadAverage: os.loadavg(),
  packets: options.packets,
  burst: options.burst,
  samples: options.samples,
  traffic: models,
  floors,
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
