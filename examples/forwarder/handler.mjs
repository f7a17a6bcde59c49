// The per-burst work of the reference forwarder (examples/forwarder/forwarder.mjs), run by XskGroup in
// the worker of each queue: one batch call per trait key over the whole burst (the tenant, key 2, and the
// rx hash, key 59, that forward.bpf.c set), a drop rule (a packet without a tenant, or of a denied one),
// per-flow accounting on the hash (here a sum: where a real processor would count per flow), and for the
// packets kept the Ethernet addresses swapped in place and the verdict XDP_TX: XskGroup transmits them out
// of the same interface from the same frames (no copy) and gives the others back to the fill ring, as
// xdpsock's l2fwd does.
import { XdpAction } from "packet-traits/xdp";

const TENANT = 2,
  RX_HASH = 59;

/** @type {Uint16Array | undefined} the pool's memory as u16 words (frames never move: a view taken once serves) */
let words;
/** Nanoseconds spent in the batch reads of traits, and packets seen, for the benchmark's share of time in traits; the sum of the rx hashes. */
let traitsNs = 0n,
  packets = 0,
  hashes = 0;

/**
 * @param {import("packet-traits/xdp").XskContext} ctx
 */
export function burst({ pool, burst, verdicts, args }) {
  const deny = /** @type {{ deny: number[] }} */ (args).deny,
    n = burst.length,
    stride = 2 * burst.slots;
  // Status: the value's length (2 for the tenant, 4 for the hash), or a negative errno (ENOENT: not set).
  let t0 = process.hrtime.bigint();
  pool.batchGet(burst, TENANT);
  traitsNs += process.hrtime.bigint() - t0;
  let values = burst.values(),
    status = burst.status();
  for (let i = 0; i < n; i++) if (status[i] === 2 && !deny.includes(values[i * stride])) verdicts[i] = XdpAction.TX;
  t0 = process.hrtime.bigint();
  pool.batchGet(burst, RX_HASH); // into the same value slots: the tenants were read above
  traitsNs += process.hrtime.bigint() - t0;
  values = burst.values();
  status = burst.status();
  const frames = burst.frames();
  words ??= new Uint16Array(pool.memory.buffer);
  for (let i = 0; i < n; i++) {
    if (verdicts[i] !== XdpAction.TX) continue;
    if (status[i] === 4) hashes = (hashes + values[i * stride]) >>> 0; // a device without hashes (veth for redirected frames) gives none
    const at = (pool.frameStart(frames[i]) + pool.head(frames[i])) >>> 1; // packets start 4-aligned
    for (let w = 0; w < 3; w++) {
      const t = words[at + w];
      words[at + w] = words[at + 3 + w];
      words[at + 3 + w] = t;
    }
  }
  packets += n;
}

/** At the end: this worker's time in trait reads, its packets and the sum of their hashes. */
export function close() {
  return { traitsNs: Number(traitsNs), packets, hashes };
}
