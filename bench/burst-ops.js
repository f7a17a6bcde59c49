// The batch side of each workload, one burst at a time: shared by the single-process rings
// (workloads.js) and the worker threads of `--workers` (parallel.js).

/** Annotate: packet id (u64), flow hash (u32), vlan (u16), rx timestamp (u64). */
export const ANNOTATE = [
  { key: 5, len: 8 },
  { key: 6, len: 4 },
  { key: 7, len: 2 },
  { key: 8, len: 8 },
];
const REPLACE = { replace: true };
const TIMESTAMP = 1_700_000_000_123_456_789n;
/** The rx timestamp of annotate (key 8) as u32 halves. */
export const TS_LO = Number(TIMESTAMP & 0xffffffffn),
  TS_HI = Number(TIMESTAMP >> 32n);

/** Each returns the operations that succeeded; `state` carries what runs across bursts (annotate's packet id). */
/** @type {Record<string, (pool: import("packet-traits").PacketPool, burst: import("packet-traits").Burst, state: any) => number>} */
export const BURST_OPS = {
  "get 4B": (pool, b) => pool.batchGet(b, 10),
  "get 8B": (pool, b) => pool.batchGet(b, 17),
  "set 8B (overwrite)": (pool, b) => pool.batchSet(b, 17, 8, 0x1122334455667788n),
  "insert+delete": (pool, b) => pool.batchSet(b, 30, 4, 0xcafe) + pool.batchDelete(b, 30),
  "decode store": (pool, b, state) => pool.batchDecode(b, state.decoded) / 6,
  "annotate 4 keys": (pool, b, state) => {
    fillAnnotate(b.values(), b.length, state.id);
    state.id += b.length;
    return pool.batchSetMany(b, ANNOTATE, REPLACE);
  },
};

/**
 * Fills annotate's four u64 value slots (u32 pairs) of n frames in `v` (8 u32 a frame) from packet ids
 * id, id + 1, ...: what every batch side and reference of annotate does per packet before its sets.
 */
export function fillAnnotate(v, n, id) {
  for (let i = 0; i < n; i++, id++) {
    const w = 8 * i;
    v[w] = id;
    v[w + 1] = 0;
    v[w + 2] = Math.imul(id, 0x9e3779b1) >>> 0;
    v[w + 3] = 0;
    v[w + 4] = id & 0xfff;
    v[w + 5] = 0;
    v[w + 6] = TS_LO;
    v[w + 7] = TS_HI;
  }
}

/** The single-op side of annotate for one store (five calls a packet), as per-packet code would do it. */
export function annotateOne(store, id) {
  store.clear();
  return (store.trySet(5, id, 0, 8) |
    store.trySet(6, Math.imul(id, 0x9e3779b1) >>> 0, 0, 4) |
    store.trySet(7, id & 0xfff, 0, 2) |
    store.trySet(8, TS_LO, TS_HI, 8)) ===
    0
    ? 1
    : 0;
}
