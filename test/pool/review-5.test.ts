// Review of perf-wasm-4 (issue 21): batchSet's value glue (toPair with limitOf's table, the pool's cached
// u32 view reaching its scratch). Every value at the limits of every length, through batchSet on a pool
// whose memory grows between calls (non-shared: the cached view detaches; shared: it does not), against
// the same value given to a single store's set(): the same acceptance, the same error, the same bytes.
import { describe, expect, it } from "vitest";
import { PacketPool, type TraitStore, type Profile } from "packet-traits";
import { IMPLS } from "../helpers.js";

/** Values at and around each length's limits, and values of the wrong kind. */
const VALUES: unknown[] = [
  0,
  1,
  0xff,
  0x100,
  0xffff,
  0x10000,
  2 ** 24,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 64,
  -1,
  -0,
  0.5,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  0n,
  0xffffn,
  0x10000n,
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 53n,
  2n ** 64n - 1n,
  2n ** 64n,
  -1n,
  "5",
];
const LENGTHS: Record<Profile, number[]> = { v1: [2, 4, 8], flags: [0, 4, 8] };

/** What set() of `value` in `len` bytes does to a fresh store: the value read back, or the error's code and message. */
function viaStore(store: TraitStore, len: number, value: unknown): unknown {
  store.clear();
  try {
    store.set(5, value as number, len);
    return store.get(5);
  } catch (error) {
    return `${(error as { code?: string }).code}: ${(error as Error).message}`;
  }
}

describe.each(IMPLS)("review-5: %s batchSet with one value for all frames", (impl) => {
  // Holds on the branch. Catches: a limit table off by one length (2 ** (8 * len) for len 0..8), a
  // number at 2^16 or 2^32 accepted and truncated, a pool writing its value through a view detached by
  // growth (the value lost: the frames get whatever the scratch held).
  for (const shared of [false, true])
    it(`takes or refuses every value at the limits as a single store's set() does, across growth (${shared ? "shared" : "non-shared"} memory)`, () => {
      for (const profile of ["v1", "flags"] as const) {
        const memory = new WebAssembly.Memory({ initial: 1, maximum: 2048, shared });
        const pool = new PacketPool({ count: 4, memory, profile, impl }),
          burst = pool.burst(3).selectRange(0, 3);
        let grown = 0;
        for (const len of LENGTHS[profile])
          for (const value of VALUES) {
            // Each call after a growth: by the pool itself (a new pool on the memory) or by memory.grow.
            if (grown++ % 3 === 0) memory.grow(1);
            else new PacketPool({ count: 40, memory, profile, impl });
            // Frame 3, outside the burst: the single store.
            const expected = viaStore(pool.traits(3), len, value);
            let got: unknown;
            try {
              pool.batchDelete(burst, 5);
              const rc = pool.batchSet(burst, 5, len, value as number),
                read = [0, 1, 2].map((f) => pool.traits(f).get(5));
              if (rc !== 3) throw new Error(`batchSet returned ${rc}`);
              if (read.some((v) => v !== read[0])) throw new Error(`frames differ: ${read.map(String)}`);
              got = read[0];
            } catch (error) {
              got = `${(error as { code?: string }).code}: ${(error as Error).message}`;
            }
            expect(got, `${profile} len ${len} value ${String(value)}`).toEqual(expected);
            // Not only the same as set(): what the value and the length imply, worked out here.
            const fits =
              (typeof value === "number" && Number.isSafeInteger(value) && value >= 0 && value < 2 ** (8 * len)) ||
              (typeof value === "bigint" && value >= 0n && value < 2n ** BigInt(8 * len));
            expect(typeof got !== "string", `${profile} len ${len} value ${String(value)}: ${String(got)}`).toBe(fits);
            if (fits && len > 0) expect(BigInt(got as number), `${profile} len ${len}`).toBe(BigInt(value as number));
          }
      }
    });
});
