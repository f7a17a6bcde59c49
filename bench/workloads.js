// The benchmark's workloads: each processes whole passes over a ring of frames in a PacketPool whose
// stores follow a traffic model (bench/traffic.js), in the library's four implementations (WASM batch,
// WASM single-op, JS batch, JS single-op) and two references that do less (no header validation, no
// per-frame status): js-plain, the best plain JS batch loop (bench/plain.js), and c, the best
// straightforward per-packet C (bench/c/traits-ref.c through bench/native.js, when a C compiler is there).
import { PacketPool } from "packet-traits";
import { ANNOTATE, BURST_OPS, annotateOne } from "./burst-ops.js";
import { NativeRing } from "./native.js";
import { PlainRing } from "./plain.js";
import { STORE_KEYS, trafficPlan } from "./traffic.js";

export { ANNOTATE, STORE_KEYS };
/** The implementations that always run; "c" joins them when bench/native.js could build it. */
export const IMPLS = ["wasm-batch", "wasm-single", "js-batch", "js-single", "js-plain"];

/** Gives frame f of a pool the keys of plan[f] (default: the uniform six-key store), values derived from f and the key. */
export function fillStores(pool, plan = undefined) {
  for (let f = 0; f < pool.count; f++) {
    const store = pool.traits(f);
    store.clear();
    for (const [key, len] of plan ? plan[f] : STORE_KEYS)
      if (
        store.trySet(
          key,
          len === 2 ? (f * 31 + key) & 0xffff : (f * 2654435761 + key) >>> 0,
          len === 8 ? f : 0,
          len,
        ) !== 0
      )
        throw new Error(`frame ${f}: key ${key} (${len} bytes) does not fit its store`);
  }
}

/**
 * A ring of `size` frames whose stores follow the traffic model `traffic`, for one implementation
 * (`native`: the C functions of bench/native.js, for impl "c"). The references (c, js-plain) run on a
 * WASM pool's memory.
 */
export class Ring {
  /** Operations that one pass of workload `w` makes when all succeed. */
  opsOf(w) {
    return w.ops ? w.ops(this) : this.size * w.perPacket;
  }

  constructor(size, impl, burstSize, native, traffic = "uniform") {
    this.size = size;
    this.burstSize = burstSize;
    this.plan = trafficPlan(traffic, size);
    /** Entries of a whole pass of decode. */
    this.entries = this.plan.reduce((sum, keys) => sum + keys.length, 0);
    this.batch = impl.endsWith("batch");
    this.pool = new PacketPool({
      count: size,
      impl: impl.startsWith("js-") && impl !== "js-plain" ? "js" : "wasm",
      hardwareKeys: "off",
    });
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
    /** The reference's loops (c, js-plain), or undefined for the library's implementations. */
    this.reference =
      impl === "c"
        ? new NativeRing(this, native)
        : impl === "js-plain"
          ? new PlainRing(this.pool.layout(), burstSize)
          : undefined;
    this.out = new Uint32Array(2);
    this.keys = new Uint8Array(64);
    this.lens = new Uint8Array(64);
    this.values = new Uint32Array(128);
    this.fill();
  }

  /** Gives every frame its store of the traffic model. */
  fill() {
    fillStores(this.pool, this.plan);
  }

  /** FNV-1a over the used bytes of every store: the state a workload left. */
  storesHash() {
    let h = 0x811c9dc5;
    for (const store of this.stores) for (const b of store.toBytes()) h = Math.imul(h ^ b, 0x01000193);
    return (h >>> 0).toString(16);
  }
}

/**
 * Each workload: `run(ring, passes)` returns the number of successful operations (checked against
 * passes × the operations of one pass: `ops(ring)`, else ring.size × perPacket), `check(ring)` runs one pass and returns a
 * checksum of its outputs and final stores.
 * Batch runs make one call per burst; single runs make one call (or more where noted) per packet.
 */
// Each workload's batch and single loops are functions of their own: V8 optimizes each on its own,
// so that inlining the batch path's callees does not use up the single path's inlining budget.
// The references make one call per pass over the whole ring.
function reference_get_4B(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++) ok += r.reference.get(10);
  return ok;
}
function reference_get_8B(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++) ok += r.reference.get(17);
  return ok;
}
function reference_set_8B_overwrite(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++) ok += r.reference.set(17, 8, 0x55667788, 0x11223344);
  return ok;
}
function reference_insert_delete(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++) ok += r.reference.insertDelete(30, 4, 0xcafe);
  return ok;
}
function reference_decode_store(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++) ok += r.reference.decodeAll();
  return ok;
}
function reference_annotate_4_keys(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++, r.id += r.size) ok += r.reference.annotate(r.id);
  return ok;
}
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
  for (let p = 0; p < passes; p++) for (const b of r.bursts) ok += r.pool.batchDecode(b, r.decoded);
  return ok;
}
function single_decode_store(r, passes) {
  let ok = 0;
  for (let p = 0; p < passes; p++) for (const s of r.stores) ok += s.tryDecode(r.keys, r.lens, r.values);
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
      return r.reference ? reference_get_4B(r, passes) : r.batch ? batch_get_4B(r, passes) : single_get_4B(r, passes);
    },
    check: (r) => sumReads(r, 10, 4),
  },
  "get 8B": {
    perPacket: 1,
    run(r, passes) {
      return r.reference ? reference_get_8B(r, passes) : r.batch ? batch_get_8B(r, passes) : single_get_8B(r, passes);
    },
    check: (r) => sumReads(r, 17, 8),
  },
  "set 8B (overwrite)": {
    perPacket: 1,
    run(r, passes) {
      return r.reference
        ? reference_set_8B_overwrite(r, passes)
        : r.batch
          ? batch_set_8B_overwrite(r, passes)
          : single_set_8B_overwrite(r, passes);
    },
    check: (r) => (WORKLOADS["set 8B (overwrite)"].run(r, 1), r.storesHash()),
  },
  "insert+delete": {
    perPacket: 2,
    run(r, passes) {
      return r.reference
        ? reference_insert_delete(r, passes)
        : r.batch
          ? batch_insert_delete(r, passes)
          : single_insert_delete(r, passes);
    },
    check(r) {
      const hash = [];
      if (r.reference) r.reference.set(30, 4, 0xcafe, 0);
      else if (r.batch) for (const b of r.bursts) r.pool.batchSet(b, 30, 4, 0xcafe);
      else for (const s of r.stores) s.trySet(30, 0xcafe, 0, 4);
      hash.push(r.storesHash());
      WORKLOADS["insert+delete"].run(r, 1);
      // The pass deleted key 30 everywhere, so this delete finds none (a reference has no delete of its own).
      if (r.batch) for (const b of r.bursts) r.pool.batchDelete(b, 30);
      else if (!r.reference) for (const s of r.stores) s.tryDelete(30);
      return `${hash.join()}/${r.storesHash()}`;
    },
  },
  "decode store": {
    perPacket: 1,
    /** Entries, not frames: stores hold different numbers of keys. */
    ops: (r) => r.entries,
    run(r, passes) {
      return r.reference
        ? reference_decode_store(r, passes)
        : r.batch
          ? batch_decode_store(r, passes)
          : single_decode_store(r, passes);
    },
    check(r) {
      let h = 0;
      const mix = (keys, lens, values, n) => {
        for (let i = 0; i < n; i++)
          h = Math.imul(h ^ (keys[i] * 16 + lens[i]) ^ values[2 * i] ^ values[2 * i + 1], 0x01000193);
      };
      if (r.reference)
        for (let first = 0; first < r.size; first += r.burstSize) {
          const ref = r.reference;
          mix(ref.keys, ref.lens, ref.decoded, ref.decode(first, Math.min(r.burstSize, r.size - first)));
        }
      else if (r.batch)
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
      return r.reference
        ? reference_annotate_4_keys(r, passes)
        : r.batch
          ? batch_annotate_4_keys(r, passes)
          : single_annotate_4_keys(r, passes);
    },
    check: (r) => (WORKLOADS["annotate 4 keys"].run(r, 1), r.storesHash()),
  },
};

/**
 * One pass of gets of `key` (a `len`-byte value), summed into a checksum. The references have no
 * per-frame status: each frame's counts as `len` when all frames succeeded.
 */
function sumReads(r, key, len) {
  let h = 0;
  if (r.reference) {
    const status = r.reference.get(key) === r.size ? len : 0,
      v = r.reference.values;
    for (let f = 0; f < r.size; f++) h = Math.imul(h ^ v[2 * f] ^ v[2 * f + 1] ^ status, 0x01000193);
  } else if (r.batch) {
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
