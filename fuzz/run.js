// npm run fuzz -- [--ops N] [--seed S] [--target codec|decoders|all]: long fuzz runs; prints ops/s and,
// on failure, the seed and op to replay (`npm run fuzz -- --seed S --ops N`).
import { captureSamples, fuzzCodec, fuzzDecoders } from "./targets.js";

const args = process.argv.slice(2);
const get = (flag, fallback) => {
  const i = args.indexOf(flag);
  return i < 0 ? fallback : args[i + 1];
};
for (let i = 0; i < args.length; i += 2) {
  if (!["--ops", "--seed", "--target"].includes(args[i]) || args[i + 1] === undefined) {
    console.error(`fuzz: unknown or incomplete option ${args[i]} (use --ops N, --seed S, --target codec|decoders|all)`);
    process.exit(2);
  }
}
const ops = Number(get("--ops", "1000000")), seed = Number(get("--seed", String((Math.random() * 2 ** 32) >>> 0))), target = get("--target", "all");
if (!Number.isSafeInteger(ops) || ops < 1 || !Number.isSafeInteger(seed) || !["codec", "decoders", "all"].includes(target)) {
  console.error("fuzz: --ops and --seed take integers, --target codec|decoders|all");
  process.exit(2);
}
const chunk = 100_000;
const run = (name, fn, total) => {
  const t0 = performance.now();
  for (let done = 0, part = 0; done < total; part++) {
    const n = Math.min(chunk, total - done);
    fn((seed + part) >>> 0, n);
    done += n;
    const s = (performance.now() - t0) / 1000;
    process.stderr.write(`\r${name}: ${done.toLocaleString("en")} ops, ${(done / s).toFixed(0)} ops/s   `);
  }
  const s = (performance.now() - t0) / 1000;
  console.log(`\n${name}: ${total.toLocaleString("en")} ops passed in ${s.toFixed(1)} s (${(total / s).toFixed(0)} ops/s), seeds ${seed}..${(seed + Math.ceil(total / chunk) - 1) >>> 0}`);
};
try {
  console.log(`fuzz: seed ${seed}, ${ops.toLocaleString("en")} ops per target (each ${chunk.toLocaleString("en")} ops start afresh from seed + k)`);
  if (target !== "decoders") run("codec", fuzzCodec, ops);
  if (target !== "codec") {
    const samples = captureSamples();
    run("decoders", (s, n) => fuzzDecoders(s, n, samples), Math.max(1, Math.floor(ops / 10)));
  }
} catch (error) {
  console.error(`\nFAILED: ${error.message}\nreplay: npm run fuzz -- --seed <the seed above> --ops ${chunk}`);
  process.exit(1);
}
