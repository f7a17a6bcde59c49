// The typed schema's burst path against the raw batch calls it makes, in the same run: medians of
// interleaved samples, ns per packet. Run after `npm run build`: node bench/schema.js [--samples N]
import { KeyRegistry, PacketPool, defineTraits } from "../dist/index.js";

const samples = Number(process.argv[process.argv.indexOf("--samples") + 1]) || 15;
const BURST = 256,
  BURSTS = 16,
  ROUNDS = 200; // per sample: 200 x 16 bursts of 256 = 819,200 packets

const registry = new KeyRegistry();
const T = defineTraits({ packet_id: "u64", flow_hash: "u32", vlan: "u16", rx_ts: "u64" }, { registry });
const annotate = T.fields("packet_id", "flow_hash", "vlan", "rx_ts");
const pool = new PacketPool({ count: BURST * BURSTS, registry });
const bursts = Array.from({ length: BURSTS }, (_, i) => pool.burst(BURST, { slots: 4 }).selectRange(i * BURST, BURST));
for (const b of bursts) b.values().forEach((_, i, v) => (v[i] = i % 2 === 0 ? (i * 2654435761) & 0xffff : 0));
const REPLACE = { replace: true },
  RAW_VALUES = { values: [5n, 0xdeadbeef, 10, 1700000000123456789n] };
const TYPED_VALUES = { values: { packet_id: 5n, flow_hash: 0xdeadbeef, vlan: 10, rx_ts: 1700000000123456789n } };
const fields = annotate.fields,
  key = T.flow_hash.key;

const PAIRS = {
  "annotate 4 keys from slots": [
    (b) => pool.batchSetMany(b, fields, REPLACE),
    (b) => annotate.batchSet(pool, b, REPLACE),
  ],
  "annotate 4 keys, one value each": [
    (b) => pool.batchSetMany(b, fields, RAW_VALUES),
    (b) => annotate.batchSet(pool, b, TYPED_VALUES),
  ],
  "get 4-byte key": [(b) => pool.batchGet(b, key), (b) => T.flow_hash.batchGet(pool, b)],
};

/** ns per packet of one sample of `op`. */
function sample(op) {
  let ok = 0;
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < ROUNDS; r++) for (const b of bursts) ok += op(b);
  const ns = Number(process.hrtime.bigint() - t0);
  if (ok !== ROUNDS * BURSTS * BURST) throw new Error(`only ${ok} operations succeeded`);
  return ns / (ROUNDS * BURSTS * BURST);
}

const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
console.log(
  `typed schema vs raw batch calls: ${pool.impl}, bursts of ${BURST}, medians of ${samples} interleaved samples, ABBA (ns/packet)`,
);
for (const [name, [raw, typed]] of Object.entries(PAIRS)) {
  for (let w = 0; w < 3; w++) sample(raw), sample(typed); // warm-up
  const r = [],
    t = [];
  for (let s = 0; s < samples; s++) {
    if (s % 2 === 0) r.push(sample(raw)), t.push(sample(typed));
    else t.push(sample(typed)), r.push(sample(raw)); // ABBA: neither always runs first
  }
  const mr = median(r),
    mt = median(t);
  console.log(
    `${name.padEnd(34)} raw ${mr.toFixed(2).padStart(6)}  typed ${mt.toFixed(2).padStart(6)}  typed/raw ${(mt / mr).toFixed(3)}`,
  );
}
