// npm run fuzz -- [--ops N] [--seed S] [--target NAME|all]: long fuzz runs, every target in a worker
// thread under the watchdog (fuzz/watchdog.js); prints ops/s per target and, on failure, the seed
// and op to replay (`npm run fuzz -- --target NAME --seed S --ops N`).
import { TARGETS, Watched } from "./watchdog.js";

const names = Object.keys(TARGETS),
  usage = `--ops N, --seed S, --target ${names.join("|")}|all`;
const args = process.argv.slice(2);
const get = (flag, fallback) => {
  const i = args.indexOf(flag);
  return i < 0 ? fallback : args[i + 1];
};
for (let i = 0; i < args.length; i += 2) {
  if (!["--ops", "--seed", "--target"].includes(args[i]) || args[i + 1] === undefined) {
    console.error(`fuzz: unknown or incomplete option ${args[i]} (use ${usage})`);
    process.exit(2);
  }
}
const ops = Number(get("--ops", "1000000")),
  seed = Number(get("--seed", String((Math.random() * 2 ** 32) >>> 0))),
  target = get("--target", "all");
if (
  !Number.isSafeInteger(ops) ||
  ops < 1 ||
  !Number.isSafeInteger(seed) ||
  !(target === "all" || names.includes(target))
) {
  console.error(`fuzz: ${usage}`);
  process.exit(2);
}

/** Runs `total` ops of a target, one chunk (seed + k) at a time, under the watchdog. */
async function run(name) {
  const { chunk, share } = TARGETS[name],
    total = Math.max(1, Math.round(ops * share)),
    watched = new Watched(name),
    t0 = performance.now();
  try {
    for (let done = 0, part = 0; done < total; part++) {
      const n = Math.min(chunk, total - done),
        s = (seed + part) >>> 0;
      try {
        await watched.run(s, n);
      } catch (error) {
        throw new Error(`${error.message}\nreplay: npm run fuzz -- --target ${name} --seed ${s} --ops ${n}`);
      }
      done += n;
      const secs = (performance.now() - t0) / 1000;
      process.stderr.write(`\r${name}: ${done.toLocaleString("en")} ops, ${(done / secs).toFixed(0)} ops/s   `);
    }
  } finally {
    await watched.close();
  }
  const secs = (performance.now() - t0) / 1000;
  console.log(
    `\n${name}: ${total.toLocaleString("en")} ops passed in ${secs.toFixed(1)} s (${(total / secs).toFixed(total / secs < 10 ? 2 : 0)} ops/s), seeds ${seed}..${(seed + Math.ceil(total / chunk) - 1) >>> 0}`,
  );
}

try {
  console.log(
    `fuzz: seed ${seed}, --ops ${ops.toLocaleString("en")} (ops per target: ${names
      .filter((n) => target === "all" || n === target)
      .map((n) => `${n} ${Math.max(1, Math.round(ops * TARGETS[n].share)).toLocaleString("en")}`)
      .join(", ")})`,
  );
  const t0 = performance.now();
  for (const name of names) if (target === "all" || target === name) await run(name);
  console.log(`fuzz: all passed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
} catch (error) {
  console.error(`\nFAILED: ${error.message}`);
  process.exit(1);
}
