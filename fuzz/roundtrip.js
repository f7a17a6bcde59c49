// Fuzz target "roundtrip": decoders checked beyond "a result or a TraitsError", where a round trip
// exists. A registry (random, or parsed from a mutated config) saved as JSON parses back to equal
// content, and through a file (save, load) too; a store of random bytes that validates decodes, on
// both cores alike, to entries that setMany writes back to the same bytes; hex text of any bytes
// (with whitespace and a 0x prefix) parses back to them.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeyRegistry, TraitStore, TraitsError, useMemory } from "packet-traits";
import { parseHex } from "../dist/cli/hex.js";
import { mutate, rng } from "./targets.js";
import { SIZES } from "./model.js";
import { named } from "./surfaces.js";

const NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_.-";

/** A random valid registry: names, keys, sizes of its profile and sometimes descriptions. */
function randomRegistry(r) {
  const registry = new KeyRegistry({ profile: r.pick(["v1", "flags"]) });
  for (let n = r.int(20); n > 0; n--) {
    const name =
      String.fromCharCode(97 + r.int(26)) + Array.from({ length: r.int(20) }, () => r.pick([...NAME_CHARS])).join("");
    const size = r.pick(SIZES[registry.profile]),
      key = r.int(2) ? r.int(64) : undefined;
    const description = r.int(2)
      ? Array.from({ length: r.int(30) }, () => String.fromCharCode(32 + r.int(95))).join("")
      : undefined;
    try {
      registry.register(name, size, {
        ...(key !== undefined && { key }),
        ...(description !== undefined && { description }),
      });
    } catch (error) {
      if (!(error instanceof TraitsError)) throw error; // a name or key taken: fine
    }
  }
  return registry;
}

const big = (value) => JSON.stringify(value, (_, v) => (typeof v === "bigint" ? `${v}n` : v));
const text = (registry) => JSON.stringify(registry.toJSON());

/** Throws unless a registry's content (profile, every entry) equals another's. */
function sameRegistry(a, b, where) {
  if (text(a) !== text(b) || JSON.stringify(a.entries()) !== JSON.stringify(b.entries()))
    throw new Error(`${where}: ${text(a).slice(0, 300)} came back as ${text(b).slice(0, 300)}`);
}

/** Random store bytes: a sparse random header (or one built from random entries) and random values. */
function randomStoreBytes(r, _profile) {
  const cap = 16 + r.int(600),
    bytes = new Uint8Array(cap),
    view = new DataView(bytes.buffer);
  for (let i = 16; i < cap; i++) bytes[i] = r() & 0xff;
  const high = ((BigInt(r()) << 32n) | BigInt(r())) & ((BigInt(r()) << 32n) | BigInt(r())),
    low = ((BigInt(r()) << 32n) | BigInt(r())) & ((BigInt(r()) << 32n) | BigInt(r()));
  view.setBigUint64(0, r.int(4) ? high & ((BigInt(r()) << 32n) | BigInt(r())) : high, true);
  view.setBigUint64(8, r.int(4) ? low & ((BigInt(r()) << 32n) | BigInt(r())) : low, true);
  return bytes;
}

/**
 * The roundtrip target: `ops` inputs, a third each of registries (every 50th through a file),
 * stores and hex text. Returns ops run.
 */
export function fuzzRoundTrips(seed, ops) {
  const r = rng(seed),
    dir = mkdtempSync(join(tmpdir(), "traits-fuzz-"));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
  useMemory(memory, { scratch: 65536 - 1024 });
  try {
    for (let i = 0; i < ops; i++) {
      const where = `seed ${seed} op ${i}`;
      const kind = r.int(3);
      try {
        if (kind === 0) {
          let registry = randomRegistry(r);
          if (r.int(2)) {
            // A mutated config that still parses must round-trip like any other.
            const mutated = new TextDecoder().decode(mutate(r, new TextEncoder().encode(text(registry))));
            try {
              registry = KeyRegistry.parse(mutated);
            } catch (error) {
              if (!(error instanceof TraitsError))
                throw new Error(`${where}: registry config ${JSON.stringify(mutated)} threw ${error?.stack ?? error}`);
              continue;
            }
          }
          sameRegistry(registry, KeyRegistry.parse(text(registry)), `${where}: registry through JSON`);
          if (i % 50 === 0) {
            const file = join(dir, "keys.json");
            registry.save(file);
            const loaded = KeyRegistry.load(file);
            sameRegistry(registry, loaded, `${where}: registry through a file`);
            if (readFileSync(file, "utf8") !== `${JSON.stringify(registry.toJSON(), null, 2)}\n`)
              throw new Error(`${where}: the saved file is not the registry's JSON`);
          }
        } else if (kind === 1) {
          const profile = r.pick(["v1", "flags"]),
            bytes = randomStoreBytes(r, profile);
          const mem = new Uint8Array(memory.buffer, 0, bytes.length);
          mem.set(bytes);
          const stores = [
            TraitStore.over(bytes.slice(), { profile, impl: "js" }),
            TraitStore.at(memory, 0, bytes.length, { profile, impl: "wasm" }),
          ];
          const decoded = stores.map((store) => {
            const keys = new Uint8Array(64),
              lens = new Uint8Array(64),
              values = new Uint32Array(128),
              n = store.tryDecode(keys, lens, values);
            return [
              n,
              store.trySize(),
              [...keys.subarray(0, Math.max(0, n))],
              [...lens.subarray(0, Math.max(0, n))],
              [...values.subarray(0, 2 * Math.max(0, n))],
            ];
          });
          if (JSON.stringify(decoded[0]) !== JSON.stringify(decoded[1]))
            throw new Error(
              `${where}: store ${Buffer.from(bytes).toString("hex")} decodes as ${JSON.stringify(decoded[0])} on js, ${JSON.stringify(decoded[1])} on wasm`,
            );
          const [n, size, keys, lens, values] = /** @type {[number, number, number[], number[], number[]]} */ (
            decoded[0]
          );
          if (n < 0) continue;
          // Re-encode: the same entries set on an empty store of the same capacity give the same bytes.
          const copy = TraitStore.over(new Uint8Array(bytes.length), { profile, impl: "js" });
          copy.setMany(
            keys.map((k, j) => {
              const v = (BigInt(values[2 * j + 1]) << 32n) | BigInt(values[2 * j]);
              return /** @type {[number, number | bigint, number]} */ ([k, lens[j] === 8 ? v : Number(v), lens[j]]);
            }),
          );
          if (copy.size !== size || Buffer.compare(copy.toBytes(), bytes.subarray(0, size)) !== 0)
            throw new Error(
              `${where}: store ${Buffer.from(bytes.subarray(0, size)).toString("hex")} re-encodes as ${Buffer.from(copy.toBytes()).toString("hex")}`,
            );
          if (big(stores[1].entries()) !== big(copy.entries()))
            throw new Error(`${where}: entries differ after re-encoding`);
        } else {
          const bytes = Uint8Array.from({ length: r.int(64) }, () => r() & 0xff);
          let hex = Buffer.from(bytes)
            .toString("hex")
            .replace(/../g, (pair) => (r.int(4) ? pair : pair + r.pick([" ", "\n", "\t", "  "])));
          if (r.int(2)) hex = hex.toUpperCase();
          if (r.int(3) === 0) hex = r.pick(["0x", "0X", " 0x"]) + hex;
          const back = parseHex(hex);
          if (Buffer.compare(back, bytes) !== 0)
            throw new Error(`${where}: hex ${JSON.stringify(hex)} parses as ${Buffer.from(back).toString("hex")}`);
        }
      } catch (error) {
        throw named(error, where);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return ops;
}
