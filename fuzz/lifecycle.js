// Fuzz target "lifecycle": stores outside pools through their whole lives, against the model of
// fuzz/model.js. createStore() stores (both implementations and profiles, strict or not, hardware
// keys "keys" or "off") and stores over their bytes (over(store.bytes())), freed at random: a freed
// store and its aliases answer ENOMEM (or what a check before the capacity says) and write nothing,
// while new stores take their regions. Views of a caller's memory (useMemory'd, on both cores) are
// retargeted among regions separated by guard bytes and survive memory.grow. Resizable buffers are
// refused, TraitStore.at on a memory without useMemory() fails without growing it.
import { Errno, KeyRegistry, TraitStore, createStore, defaultMemory, useMemory } from "packet-traits";
import { rng } from "./targets.js";
import { FIRST_APP_KEY, HW_KEYS, HW_SIZES, PoolModel, SIZES, appLength, fitsPair, keyId } from "./model.js";
import { named, rcOf } from "./surfaces.js";

const GUARD = 0x5c,
  REGIONS = 4,
  REGION = 1024;

/** The model of one standalone store: a one-frame PoolModel whose head is the capacity. */
function storeModel(cap, profile, placement, registry) {
  return {
    pm: new PoolModel({ count: 1, frameSize: cap, headroom: cap, profile, placement, registry }, [new Uint8Array(cap)]),
    freed: false,
  };
}

/** What a freed store (capacity 0) answers: the checks made before the capacity, else ENOMEM. */
function freedRc(pm, op, key, len, lo, hi) {
  const id = keyId(key);
  if (id < 0) return Errno.EINVAL;
  const hw = id >= 64,
    i = id - 64,
    off = pm.placement === "off";
  switch (op) {
    case "set":
      if (!fitsPair(len, lo, hi)) return Errno.EINVAL;
      if (hw) {
        if (len !== HW_SIZES[i]) return Errno.EINVAL;
        if (off) return Errno.EOPNOTSUPP;
        // Placement "keys": application key 59 + i, checked against a strict registry first, as any key.
        return (pm.placement === "keys" && pm.strict(FIRST_APP_KEY + i, appLength(i, pm.profile))) || Errno.ENOMEM;
      }
      return pm.strict(id, len) || (SIZES[pm.profile].includes(len) ? Errno.ENOMEM : Errno.EINVAL);
    case "has":
      return hw && off ? 0 : Errno.ENOMEM;
    default:
      return hw && off ? Errno.ENOENT : Errno.ENOMEM; // get, delete
  }
}

/** A random strict registry of a profile, or none. */
function maybeRegistry(r, profile) {
  if (r.int(3)) return undefined;
  const registry = new KeyRegistry({ profile });
  for (let k = 0; k < 64; k++) if (r.int(2)) registry.register(`k${k}`, r.pick(SIZES[profile]), { key: k });
  return registry;
}

/** A caller's memory prepared for the WASM core, page 0 guard bytes, and a view on `impl` retargeted over REGIONS regions. */
function viewWorld(impl, profile, caps) {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 64 });
  new Uint8Array(memory.buffer).fill(GUARD);
  if (impl === "wasm") useMemory(memory); // its scratch goes in a new page
  const regions = caps.map((cap, i) => ({ start: i * REGION + 64, cap, model: storeModel(cap, profile, "off") }));
  const view = TraitStore.at(memory, regions[0].start, regions[0].cap, { impl, profile });
  for (const { start, cap } of regions) view.retarget(start, cap).clear();
  view.retarget(regions[0].start, regions[0].cap);
  return { impl, memory, regions, view, at: 0 };
}

/** Throws if a view world's page 0 differs from the models or the guards. */
function checkViews(v, where) {
  const page = new Uint8Array(v.memory.buffer, 0, REGIONS * REGION);
  let from = 0;
  for (const { start, cap, model } of v.regions) {
    for (let i = from; i < start; i++)
      if (page[i] !== GUARD) throw new Error(`${where}: ${v.impl} view wrote guard byte ${i}`);
    const expected = model.pm.serialize(0);
    if (Buffer.compare(page.subarray(start, start + expected.length), expected) !== 0)
      throw new Error(
        `${where}: ${v.impl} region at ${start} is ${Buffer.from(page.subarray(start, start + expected.length)).toString("hex")}, the model says ${Buffer.from(expected).toString("hex")}`,
      );
    from = start + cap;
  }
  for (let i = from; i < page.length; i++)
    if (page[i] !== GUARD) throw new Error(`${where}: ${v.impl} view wrote guard byte ${i}`);
}

/**
 * A random single-store op on a handle: [description, run(store), expected(model)].
 * @returns {[string, (store: any) => unknown, (model: any) => unknown]}
 */
function storeOp(r, profile) {
  const k = r.int(12);
  const key = k < 8 ? r.int(64) : k < 11 ? r.pick(HW_KEYS) : r.pick([64, -1, 0x10005]);
  const i = HW_KEYS.indexOf(key),
    len = i >= 0 && r.int(4) ? HW_SIZES[i] : r.int(10) ? r.pick(SIZES[profile]) : r.pick([1, 3, 16]);
  const lo = len === 0 ? 0 : len === 2 ? r() & 0xffff : r(),
    hi = len === 8 ? r() : 0;
  switch (r.int(5)) {
    case 0:
    case 1:
      return [
        `trySet ${key} ${len} ${lo} ${hi}`,
        (s) => s.trySet(key, lo, hi, len),
        (m) => (m.freed ? freedRc(m.pm, "set", key, len, lo, hi) : m.pm.trySet(0, key, len, lo, hi)),
      ];
    case 2:
      return [
        `tryGet ${key}`,
        (s) => {
          const out = new Uint32Array(2),
            rc = s.tryGet(key, out);
          return rc >= 0 ? [rc, out[0], out[1]] : [rc];
        },
        (m) => (m.freed ? [freedRc(m.pm, "get", key)] : m.pm.tryGet(0, key)),
      ];
    case 3:
      return [
        `tryDelete ${key}`,
        (s) => s.tryDelete(key),
        (m) => (m.freed ? freedRc(m.pm, "delete", key) : m.pm.tryDelete(0, key)),
      ];
    default:
      return [
        `tryHas ${key}`,
        (s) => s.tryHas(key),
        (m) => (m.freed ? freedRc(m.pm, "has", key) : m.pm.tryHas(0, key)),
      ];
  }
}

/**
 * The lifecycle target. After every op every result equals the model's, every live store's bytes in
 * use are the model's, and each view memory's regions and guard bytes are as the models say.
 */
export function fuzzLifecycle(seed, ops) {
  const r = rng(seed),
    profile = r.pick(["v1", "flags"]);
  const caps = Array.from({ length: REGIONS }, () => 16 + r.int(REGION - 80));
  const views = ["wasm", "js"].map((impl) => viewWorld(impl, profile, caps));
  /** createStore() stores and their aliases: { store, model, kind }; models are shared with aliases. */
  const handles = [];
  const created = [];
  let ids = 0;
  /** A new createStore() store and its model; past 12 stores, the oldest freed one (and its aliases) is forgotten. */
  const create = (cap, impl) => {
    if (created.length >= 12) {
      const old = created.findIndex((h) => h.model.freed);
      if (old < 0) return;
      const [gone] = created.splice(old, 1);
      for (let i = handles.length - 1; i >= 0; i--) if (handles[i].model === gone.model) handles.splice(i, 1);
    }
    const p = r.pick(["v1", "flags"]),
      hardwareKeys = r.pick(["keys", "off"]),
      registry = maybeRegistry(r, p);
    const store = createStore(cap, { profile: p, impl, hardwareKeys, registry });
    const h = {
      id: ids++,
      store,
      model: storeModel(cap, p, hardwareKeys, registry),
      kind: "store",
      owns: impl === "wasm",
    };
    created.push(h);
    handles.push(h);
  };
  try {
    for (let i = 0; i < ops; i++) {
      const kind = r.int(14),
        where = (what) => `seed ${seed} op ${i} (${what})`;
      try {
        if (kind < 5 && handles.length > 0) {
          const h = r.pick(handles),
            [what, run, expect] = storeOp(r, h.store.profile);
          const w = where(`${h.kind} of store ${h.id}: ${what}`),
            expected = expect(h.model),
            got = rcOf(() => run(h.store));
          if (JSON.stringify(got) !== JSON.stringify(expected))
            throw new Error(`${w}: got ${JSON.stringify(got)}, the model says ${JSON.stringify(expected)}`);
        } else if (kind < 8) {
          const [what, run, expect] = storeOp(r, profile);
          for (const v of views) {
            const w = where(`${v.impl} view of region ${v.at}: ${what}`),
              expected = expect(v.regions[v.at].model),
              got = rcOf(() => run(v.view));
            if (JSON.stringify(got) !== JSON.stringify(expected))
              throw new Error(`${w}: got ${JSON.stringify(got)}, the model says ${JSON.stringify(expected)}`);
          }
        } else if (kind === 8) {
          create(16 + r.int(200), r.pick(["wasm", "js"]));
        } else if (kind === 9 && created.length > 0) {
          const h = r.pick(created),
            how = r.int(2);
          if (how) h.store.free();
          else h.store[Symbol.dispose]();
          if (h.owns) h.model.freed = true; // a JS store owns an ArrayBuffer: free() leaves it as it is
          if (h.owns && r.int(2)) create(h.model.pm.frameSize, "wasm"); // takes the freed region
        } else if (kind === 10 && created.length > 0) {
          const h = r.pick(created),
            impl = r.pick(["wasm", "js"]);
          const got = rcOf(() => {
            const alias = TraitStore.over(h.store.bytes(), {
              profile: h.store.profile,
              impl,
              hardwareKeys: h.store.hardwareKeys,
              registry: h.store.registry,
            });
            handles.push({ id: h.id, store: alias, model: h.model, kind: `${impl} alias`, owns: h.owns });
            return 0;
          });
          const expected = h.model.freed ? Errno.ENOMEM : h.owns || impl === "js" ? 0 : Errno.EINVAL; // a JS store's bytes are not in WebAssembly memory
          if (got !== expected)
            throw new Error(`${where(`alias of store ${h.id} on ${impl}`)}: got ${got}, expected ${expected}`);
          if (handles.length > 40)
            handles.splice(
              handles.findIndex((x) => x.kind !== "store"),
              1,
            ); // drop the oldest alias
        } else if (kind === 11) {
          const target = r.int(REGIONS),
            bad =
              r.int(5) === 0
                ? r.pick([
                    [4, 64],
                    [0, 15],
                    [2 ** 31, 16],
                    [8, 2 ** 32],
                  ])
                : undefined;
          for (const v of views) {
            const { start, cap } = v.regions[target];
            const got = rcOf(() => (v.view.retarget(.../** @type {[number, number]} */ (bad ?? [start, cap])), 0));
            const expected = bad ? (bad[1] === 15 ? Errno.ENOMEM : Errno.EINVAL) : 0;
            if (got !== expected)
              throw new Error(
                `${where(`${v.impl} retarget ${bad ?? [start, cap]}`)}: got ${got}, expected ${expected}`,
              );
            if (!bad) v.at = target;
          }
          const owners = handles.filter((h) => h.owns || h.kind === "store"); // stores that own their bytes, and aliases of those
          if (owners.length > 0) {
            const got = rcOf(() => r.pick(owners).store.retarget(64, 16));
            if (got !== Errno.EINVAL)
              throw new Error(`${where("retarget a createStore() store or its alias")}: got ${got}, expected EINVAL`);
          }
        } else if (kind === 12) {
          const which = r.int(3);
          if (which === 0) for (const v of views) v.memory.buffer.byteLength < 60 * 65536 && v.memory.grow(1);
          else if (which === 1 && defaultMemory().buffer.byteLength < 256 * 65536) defaultMemory().grow(1);
          else {
            const fresh = new WebAssembly.Memory({ initial: 1, maximum: 4 }),
              got = rcOf(() => TraitStore.at(fresh, 0, 64, { impl: "wasm" }));
            if (got !== Errno.EINVAL || fresh.buffer.byteLength !== 65536)
              throw new Error(
                `${where("TraitStore.at wasm before useMemory")}: got ${got}, memory ${fresh.buffer.byteLength} bytes`,
              );
          }
        } else {
          const shared = r.int(2) === 1,
            size = 16 + 8 * r.int(10);
          const buffer = shared
            ? new /** @type {any} */ (SharedArrayBuffer)(size, { maxByteLength: 1024 }) // ES2024 growable
            : new /** @type {any} */ (ArrayBuffer)(size, { maxByteLength: 1024 }); // ES2024 resizable
          new Uint8Array(buffer).fill(7);
          const got = rcOf(() => TraitStore.over(new Uint8Array(buffer), { impl: "js" }));
          if (got !== Errno.EINVAL || new Uint8Array(buffer).some((b) => b !== 7))
            throw new Error(
              `${where(`over a resizable ${shared ? "SharedArrayBuffer" : "ArrayBuffer"}`)}: got ${got?.constructor?.name ?? got}, expected EINVAL and the bytes untouched`,
            );
        }
        for (const h of created) {
          if (h.model.freed) continue;
          const expected = h.model.pm.serialize(0),
            bytes = h.store.bytes();
          if (Buffer.compare(bytes.subarray(0, expected.length), expected) !== 0)
            throw new Error(
              `${where("check")}: store ${h.id} is ${Buffer.from(bytes.subarray(0, expected.length)).toString("hex")}, the model says ${Buffer.from(expected).toString("hex")}`,
            );
        }
        for (const v of views) checkViews(v, where("check"));
      } catch (error) {
        throw named(error, where(`op ${kind}`));
      }
    }
  } finally {
    for (const h of created) h.store.free();
  }
  return ops;
}
