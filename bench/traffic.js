// The benchmark's traffic models: which keys (and value lengths) each frame of a ring holds.
// Deterministic: every model is drawn from a PRNG seeded by the model's name and the ring size, so
// every implementation, run and machine sees the same frames.
//
// - uniform: every frame the same six keys (3, 10, 17, 25, 40, 55: 2/4/8/2/4/8 bytes), the best case.
// - flows:   FLOWS distinct headers (flows), each its own random key set, handed over as RSS would:
//            a flow drawn with Zipf-like weights (flow i: 1 / (i + 1)), then a train of 1 to 8 of its
//            packets (geometric, mean 2), then the next draw; so a few heavy flows repeat, most are rare.
// - mixed:   every frame its own header: a density p drawn per frame (0 to 0.38), then each key
//            present with probability p and a random length 2/4/8, so stores hold 2 to 25 keys.
// In every model key 10 (4 bytes) and key 17 (8 bytes) are present (the workloads' get and set keys,
// at offsets that vary with the keys below them outside uniform) and key 30 is absent (insert+delete).

/** The models, in the order the benchmark runs them. */
export const TRAFFIC = ["uniform", "flows", "mixed"];

/** Distinct headers of the flows model. */
export const FLOWS = 256;

/** The uniform model's store: key, length (6 keys, 44 bytes in use). */
export const STORE_KEYS = [
  [3, 2],
  [10, 4],
  [17, 8],
  [25, 2],
  [40, 4],
  [55, 8],
];

/** Keys every model holds, and their lengths. */
const FIXED = new Map([
  [10, 4],
  [17, 8],
]);
/** The key insert+delete inserts: absent everywhere. */
const ABSENT = 30;
/** Most bytes of values a random store holds (the ring's stores have 256 bytes: room for insert+delete). */
const MAX_VALUE_BYTES = 200;

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed from a string (FNV-1a). */
function seedOf(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A random store: the fixed keys, then each other key with probability p, lengths 2/4/8; sorted by key. */
function randomStore(random, p) {
  const keys = [];
  let bytes = 12;
  for (let key = 0; key < 64; key++) {
    if (FIXED.has(key)) keys.push([key, FIXED.get(key)]);
    else if (key !== ABSENT && random() < p) {
      const len = [2, 4, 8][Math.floor(random() * 3)];
      if (bytes + len > MAX_VALUE_BYTES) continue;
      bytes += len;
      keys.push([key, len]);
    }
  }
  return keys;
}

/**
 * The key lists of the `size` frames of a ring under `model` (one of TRAFFIC): frame f holds the
 * [key, length] pairs of plan[f], in key order. Frames with the same header share one array.
 */
export function trafficPlan(model, size) {
  const random = prng(seedOf(`${model}/${size}`));
  if (model === "uniform") return Array.from({ length: size }, () => STORE_KEYS);
  if (model === "mixed") return Array.from({ length: size }, () => randomStore(random, random() * 0.38));
  if (model !== "flows") throw new Error(`unknown traffic model ${model} (${TRAFFIC.join(", ")})`);
  const flows = Array.from({ length: FLOWS }, () => randomStore(random, random() * 0.38));
  const weights = flows.map((_, i) => 1 / (i + 1)),
    total = weights.reduce((a, b) => a + b);
  const plan = [];
  while (plan.length < size) {
    let r = random() * total,
      flow = 0;
    while (r >= weights[flow] && flow < FLOWS - 1) r -= weights[flow++];
    let train = 0;
    do plan.push(flows[flow]);
    while (plan.length < size && ++train < 8 && random() < 0.5);
  }
  return plan;
}

/** How a plan's headers repeat: distinct headers, the share of frames whose header equals the frame before's, keys per store (min, mean, max). */
export function planStats(plan) {
  const distinct = new Set(plan.map((keys) => keys.map(([k, l]) => `${k}:${l}`).join())).size;
  let same = 0;
  for (let f = 1; f < plan.length; f++) same += plan[f] === plan[f - 1] ? 1 : 0;
  const counts = plan.map((keys) => keys.length);
  return {
    distinct,
    repeats: same / Math.max(1, plan.length - 1),
    keys: [Math.min(...counts), counts.reduce((a, b) => a + b, 0) / counts.length, Math.max(...counts)],
  };
}
