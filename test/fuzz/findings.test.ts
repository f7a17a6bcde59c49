// Findings of the fuzzers, each pinned by the test that failed before its fix (npm run fuzz found
// them; fuzz/model.js no longer excuses them).
import { describe, expect, it } from "vitest";
import { Errno, HardwareKey, KeyRegistry, PacketPool, type TraitStore } from "packet-traits";
import { IMPLS, expectError } from "../helpers.js";

describe.each(IMPLS)("fuzz findings (%s)", (impl) => {
  // Found by: npm run fuzz -- --target pools --seed 8 (op 396: tryGet p1 f1 65538 gave [2, 1939482007, 0]),
  // In profile "flags" a u16 hardware key lives in a
  // 4-byte application key (59 + i); a value above 0xffff there was not written by a driver, as a
  // wrong length is not, and must read as EBADMSG, not as a 32-bit "u16" or a truncated one.
  it("profile flags, placement keys: a u16 hardware key holding a value above 0xffff reads as EBADMSG", () => {
    const pool = new PacketPool({ count: 1, profile: "flags", hardwareKeys: "keys", impl });
    const store = pool.traits(0),
      out = new Uint32Array(2);
    expect(store.trySet(61, 0x56789abc, 0, 4)).toBe(0); // key 61 = VLAN_TCI's place
    expect(store.trySet(62, 0x12340081, 0, 4)).toBe(0); // key 62 = VLAN_PROTO's place
    const got = [store.tryGet(HardwareKey.VLAN_TCI, out), out[0], store.tryGet(HardwareKey.VLAN_PROTO, out), out[0]];
    // Before the fix: [2, 0x56789abc, 2, 0x8100]: VLAN_TCI, a u16, read 0x56789abc; VLAN_PROTO dropped 0x1234.
    expect(got).toEqual([Errno.EBADMSG, got[1], Errno.EBADMSG, got[3]]);
  });

  // Same cause, through a transfer: the plan reads VLAN_TCI as (2 bytes, 0x56789abc), the
  // destination's trySet refuses it (EINVAL), and applyHardware ignores the error: the transfer
  // succeeds, key 61 leaves the store, and the destination has no VLAN_TCI.
  it("transfer from flags/keys to flags/struct carries VLAN_TCI faithfully or fails changing nothing", () => {
    const src = new PacketPool({ count: 1, profile: "flags", hardwareKeys: "keys", impl });
    const dst = new PacketPool({ count: 1, profile: "flags", hardwareKeys: "struct", impl });
    src.traits(0).trySet(61, 0x56789abc, 0, 4);
    const before = [src.frameBytes(0).slice(), dst.frameBytes(0).slice()];
    // Before the fix: no error, and the destination had no VLAN_TCI. A u16 above 0xffff is not a
    // VLAN TCI a driver wrote: the transfer is refused, naming the key and the value, changing nothing.
    expectError(
      () => src.transfer(0, 0, dst),
      "EBADMSG",
      /application key 61, where placement "keys" keeps vlan_tci, holds 0x56789abc, over a u16's 0xffff/,
    );
    expect([src.frameBytes(0), dst.frameBytes(0)]).toEqual(before);
  });

  // Found while writing the pools model (strict registries with placement "keys"; transfers into
  // strict pools): the README says a strict store or pool refuses unregistered keys (EPERM) and other
  // sizes (EINVAL), but hardware keys under placement "keys" write application keys 59..63 without
  // asking the registry, and copyTraits/transfer copy bytes without asking it. Whatever the fix
  // (refuse the registry or the placement, check the keys, or fail the call), a strict pool must
  // never end up holding a key its registry does not allow.
  /** Throws unless every key a strict store holds is registered with the length it holds. */
  function allowed(store: TraitStore): void {
    for (const key of store.keys())
      expect([key, store.getBytes(key)!.length]).toEqual([key, store.registry!.sizeOfKey(key)]);
  }

  it("a strict pool with placement keys never writes a hardware key into an application key registered otherwise", () => {
    const registry = new KeyRegistry();
    registry.register("flow_id", 8, { key: 61 }); // VLAN_TCI's place under placement "keys"
    const pool = new PacketPool({ count: 1, registry, hardwareKeys: "keys", impl });
    // Before the fix: key 61 (flow_id, 8 bytes) held the 2-byte VLAN TCI. The set is refused, saying why.
    expectError(
      () => pool.traits(0).set(HardwareKey.VLAN_TCI, 0x123, 2),
      "EINVAL",
      /^EINVAL: set vlan_tci \(placement "keys" keeps it in application key 61\): key 61 \(flow_id\): registered with size 8, not 2$/,
    );
    expect(pool.traits(0).trySet(HardwareKey.VLAN_TCI, 0x123, 0, 2)).toBe(Errno.EINVAL);
    expect(pool.traits(0).keys()).toEqual([]);
    allowed(pool.traits(0));
  });

  it("copyTraits and transfer into a strict pool never bring keys its registry does not allow", () => {
    const loose = new PacketPool({ count: 1, impl }),
      strict = new PacketPool({ count: 2, registry: new KeyRegistry(), impl });
    loose.traits(0).set(3, 7, 4);
    expectError(() => loose.copyTraits(0, 0, strict), "EPERM", /key 3 is not registered, and the pool is strict/);
    expectError(() => loose.transfer(0, 1, strict), "EPERM", /key 3 is not registered, and the pool is strict/);
    allowed(strict.traits(0)); // before the fix: key 3, unregistered, was in both frames
    allowed(strict.traits(1));
  });
});
