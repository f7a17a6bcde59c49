// Fuzz targets of the surfaces around the codec: pools of both profiles, every hardware-key
// placement and both store placements ("frame", "metadata" with adjustMeta), strict registries, transfers between pools, memory growth, released bursts (target
// "pools", WASM vs JS vs the model of fuzz/model.js), the same on the shared-memory WASM build
// (target "shared"), and a WorkerGroup against one thread (target "workers", async).
// Each throws on the first disagreement, naming the seed and the op.
import { Errno, KeyRegistry, PacketPool, SharedKeyRegistry, TraitsError, WorkerGroup } from "packet-traits";
import { rng } from "./targets.js";
import { HW_KEYS, HW_SIZES, PoolModel, SIZES, leBytes } from "./model.js";

const GUARD = 0xa5,
  GUARD_PAGE = new Uint8Array(65536).fill(GUARD),
  PLACEMENTS = ["struct", "keys", "off"],
  STORES = ["frame", "frame", "metadata"],
  PROFILES = ["v1", "flags"];

/** Runs a call; a TraitsError becomes its (negative) errno, so that results compare with the model's. */
export function rcOf(fn) {
  try {
    return fn();
  } catch (error) {
    if (error instanceof TraitsError) return error.errno;
    throw error;
  }
}

const json = (value) => JSON.stringify(value, (_, v) => (typeof v === "bigint" ? `${v}n` : v));

/** Throws unless two results are equal (as JSON). */
function same(a, b, what, names) {
  const x = json(a),
    y = json(b);
  if (x !== y) throw new Error(`${what}: ${names[0]} ${x.slice(0, 400)} but ${names[1]} ${y.slice(0, 400)}`);
}

/** A random strict registry (or none) of a profile: about half the keys, random sizes; a KeyRegistry or a SharedKeyRegistry. */
function randomRegistry(r, profile) {
  if (r.int(3) !== 0) return undefined;
  const registry = r.int(2) ? new KeyRegistry({ profile }) : SharedKeyRegistry.create({ profile });
  for (let k = 0; k < 64; k++) if (r.int(2)) registry.register(`k${k}`, r.pick(SIZES[profile]), { key: k });
  return registry;
}

/**
 * A store placement and the headroom and metadata length that go with it: a "metadata" pool's are
 * multiples of 4, its metadata length at least 16 (smaller stores, ENOMEM for every op, are left to
 * the unit tests: the model has no such store); undefined now and then (the default, 32).
 */
export function randomStorePlacement(r, dataEnd) {
  const store = r.pick(STORES),
    headroom = 16 + r.int(dataEnd - 15);
  if (store === "frame") return { store, headroom };
  const aligned = headroom & ~3,
    metaLength = aligned >= 32 && r.int(4) === 0 ? undefined : 16 + 4 * r.int((aligned - 16) / 4 + 1);
  return { store, headroom: aligned, metaLength };
}

/** The two pools of a seed: random sizes, profiles (mostly equal, so that transfers run), placements and registries. */
function randomConfig(r) {
  const profile = r.pick(PROFILES);
  return [0, 1].map((p) => {
    const frameSize = r.pick([128, 256, 512]),
      placement = r.pick(PLACEMENTS),
      dataEnd = frameSize - (placement === "struct" ? 32 : 0);
    const poolProfile = p === 1 && r.int(5) === 0 ? r.pick(PROFILES) : profile;
    const count = 3 + r.int(5);
    return {
      count,
      room: 1 + r.int(6 * count),
      frameSize,
      ...randomStorePlacement(r, dataEnd),
      profile: poolProfile,
      placement,
      registry: randomRegistry(r, poolProfile),
      images: Array.from({ length: count }, () => Uint8Array.from({ length: frameSize }, () => r() & 0xff)),
    };
  });
}

/**
 * One world: the two pools in one memory whose first page is the caller's (filled with guard bytes;
 * the library's arena starts after it), each with a burst, and a guard burst allocated last.
 * kind: "wasm", "js" or "shared" (a shared memory: the threads build of the WASM core).
 */
function world(kind, config) {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 512, ...(kind === "shared" && { shared: true }) });
  new Uint8Array(memory.buffer).fill(GUARD);
  const impl = kind === "js" ? "js" : "wasm";
  const pools = config.map(
    ({ count, frameSize, headroom, profile, placement, registry, store, metaLength }) =>
      new PacketPool({
        count,
        frameSize,
        headroom,
        profile,
        hardwareKeys: placement,
        placement: store,
        metaLength,
        registry,
        memory,
        impl,
      }),
  );
  pools.forEach((pool, p) => {
    if (pool.impl !== impl) throw new Error(`a ${kind} world got a pool on ${pool.impl}`);
    for (let f = 0; f < pool.count; f++) {
      pool.frameBytes(f).set(config[p].images[f]);
      pool.reset(f);
    }
  });
  const bursts = pools.map((pool) => pool.burst(pool.count + 3, { slots: 4 }));
  const decoded = pools.map((pool, p) => pool.decodeBuffer(config[p].room));
  const guard = pools[1].burst(64, { slots: 1 });
  guard.frames().fill(0xa5a5a5a5);
  guard.values().fill(0xa5a5a5a5);
  return { kind, memory, pools, bursts, decoded, guard, extra: [] };
}

/** Throws if anything outside the pools' frames and bursts changed: the caller's first page, the guard burst. */
function checkGuards(w, where) {
  const page = new Uint8Array(w.memory.buffer, 0, 65536);
  if (Buffer.compare(page, GUARD_PAGE) !== 0)
    throw new Error(`${where}: ${w.kind} wrote byte ${page.findIndex((x) => x !== GUARD)} of the caller's page`);
  if (w.guard.frames().some((x) => x !== 0xa5a5a5a5) || w.guard.values().some((x) => x !== 0xa5a5a5a5))
    throw new Error(`${where}: ${w.kind} wrote into another burst's arrays`);
}

/** A random key: mostly application keys, a quarter hardware keys, now and then a bad one. */
function randomKey(r) {
  const k = r.int(16);
  if (k < 11) return r.int(64);
  if (k < 15) return r.pick(HW_KEYS);
  return r.pick([64, -1, 0.5, 2 ** 53, 0x10005, 5n, BigInt(HW_KEYS[2]), "3"]);
}

/** A length for a key in a profile: mostly a valid one. */
function randomLen(r, key, profile) {
  if (r.int(8) === 0) return r.pick([0, 1, 2, 3, 6, 16]);
  const i = HW_KEYS.indexOf(typeof key === "bigint" ? Number(key) : key);
  return i >= 0 && r.int(4) ? HW_SIZES[i] : r.pick(SIZES[profile]);
}

/** A value of len bytes as (lo, hi), now and then one that does not fit. */
function randomPair(r, len) {
  if (r.int(10) === 0) return [r.pick([0x10000, 0xffffffff, 2 ** 32, -1]), r.int(2) ? 1 : 0];
  return [len >= 4 ? r() : len === 2 ? r() & 0xffff : 0, len === 8 ? r() : 0];
}

/** True if a batch call takes `key` as it is: an application key 0..63, a hardware key, or any bigint (the per-frame model calls judge it). */
const batchKey = (key) =>
  typeof key === "bigint" || HW_KEYS.includes(key) || (Number.isInteger(key) && key >= 0 && key < 64);

/** Selects frames of a burst at random: a range, or descriptors with some out of range. */
function randomSelection(r, count) {
  if (r.int(2)) {
    const n = r.int(count + 1);
    return { range: [r.int(count - n + 1), n] };
  }
  return { frames: Array.from({ length: r.int(count + 3) }, () => r.int(count + 2)) };
}

const selected = (sel) => (sel.range ? Array.from({ length: sel.range[1] }, (_, i) => sel.range[0] + i) : sel.frames);
const select = (burst, sel) => (sel.range ? burst.selectRange(...sel.range) : burst.selectFrames(sel.frames));

/** A batch call's result in a world: [count, statuses, slot 0 of each frame whose status is a length (gets)]. */
function batchResult(count, burst, gets) {
  const status = [...burst.status()],
    values = burst.values();
  return [count, status, gets ? status.map((s, i) => (s >= 0 ? [values[8 * i], values[8 * i + 1]] : null)) : null];
}

/** The model's batch result: each selected frame through `one` (frames out of range: EINVAL). */
function modelBatch(m, sel, one, ok, gets) {
  let count = 0;
  const status = [],
    values = [];
  for (const [i, f] of selected(sel).entries()) {
    const [rc, lo, hi] = f < m.count ? one(f, i) : [Errno.EINVAL];
    status.push(rc);
    values.push(rc >= 0 ? [lo >>> 0, hi >>> 0] : null);
    if (ok(rc)) count++;
  }
  return [count, status, gets ? values : null];
}

/** Writes per-frame slot values (j = 0..3) into a burst: slots[i][j] = [lo, hi]. */
function writeSlots(burst, slots) {
  const values = burst.values();
  slots.forEach((frame, i) =>
    frame.forEach(([lo, hi], j) => {
      values[2 * (4 * i + j)] = lo >>> 0;
      values[2 * (4 * i + j) + 1] = hi >>> 0;
    }),
  );
}

/** The u32 halves of 8 little-endian bytes. */
const leToPair = (bytes) => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  return [view.getUint32(0, true), view.getUint32(4, true)];
};
/** The number of u32 halves (exact below 2^53). */
const valueOf = ([lo, hi]) => hi * 2 ** 32 + (lo >>> 0);
/** A number value for the APIs that take numbers: mostly one that fits `len` bytes (and 2^53). */
const numberValue = (r, len) => {
  const [lo, hi] = randomPair(r, len);
  return valueOf([lo, r.int(4) ? hi & 0x1fffff : hi]);
};
/** True if toPair accepts a number as a value of len bytes. */
const fitsNumber = (value, len) => Number.isSafeInteger(value) && value >= 0 && value < 2 ** (8 * len);

/**
 * A random op of the pools target: [description, the op on a world, the same on the model (which runs
 * first, given the model and the first world as it is before the op)]; both return comparable
 * results (a TraitsError as its errno). Frame f and key are now and then invalid.
 */
function randomOp(r, config) {
  const p = r.int(2),
    q = r.int(2),
    c = config[p],
    count = c.count,
    profile = c.profile;
  const f = r.int(20) === 0 ? count : r.int(count),
    g = r.int(20) === 0 ? config[q].count : r.int(config[q].count);
  const key = randomKey(r),
    len = randomLen(r, key, profile),
    [lo, hi] = randomPair(r, len);
  const sel = randomSelection(r, count),
    wrongBurst = r.int(40) === 0;
  const burstOf = (w) => w.bursts[wrongBurst ? 1 - p : p];
  const slots = Array.from({ length: count + 3 }, () =>
    Array.from({ length: 4 }, () => randomPair(r, r.pick([2, 4, 8]))),
  );
  const broadcast = r.int(2) ? undefined : numberValue(r, len);
  const kind = r.int(29);
  const frameOk = (m) => f < m.pools[p].count;
  switch (kind) {
    case 0:
    case 1:
    case 2:
      return [
        `trySet p${p} f${f} ${String(key)} ${len} ${lo} ${hi}`,
        (w) => rcOf(() => w.pools[p].traits(f).trySet(key, lo, hi, len)),
        (m) => (frameOk(m) ? m.pools[p].trySet(f, key, len, lo, hi) : Errno.EINVAL),
      ];
    case 3:
    case 4:
      return [
        `tryGet p${p} f${f} ${String(key)}`,
        (w) =>
          rcOf(() => {
            const out = new Uint32Array(2),
              rc = w.pools[p].traits(f).tryGet(key, out);
            return rc >= 0 ? [rc, out[0], out[1]] : [rc];
          }),
        (m) => (frameOk(m) ? m.pools[p].tryGet(f, key) : Errno.EINVAL),
      ];
    case 5:
      return [
        `tryDelete p${p} f${f} ${String(key)}`,
        (w) => rcOf(() => w.pools[p].traits(f).tryDelete(key)),
        (m) => (frameOk(m) ? m.pools[p].tryDelete(f, key) : Errno.EINVAL),
      ];
    case 6:
      return [
        `tryHas p${p} f${f} ${String(key)}`,
        (w) => rcOf(() => w.pools[p].traits(f).tryHas(key)),
        (m) => (frameOk(m) ? m.pools[p].tryHas(f, key) : Errno.EINVAL),
      ];
    case 7: {
      const value = numberValue(r, len);
      return [
        `set p${p} f${f} ${String(key)} ${value} ${len}`,
        (w) => rcOf(() => (w.pools[p].traits(f).set(key, value, len), 0)),
        (m) => (frameOk(m) ? m.pools[p].set(f, key, value, len) : Errno.EINVAL),
      ];
    }
    case 8: {
      const outLen = r.int(10);
      return [
        `tryGetBytes p${p} f${f} ${String(key)} ${outLen}`,
        (w) =>
          rcOf(() => {
            const out = new Uint8Array(outLen),
              rc = w.pools[p].traits(f).tryGetBytes(key, out);
            return [rc, [...out]];
          }),
        (m) => {
          if (!frameOk(m)) return Errno.EINVAL;
          const [rc, vlo, vhi] = m.pools[p].tryGet(f, key, outLen),
            out = new Uint8Array(outLen);
          if (rc > 0) {
            const bytes = leBytes(rc, vlo, vhi);
            out.set(HW_KEYS.indexOf(key) === 3 ? bytes.reverse() : bytes); // VLAN_PROTO in network order
          }
          return [rc, [...out]];
        },
      ];
    }
    case 9: {
      const entries = Array.from({ length: 1 + r.int(4) }, () => {
        const k = r.int(12) ? r.int(64) : randomKey(r),
          l = randomLen(r, k, profile);
        return [k, numberValue(r, l), l];
      });
      return [
        `setMany p${p} f${f} ${json(entries)}`,
        (w) => rcOf(() => (w.pools[p].traits(f).setMany(entries), 0)),
        (m) => (frameOk(m) ? m.pools[p].setMany(f, entries) : Errno.EINVAL),
      ];
    }
    case 10:
    case 11:
      return [
        `batchGet p${p} ${String(key)} ${json(sel)}`,
        (w) => rcOf(() => batchResult(w.pools[p].batchGet(select(burstOf(w), sel), key), burstOf(w), true)),
        (m) => {
          if (wrongBurst || !batchKey(key)) return Errno.EINVAL;
          return modelBatch(
            m.pools[p],
            sel,
            (frame) => m.pools[p].tryGet(frame, key),
            (rc) => rc >= 0,
            true,
          );
        },
      ];
    case 12:
    case 13:
      return [
        `batchSet p${p} ${String(key)} ${len} ${broadcast ?? json(slots.slice(0, 3).map((s) => s[0]))} ${json(sel)}`,
        (w) =>
          rcOf(() => {
            const burst = select(burstOf(w), sel);
            writeSlots(burst, slots);
            return batchResult(w.pools[p].batchSet(burst, key, len, broadcast), burst, false);
          }),
        (m) => {
          const pm = m.pools[p];
          if (wrongBurst) return Errno.EINVAL;
          const id = typeof key === "bigint" ? Number(key) : key,
            hw = HW_KEYS.includes(id);
          if (!hw && !(Number.isInteger(id) && id >= 0 && id < 64)) return Errno.EINVAL;
          if (!hw && !SIZES[profile].includes(len)) return Errno.EINVAL;
          if (!hw && pm.strict(id, len)) return pm.strict(id, len);
          if (broadcast !== undefined && !fitsNumber(broadcast, len)) return Errno.EINVAL;
          const pair = (i) =>
            broadcast === undefined ? slots[i][0] : [broadcast % 2 ** 32, Math.floor(broadcast / 2 ** 32)];
          return modelBatch(
            pm,
            sel,
            (frame, i) => {
              const [vlo, vhi] = pair(i);
              return [
                hw
                  ? pm.trySet(frame, key, len, vlo >>> 0, vhi >>> 0)
                  : pm.apply(frame, [[id, len, vlo >>> 0, vhi >>> 0]], false),
              ];
            },
            (rc) => rc === 0,
            false,
          );
        },
      ];
    case 14:
    case 15: {
      const fields = Array.from({ length: r.int(30) ? 1 + r.int(4) : 5 }, () => {
        const k = r.int(12) ? r.int(64) : randomKey(r);
        return { key: k, len: randomLen(r, k, profile) };
      });
      const values = r.int(2) ? undefined : fields.map((field) => numberValue(r, field.len));
      const replace = r.int(3) === 0;
      return [
        `batchSetMany p${p} ${json(fields)} ${json(values ?? slots.slice(0, 3))} replace ${replace} ${json(sel)}`,
        (w) =>
          rcOf(() => {
            const burst = select(burstOf(w), sel);
            writeSlots(burst, slots);
            return batchResult(w.pools[p].batchSetMany(burst, fields, values, { replace }), burst, false);
          }),
        (m) => {
          const pm = m.pools[p];
          if (wrongBurst || fields.length > 4) return Errno.EINVAL;
          for (const [j, { key: k, len: l }] of fields.entries()) {
            if (!(Number.isInteger(k) && k >= 0 && k < 64) && typeof k !== "bigint") return Errno.EINVAL; // hardware keys too
            if (typeof k === "bigint" && !(k >= 0n && k < 64n)) return Errno.EINVAL;
            if (!SIZES[profile].includes(l)) return Errno.EINVAL;
            const strict = pm.strict(Number(k), l);
            if (strict) return strict;
            if (values && !fitsNumber(values[j], l)) return Errno.EINVAL;
          }
          return modelBatch(
            pm,
            sel,
            (frame, i) => {
              const sets = fields.map(({ key: k, len: l }, j) => {
                const [vlo, vhi] = values ? [values[j] % 2 ** 32, Math.floor(values[j] / 2 ** 32)] : slots[i][j];
                return [Number(k), l, vlo >>> 0, vhi >>> 0];
              });
              return [pm.apply(frame, sets, replace)];
            },
            (rc) => rc === 0,
            false,
          );
        },
      ];
    }
    case 16:
      return [
        `batchDelete p${p} ${String(key)} ${json(sel)}`,
        (w) => rcOf(() => batchResult(w.pools[p].batchDelete(select(burstOf(w), sel), key), burstOf(w), false)),
        (m) => {
          if (wrongBurst || !batchKey(key)) return Errno.EINVAL;
          return modelBatch(
            m.pools[p],
            sel,
            (frame) => [m.pools[p].tryDelete(frame, key)],
            (rc) => rc === 0,
            false,
          );
        },
      ];
    case 17:
      return [
        `batchHas p${p} ${String(key)} ${json(sel)}`,
        (w) => rcOf(() => batchResult(w.pools[p].batchHas(select(burstOf(w), sel), key), burstOf(w), false)),
        (m) => {
          if (wrongBurst || !batchKey(key)) return Errno.EINVAL;
          return modelBatch(
            m.pools[p],
            sel,
            (frame) => [m.pools[p].tryHas(frame, key)],
            (rc) => rc === 1,
            false,
          );
        },
      ];
    case 18:
      return [
        `batchInit p${p} ${json(sel)}`,
        (w) => rcOf(() => batchResult(w.pools[p].batchInit(select(burstOf(w), sel)), burstOf(w), false)),
        (m) => {
          if (wrongBurst) return Errno.EINVAL;
          return modelBatch(
            m.pools[p],
            sel,
            (frame) => [(Object.assign(m.pools[p].frames[frame], { map: new Map(), corrupt: false }), 0)],
            (rc) => rc === 0,
            false,
          );
        },
      ];
    case 19: {
      const delta = r.int(3)
        ? (r.int(200) - 100) & (c.store === "metadata" && r.int(4) ? ~3 : ~0)
        : r.pick([0.5, -100000, 100000]);
      return [
        `adjustHead p${p} f${f} ${delta}`,
        (w) => rcOf(() => w.pools[p].adjustHead(f, delta)),
        (m) => (frameOk(m) ? m.pools[p].adjustHead(f, delta) : Errno.EINVAL),
      ];
    }
    case 26: {
      // The delta is drawn against the frame's state when the op runs (the model runs first): a new
      // metadata length from 16 to the head, or now and then a bad delta (unaligned, past the frame
      // start, below 0 bytes, not an integer).
      const pick = r(),
        bad = r.int(8) === 0 ? r.pick([2, -2, 0.5, -100000, 100000]) : undefined;
      let delta = bad;
      return [
        `adjustMeta p${p} f${f} ${bad ?? `to ${pick}`}`,
        (w) => rcOf(() => w.pools[p].adjustMeta(f, delta)),
        (m, w0) => {
          if (!frameOk(m)) return Errno.EINVAL;
          const fm = m.pools[p].frames[f];
          delta ??= fm.cap - (16 + 4 * (pick % (Math.max(0, fm.head - 16) / 4 + 1)));
          return m.pools[p].adjustMeta(f, delta, w0.pools[p].frameBytes(f));
        },
      ];
    }
    case 20: {
      const packet = Uint8Array.from({ length: r.int(c.frameSize) }, () => r() & 0xff);
      return [
        `write p${p} f${f} ${packet.length} bytes`,
        (w) => rcOf(() => (w.pools[p].write(f, packet), 0)),
        (m) => (frameOk(m) ? m.pools[p].write(f, packet) : Errno.EINVAL),
      ];
    }
    case 23: {
      const k = r.int(12) ? r.int(63) : r.pick([63, 64, -1, 5n]),
        wide = Uint8Array.from({ length: 16 }, () => r() & 0xff);
      const lo8 = leToPair(wide.subarray(0, 8)),
        hi8 = leToPair(wide.subarray(8));
      const pm = (m) => m.pools[p],
        ok = Number.isInteger(Number(k)) && Number(k) >= 0 && Number(k) <= 62;
      if (r.int(2)) {
        return [
          `setWide p${p} f${f} ${String(k)}`,
          (w) => rcOf(() => (w.pools[p].traits(f).setWide(k, wide), 0)),
          (m) => {
            if (!frameOk(m) || !ok) return Errno.EINVAL;
            return (
              pm(m).strict(Number(k), 8) ||
              pm(m).strict(Number(k) + 1, 8) ||
              pm(m).apply(
                f,
                [
                  [Number(k), 8, ...lo8],
                  [Number(k) + 1, 8, ...hi8],
                ],
                false,
              )
            );
          },
        ];
      }
      return [
        `getWide p${p} f${f} ${String(k)}`,
        (w) =>
          rcOf(() => {
            const got = w.pools[p].traits(f).getWide(k);
            return got === undefined ? "absent" : [...got];
          }),
        (m) => {
          if (!frameOk(m) || !ok) return Errno.EINVAL;
          const [a, alo, ahi] = pm(m).tryGet(f, Number(k)),
            [b, blo, bhi] = pm(m).tryGet(f, Number(k) + 1);
          if (a === Errno.ENOENT && b === Errno.ENOENT) return "absent";
          if (a !== 8 || b !== 8) return Errno.EBADMSG;
          return [...leBytes(8, alo, ahi), ...leBytes(8, blo, bhi)];
        },
      ];
    }
    case 24: {
      const k = r.int(12) ? r.int(63) : r.pick([63, 64]),
        wide = r.int(2) ? Uint8Array.from({ length: 16 }, () => r() & 0xff) : undefined;
      if (r.int(2)) {
        return [
          `batchGetWide p${p} ${k} ${json(sel)}`,
          (w) =>
            rcOf(() => {
              const burst = select(burstOf(w), sel),
                count = w.pools[p].batchGetWide(burst, k),
                status = [...burst.status()],
                values = burst.values();
              return [
                count,
                status,
                status.map((st, i) => (st === 16 ? [...values.subarray(8 * i, 8 * i + 4)] : null)),
              ];
            }),
          (m) => {
            if (wrongBurst || k > 62) return Errno.EINVAL;
            const pm = m.pools[p];
            const wides = [];
            const [count, status] = modelBatch(
              pm,
              sel,
              (frame, i) => {
                const [a, alo, ahi] = pm.tryGet(frame, k),
                  [b, blo, bhi] = pm.tryGet(frame, k + 1);
                wides[i] = [alo, ahi, blo, bhi];
                return [
                  a === 8 && b === 8
                    ? 16
                    : a === Errno.ENOENT && b === Errno.ENOENT
                      ? Errno.ENOENT
                      : a < 0 && a !== Errno.ENOENT
                        ? a
                        : Errno.EBADMSG,
                ];
              },
              (rc) => rc === 16,
              false,
            );
            return [count, status, /** @type {number[]} */ (status).map((st, i) => (st === 16 ? wides[i] : null))];
          },
        ];
      }
      return [
        `batchSetWide p${p} ${k} ${wide ? "value" : "slots"} ${json(sel)}`,
        (w) =>
          rcOf(() => {
            const burst = select(burstOf(w), sel);
            writeSlots(burst, slots);
            return batchResult(w.pools[p].batchSetWide(burst, k, wide), burst, false);
          }),
        (m) => {
          const pm = m.pools[p];
          if (k > 62 || wrongBurst) return Errno.EINVAL;
          if (pm.strict(k, 8) || pm.strict(k + 1, 8)) return pm.strict(k, 8) || pm.strict(k + 1, 8);
          return modelBatch(
            pm,
            sel,
            (frame, i) => {
              const [a, b] = wide
                ? [leToPair(wide.subarray(0, 8)), leToPair(wide.subarray(8))]
                : [slots[i][0], slots[i][1]];
              return [
                pm.apply(
                  frame,
                  [
                    [k, 8, a[0] >>> 0, a[1] >>> 0],
                    [k + 1, 8, b[0] >>> 0, b[1] >>> 0],
                  ],
                  false,
                ),
              ];
            },
            (rc) => rc === 0,
            false,
          );
        },
      ];
    }
    case 25: {
      return [
        `batchDecode p${p} ${json(sel)}`,
        (w) =>
          rcOf(() => {
            const out = w.decoded[p],
              total = w.pools[p].batchDecode(select(burstOf(w), sel), out);
            return [total, [...burstOf(w).status()], [...out.keys()], [...out.lens()], [...out.values()]];
          }),
        (m) => {
          if (wrongBurst) return Errno.EINVAL;
          const pm = m.pools[p],
            room = c.room,
            keys = [],
            lens = [],
            values = [],
            status = [];
          for (const frame of selected(sel)) {
            if (frame >= pm.count || pm.frames[frame].corrupt) {
              status.push(frame >= pm.count ? Errno.EINVAL : Errno.EBADMSG);
              continue;
            }
            const entries = [...pm.frames[frame].map].sort((x, y) => x[0] - y[0]);
            if (keys.length + entries.length > room) {
              status.push(Errno.ENOSPC);
              continue;
            }
            status.push(entries.length);
            for (const [key, { len, lo, hi }] of entries)
              keys.push(key), lens.push(len), values.push(lo >>> 0, hi >>> 0);
          }
          return [keys.length, status, keys, lens, values];
        },
      ];
    }
    case 21:
    case 22: {
      const transfer = kind === 21,
        move = transfer && r.int(2) === 1;
      return [
        `${transfer ? `transfer${move ? " move" : ""}` : "copyTraits"} p${p} f${f} -> p${q} f${g}`,
        (w) =>
          rcOf(() => {
            if (transfer) w.pools[p].transfer(f, g, w.pools[q], { move });
            else w.pools[p].copyTraits(f, g, w.pools[q]);
            return 0;
          }),
        (m) =>
          frameOk(m) && g < m.pools[q].count
            ? m.pools[p].copyTo(f, m.pools[q], g, { packet: transfer, move })
            : Errno.EINVAL,
      ];
    }
    default: {
      // The arena and the memory: grow it, allocate and release bursts, use a released burst.
      const what = r.int(6),
        n = 1 + r.int(40),
        use = r.int(6);
      if (what === 5 && f < count)
        return [
          `corrupt header p${p} f${f}`,
          (w) => {
            const at = w.pools[p].head(f) - w.pools[p].metaLengthOf(f);
            w.pools[p].frameBytes(f).fill(0xff, at, at + 16);
            return 0;
          },
          (m) => m.pools[p].corruptHeader(f),
        ];
      if (what === 3) {
        // A caller pointing a pool, a burst or a frame's store at other bytes: refused (sealed objects), or a no-op.
        const attempts = [
          (w) => {
            w.pools[p].base = 0;
          },
          (w) => {
            w.pools[p].frameSize = 8;
          },
          (w) => {
            w.bursts[p].stat = 0;
          },
          (w) => Object.defineProperty(w.bursts[p], "capacity", { value: 1e6 }),
          (w) => {
            w.pools[p].traits(f).capacity = 1e6;
          },
          (w) => {
            w.pools[p].traits(f).hints = 0;
          },
          (w) => {
            w.pools[p].traits(f).core = null;
          },
          (w) => Object.setPrototypeOf(w.pools[p], {}),
          (w) => w.pools[p].traits(f).retarget(0, 16),
          (w) => (w.pools[p].traits(f).free(), "free"),
          (w) => (w.pools[p].traits(f)[Symbol.dispose](), "free"),
        ];
        const k = use + (n % 6);
        return [
          `hostile ${k} p${p} f${f}`,
          (w) => {
            try {
              return attempts[k](w);
            } catch (error) {
              return error instanceof TypeError
                ? "TypeError"
                : error instanceof TraitsError
                  ? error.errno
                  : String(error);
            }
          },
          (m) =>
            !frameOk(m) && [4, 5, 6, 8, 9, 10].includes(k)
              ? Errno.EINVAL
              : k === 8
                ? Errno.EINVAL
                : k >= 9
                  ? "free"
                  : "TypeError",
        ];
      }
      if (what === 0)
        return [
          "memory.grow(1)",
          (w) => (w.memory.buffer.byteLength < 500 * 65536 ? w.memory.grow(1) : 0) && 0,
          () => 0,
        ];
      if (what === 1)
        return [`burst(${n}) kept`, (w) => (w.extra.push(w.pools[p].burst(n, { slots: 1 + (n % 4) })), 0), () => 0];
      if (what === 2)
        return [
          "release a kept burst",
          (w) => (w.extra.splice(n % Math.max(1, w.extra.length), 1)[0]?.release(), 0),
          () => 0,
        ];
      return [
        `released burst(${n}) use ${use}`,
        (w) => {
          const pool = w.pools[p],
            stale = pool.burst(n, { slots: 2 });
          stale.release();
          const fresh = pool.burst(n, { slots: 2 }); // the stale burst's arrays, most likely
          fresh.selectRange(0, Math.min(n, pool.count));
          fresh.values().fill(0x5a5a5a5a);
          fresh.frames().fill(0x5a5a5a5a);
          const uses = [
            () => pool.batchGet(stale, 0),
            () => pool.batchSet(stale, 1, 4, 7),
            () => pool.batchInit(stale),
            () => stale.selectRange(0, 1),
            () => stale.selectFrames([0]),
            () => stale.values(),
          ];
          const rc = rcOf(() => (uses[use](), 0));
          const intact =
            fresh.values().every((x) => x === 0x5a5a5a5a) &&
            fresh.frames().every((x) => x === 0x5a5a5a5a) &&
            fresh.length === Math.min(n, pool.count);
          fresh.release();
          return [rc, intact];
        },
        () => [Errno.EINVAL, true],
      ];
    }
  }
}

/**
 * The pools target: two pools (random profiles, placements, strict registries, frame sizes and
 * headrooms) in one memory, on two worlds (`kinds`: WASM and JS, or the shared WASM build and JS)
 * and the model. After every op the results agree, the model's every store byte, hint, head, length
 * and known data byte is in each world, the worlds' frames are byte for byte equal, and the caller's
 * page and a guard burst are untouched. Returns ops run.
 */
export function fuzzPools(seed, ops, kinds = ["wasm", "js"]) {
  const r = rng(seed),
    config = randomConfig(r);
  const worlds = kinds.map((kind) => world(kind, config));
  const model = { pools: config.map((c) => new PoolModel(c, c.images)) };
  for (let i = 0; i < ops; i++) {
    const [what, op, modelOp] = randomOp(r, config);
    const where = `seed ${seed} op ${i} (${what})`;
    try {
      step(worlds, model, op, modelOp, where, kinds);
    } catch (error) {
      throw named(error, where);
    }
  }
  return ops;
}

/** An error that names the seed and the op: the harness's and the model's own exceptions too. */
export function named(error, where) {
  if (!(error instanceof Error)) return new Error(`${where}: threw ${error}`);
  if (!error.message.startsWith("seed ")) error.message = `${where}: ${error.message}`;
  return error;
}

/** Every frame byte, head and length of each pool of a world. */
function snapshot(w) {
  return w.pools.map((pool) => {
    const frames = new Uint8Array(w.memory.buffer, pool.base, pool.count * pool.frameSize);
    return Buffer.concat([
      frames,
      new Uint8Array(
        Uint32Array.from(Array.from({ length: pool.count }, (_, f) => [pool.head(f), pool.length(f)]).flat()).buffer,
      ),
    ]);
  });
}

/** One op of the pools target on every world and the model, then every check. */
function step(worlds, model, op, modelOp, where, kinds) {
  const expected = modelOp(model, worlds[0]);
  // Reads, and any call that fails as a whole, must leave every byte of every frame as it was.
  const pure = /^(tryGet|tryHas|getWide|batchGet |batchGetWide |batchHas |batchDecode )/.test(
    where.slice(where.indexOf("(") + 1),
  );
  const results = worlds.map((w) => {
    const before = snapshot(w);
    let result;
    try {
      result = op(w);
    } catch (error) {
      throw new Error(`${where}: ${w.kind} threw ${error instanceof Error ? error.stack : error}`);
    }
    if (pure || (typeof result === "number" && result < 0)) {
      const after = snapshot(w),
        changed = before.findIndex((bytes, p) => Buffer.compare(bytes, after[p]) !== 0);
      if (changed >= 0)
        throw new Error(
          `${where}: ${w.kind} ${pure ? "read" : `failed (${result})`} but changed pool ${changed}'s frames, heads or lengths`,
        );
    }
    return result;
  });
  same(results[0], results[1], where, kinds);
  same(results[0], expected, where, [kinds[0], "the model"]);
  for (const w of worlds) {
    model.pools.forEach((m, p) => m.check(w.pools[p], `${where}: ${w.kind} pool ${p}`));
    checkGuards(w, where);
  }
  for (let p = 0; p < 2; p++) {
    const [a, b] = worlds.map(
      (w) => new Uint8Array(w.memory.buffer, w.pools[p].base, w.pools[p].count * w.pools[p].frameSize),
    );
    if (Buffer.compare(a, b) !== 0)
      throw new Error(`${where}: pool ${p}'s frames differ between ${kinds[0]} and ${kinds[1]}`);
  }
}

/** The shared target: the pools target with the shared-memory WASM build against JS. */
export function fuzzShared(seed, ops) {
  return fuzzPools(seed, ops, ["shared", "js"]);
}

/** A random WorkerGroup task and the same as a batch call on one thread (worker tasks take no hardware-key fields). */
function randomTask(r, profile) {
  const key = r.int(8) ? r.int(64) : r.pick(HW_KEYS),
    len = randomLen(r, key, profile);
  switch (r.int(6)) {
    case 0:
      return { op: "get", key };
    case 1:
      return { op: "set", key, len, ...(r.int(2) && { value: numberValue(r, len) }) };
    case 2:
      return {
        op: "setMany",
        fields: Array.from({ length: 1 + r.int(3) }, () => {
          const k = r.int(64);
          return { key: k, len: r.pick(SIZES[profile]) };
        }),
        replace: r.int(3) === 0,
      };
    case 3:
      return { op: "delete", key };
    case 4:
      return { op: "has", key };
    default:
      return { op: "init" };
  }
}

function runOne(pool, burst, task) {
  switch (task.op) {
    case "get":
      return pool.batchGet(burst, task.key);
    case "set":
      return pool.batchSet(burst, task.key, task.len, task.value);
    case "setMany":
      return pool.batchSetMany(burst, task.fields, task.values, { replace: task.replace });
    case "delete":
      return pool.batchDelete(burst, task.key);
    case "has":
      return pool.batchHas(burst, task.key);
    default:
      return pool.batchInit(burst);
  }
}

/**
 * The workers target (async): a pool in a shared memory run by a WorkerGroup of 2 workers, and the
 * same pool on one thread (JS core, plain memory), given the same random tasks over ranges or queues
 * of frames (value slots written beforehand alike), the shared memory grown now and then between
 * tasks. After every task the counts, every status and value slot, and every byte of the frames
 * agree. `ops` tasks, one group per call.
 */
export async function fuzzWorkers(seed, ops) {
  const r = rng(seed),
    profile = r.pick(PROFILES),
    placement = r.pick(PLACEMENTS),
    count = 8 + r.int(40);
  const { store, headroom, metaLength } = randomStorePlacement(r, 224);
  const options = { count, frameSize: 256, headroom, profile, hardwareKeys: placement, placement: store, metaLength };
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 64, shared: true });
  const shared = new PacketPool({ ...options, memory, impl: "wasm" }),
    single = new PacketPool({ ...options, impl: "js" });
  if (shared.impl !== "wasm")
    throw new Error(`seed ${seed}: the shared pool runs on ${shared.impl}, not the WASM threads build`);
  const group = new WorkerGroup(shared, { workers: 2, burst: 1 + r.int(16) });
  const burst = single.burst(count, { slots: 4 });
  try {
    await group.ready();
    for (let i = 0; i < ops; i++) {
      const grow = r.int(4) === 0 && memory.buffer.byteLength < 60 * 65536; // the workers' views must follow
      if (grow) memory.grow(1);
      const task = randomTask(r, profile),
        where = `seed ${seed} task ${i} (${json(task)}${grow ? ", after memory.grow" : ""})`;
      let queues;
      if (r.int(2)) {
        const frames = Array.from({ length: count }, (_, f) => f).filter(() => r.int(3)),
          cut = r.int(frames.length + 1);
        queues = [frames.slice(0, cut), frames.slice(cut)];
      }
      const order = queues ? queues.flat() : Array.from({ length: count }, (_, f) => f);
      const slots = order.map(() => Array.from({ length: 4 }, () => randomPair(r, r.pick([2, 4, 8]))));
      group.results.selectRange(0, order.length);
      writeSlots(group.results, slots);
      writeSlots(burst.selectFrames(order), slots);
      const expected = rcOf(() => runOne(single, burst, task));
      let got;
      try {
        got = await group.run(/** @type {import("packet-traits").WorkerTask} */ (task), queues ? { queues } : {});
      } catch (error) {
        if (!(error instanceof TraitsError)) throw new Error(`${where}: the group threw ${error?.stack ?? error}`);
        got = error.errno;
      }
      same(got, expected, `${where}: count`, ["workers", "one thread"]);
      if (expected >= 0)
        same(
          batchResult(got, group.results.selectRange(0, order.length), task.op === "get"),
          batchResult(expected, burst, task.op === "get"),
          `${where}: statuses and values`,
          ["workers", "one thread"],
        );
      for (let f = 0; f < count; f++) {
        if (Buffer.compare(shared.frameBytes(f), single.frameBytes(f)) !== 0)
          throw new Error(`${where}: frame ${f} differs between the workers' pool and one thread's`);
      }
    }
  } finally {
    await group.close();
  }
  return ops;
}
