// Runs in headless Chromium (test/browser/browser.test.ts bundles it with the package's browser build):
// every conformance vector on both implementations, and batch calls on a pool of each; the outcome
// goes to window.result.
import {
  PacketPool,
  TraitsError,
  createStore,
  defineTraits,
  type Impl,
  type Profile,
  type TraitStore,
} from "packet-traits";

interface Op {
  op: "set" | "get" | "del" | "has";
  key: number;
  value?: string;
  len?: number;
  outLen?: number;
  rc: number;
  size?: number;
  header?: string;
}
interface Case {
  id: number;
  profile: Profile;
  cap: number;
  init: string;
  ops: Op[];
  final: string;
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (text: string) => new Uint8Array((text.match(/../g) ?? []).map((b) => parseInt(b, 16)));

/** One op through the throwing API, as the C original's rc and the value read. */
function apply(store: TraitStore, op: Op): [number, string] {
  try {
    switch (op.op) {
      case "set":
        store.set(op.key, unhex(op.value!), op.len);
        return [0, ""];
      case "has":
        return [store.has(op.key) ? 1 : 0, ""];
      case "del":
        return [store.delete(op.key) ? 0 : -2, ""];
      case "get": {
        const value = store.getBytes(op.key);
        if (value === undefined) return [-2, ""];
        return value.length > op.outLen! ? [-28, ""] : [value.length, hex(value)];
      }
    }
  } catch (error) {
    if (error instanceof TraitsError) return [error.errno, ""];
    throw error;
  }
}

/** Every case on one implementation; returns the ops run and the first mismatches. */
function vectors(cases: Case[], impl: Impl): { ops: number; failures: string[] } {
  let ops = 0;
  const failures: string[] = [];
  for (const c of cases) {
    const store = createStore(c.cap, { profile: c.profile, impl });
    store.bytes().set(unhex(c.init));
    for (const op of c.ops) {
      const [rc, value] = apply(store, op);
      const got = {
        rc,
        value: op.op === "get" ? value : undefined,
        size: op.size === undefined ? undefined : store.trySize(),
        header: op.header === undefined ? undefined : hex(store.bytes().subarray(0, 16)),
      };
      const want = {
        rc: op.rc,
        value: op.op === "get" ? (op.value ?? "") : undefined,
        size: op.size,
        header: op.header,
      };
      if (JSON.stringify(got) !== JSON.stringify(want))
        failures.push(`${impl} case ${c.id} ${JSON.stringify(op)}: ${JSON.stringify(got)}`);
      ops++;
    }
    const size = store.trySize();
    if (hex(store.bytes().subarray(0, size < 0 ? c.cap : size)) !== c.final)
      failures.push(`${impl} case ${c.id}: final bytes differ`);
    store.free();
  }
  return { ops, failures: failures.slice(0, 5) };
}

/** A burst of 256 frames annotated in one call, then one key read back in one call. */
function batch(impl: Impl): { impl: string; set: number; get: number; status: number[]; value: string } {
  const pool = new PacketPool({ count: 256, impl });
  const rx = pool.burst(256, { slots: 2 }).selectRange(0, 256);
  const T = defineTraits({ packet_id: { type: "u64", key: 5 }, flow_hash: { type: "u32", key: 6 } });
  const set = T.fields("packet_id", "flow_hash").batchSet(pool, rx, {
    values: { packet_id: 1n << 40n, flow_hash: 0xdeadbeef },
    replace: true,
  });
  const get = T.flow_hash.batchGet(pool, rx);
  return {
    impl: pool.impl,
    set,
    get,
    status: [...new Set(rx.status())],
    value: `${T.flow_hash.slot(rx, 255).toString(16)} ${T.packet_id.get(pool.traits(9))}`,
  };
}

async function main() {
  const texts = await Promise.all(
    ["traits-v1.jsonl", "traits-flags.jsonl"].map((f) => fetch(`/vectors/${f}`).then((r) => r.text())),
  );
  const cases = texts.flatMap((t) =>
    t
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Case),
  );
  return {
    cases: cases.length,
    wasm: vectors(cases, "wasm"),
    js: vectors(cases, "js"),
    batch: [batch("wasm"), batch("js")],
    defaultImpl: createStore(16).impl,
  };
}

(window as unknown as { result: Promise<unknown> }).result = main().catch((e: Error) => ({
  error: `${e.message}\n${e.stack}`,
}));
