// The benchmark's workloads: each processes whole passes over a ring of frames in a PacketPool,
// in four implementations: WASM batch, WASM single-op, JS batch, JS single-op.
import { PacketPool } from "packet-traits";
import { ANNOTATE, BURST_OPS, annotateOne } from "./burst-ops.js";

/** The stores every ring starts with: key, length (6 keys, 44 bytes in use). */
export const STORE_KEYS = [
  [3, 2],
  [10, 4],
  [17, 8],
  [25, 2],
  [40, 4],
  [55, 8],
];
export { ANNOTATE };
export const IMPLS = ["wasm-batch", "wasm-single", "js-batch", "js-single"];

/** Gives every frame of a pool the six-key store, values derived from the frame index. */
export function fillStores(pool) {
  for (let f = 0; f < pool.count; f++) {
    const store = pool.traits(f);
    store.clear();
    for (const [key, len] of STORE_KEYS)
      store.trySet(key, len === 2 ? (f * 31 + key) & 0xffff : (f * 2654435761 + key) >>> 0, len === 8 ? f : 0, len);
  }
}

/** A ring of `size` frames with the six-key stores, for one implementation. */
export class Ring {
  constructor(size, impl, burstSize) {
    this.size = size;
    this.batch = impl.endsWith("batch");
    this.pool = new PacketPool({ count: size, impl: impl.startsWith("wasm") ? "wasm" : "js", hardwareKeys: "off" });
    this.id = 0;
    this.stores = Array.from({ length: size }, (_, f) => this.pool.traits(f));
    this.bursts = [];
    for (let first = 0; first < size; first += burstSize) {
      this.bursts.push(
        this.pool
          .burst(Math.min(burstSize, size - first), { slots: 4 })
          .selectRange(first, Math.min(burstSize, size - first)),
      );
    }
    this.decoded = this.pool.decodeBuffer(64 * burstSize);
    this.out = new Uint32Array(2);
    this.keys = new Uint8Array(64);
    this.lens = new Uint8Array(64);
    this.values = new Uint32Array(128);
    this.fill();
  }

  /** Gives every frame the six-key store. */
  fill() {
    fillStores(this.pool);
  }

  /** FNV-1a over the used bytes of every store: the state a workload left. */
  storesHash() {
    let h = 0x811c9dc5;
    for (const store of this.stores) for (const b of store.toBytes()) h = Math.imul(h ^ b, 0x01000193);
    return (h >>> 0).toString(16);
  }
}

/**
 * Each workload: `run(ring, passes)` returns the number of successful operations (checked against the
 * expected count), `check(ring)` runs one pass and returns a checksum of its outputs and final stores.
 * Batch runs make one call per burst; single runs make one call (or more where noted) per packet.
 */
// Each workload's batch and single loops are functions of their own: V8 optimizes each on its own,
// so that inlining the batch path's callees does not use up the single path's inlining budget.
function batch_get_4B(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++) for (const b of r.bursts) ok += BURST_OPS["get 4B"](r.pool, b, r);
  return ok;
}
function single_get_4B(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++) for (const s of r.stores) ok += s.tryGet(10, r.out) >= 0 ? 1 : 0;
  return ok;
}
function batch_get_8B(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++) for (const b of r.bursts) ok += BURST_OPS["get 8B"](r.pool, b, r);
  return ok;
}
function single_get_8B(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++) for (const s of r.stores) ok += s.tryGet(17, r.out) >= 0 ? 1 : 0;
  return ok;
}
function batch_set_8B_overwrite(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++) for (const b of r.bursts) ok += BURST_OPS["set 8B (overwrite)"](r.pool, b, r);
  return ok;
}
function single_set_8B_overwrite(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++)
    for (const s of r.stores) ok += s.trySet(17, 0x55667788, 0x11223344, 8) === 0 ? 1 : 0;
  return ok;
}
function batch_insert_delete(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++) for (const b of r.bursts) ok += BURST_OPS["insert+delete"](r.pool, b, r);
  return ok;
}
function single_insert_delete(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++)
    for (const s of r.stores) ok += (s.trySet(30, 0xcafe, 0, 4) === 0 ? 1 : 0) + (s.tryDelete(30) === 0 ? 1 : 0);
  return ok;
}
function batch_decode_store(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++) for (const b of r.bursts) ok += BURST_OPS["decode store"](r.pool, b, r);
  return ok;
}
function single_decode_store(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++) for (const s of r.stores) ok += s.tryDecode(r.keys, r.lens, r.values) === 6 ? 1 : 0;
  return ok;
}
function batch_annotate_4_keys(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++) for (const b of r.bursts) ok += BURST_OPS["annotate 4 keys"](r.pool, b, r);
  return ok;
}
function single_annotate_4_keys(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++) for (const s of r.stores) ok += annotateOne(s, r.id++);
  return ok;
}

export const WORKLOADS = {
  "get 4B": {
    perPacket: 1,
    run(r, passes) {
      return r.batch ? batch_get_4B(r, passes) : single_get_4B(r, passes);
    },
    check: (r) => sumReads(r, 10),
  },
  "get 8B": {
    perPacket: 1,
    run(r, passes) {
      return r.batch ? batch_get_8B(r, passes) : single_get_8B(r, passes);
    },
    check: (r) => sumReads(r, 17),
  },
  "set 8B (overwrite)": {
    perPacket: 1,
    run(r, passes) {
      return r.batch ? batch_set_8B_overwrite(r, passes) : single_set_8B_overwrite(r, passes);
    },
    check: (r) => (WORKLOADS["set 8B (overwrite)"].run(r, 1), r.storesHash()),
  },
  "insert+delete": {
    perPacket: 2,
    run(r, passes) {
      return r.batch ? batch_insert_delete(r, passes) : single_insert_delete(r, passes);
    },
    check(r) {
      const hash = [];
      if (r.batch) for (const b of r.bursts) r.pool.batchSet(b, 30, 4, 0xcafe);
      else for (const s of r.stores) s.trySet(30, 0xcafe, 0, 4);
      hash.push(r.storesHash());
      WORKLOADS["insert+delete"].run(r, 1);
      if (r.batch) for (const b of r.bursts) r.pool.batchDelete(b, 30);
      else for (const s of r.stores) s.tryDelete(30);
      return `${hash.join()}/${r.storesHash()}`;
    },
  },
  "decode store": {
    perPacket: 1,
    run(r, passes) {
      return r.batch ? batch_decode_store(r, passes) : single_decode_store(r, passes);
    },
    check(r) {
      let h = 0;
      const mix = (keys, lens, values, n) => {
        for (let i = 0; i < n; i++)
          h = Math.imul(h ^ (keys[i] * 16 + lens[i]) ^ values[2 * i] ^ values[2 * i + 1], 0x01000193);
      };
      if (r.batch)
        for (const b of r.bursts) {
          const n = r.pool.batchDecode(b, r.decoded);
          mix(r.decoded.keys(), r.decoded.lens(), r.decoded.values(), n);
        }
      else for (const s of r.stores) mix(r.keys, r.lens, r.values, s.tryDecode(r.keys, r.lens, r.values));
      return (h >>> 0).toString(16);
    },
  },
  "annotate 4 keys": {
    perPacket: 1,
    run(r, passes) {
      r.id = 0;
      return r.batch ? batch_annotate_4_keys(r, passes) : single_annotate_4_keys(r, passes);
    },
    check: (r) => (WORKLOADS["annotate 4 keys"].run(r, 1), r.storesHash()),
  },
};

/** One pass of gets of `key`, summed into a checksum. */
function sumReads(r, key) {
  let h = 0;
  if (r.batch) {
    for (const b of r.bursts) {
      r.pool.batchGet(b, key);
      const v = b.values(),
        st = b.status();
      for (let i = 0; i < b.length; i++) h = Math.imul(h ^ v[8 * i] ^ v[8 * i + 1] ^ st[i], 0x01000193);
    }
  } else {
    for (const s of r.stores) {
      const rc = s.tryGet(key, r.out);
      h = Math.imul(h ^ r.out[0] ^ r.out[1] ^ rc, 0x01000193);
    }
  }
  return (h >>> 0).toString(16);
}
