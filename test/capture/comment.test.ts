// Our comment as StoreShow writes it from a store's bytes (the JS path; the WebAssembly fast path is
// compared with it byte for byte in standard.test.ts): every value notation, the edges of u64
// decimal, flags, vlan_proto in network order, keys without a name, and the check (zlib's CRC-32).
import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { StoreShow } from "../../dist/capture/epb.js";
import { createStore } from "../../dist/index.js";

/** The comment StoreShow writes for `store` under `names`. */
function comment(store: ReturnType<typeof createStore>, names: Array<{ name: string; key: number; size: number }>) {
  const bytes = new Uint8Array(8192),
    view = new DataView(bytes.buffer);
  bytes.set(store.bytes().subarray(0, store.size), 0);
  const show = new StoreShow(store.profile, names, bytes, view);
  const end = show.comment(0, 1024);
  return Buffer.from(bytes.subarray(1024, end)).toString();
}

describe("our comment", () => {
  it.each([
    0n,
    1n,
    9n,
    10n,
    2n ** 32n - 1n,
    2n ** 32n,
    2n ** 53n - 1n,
    2n ** 53n,
    10n ** 18n,
    10n ** 19n,
    2n ** 64n - 1n,
  ])("writes the u64 %s in decimal, checked with zlib's CRC-32", (value) => {
    const store = createStore(64);
    store.set(0, value, 8);
    const text = comment(store, [{ name: "packet_id", key: 0, size: 8 }]),
      body = `traits: packet_id=${value}`;
    expect(text).toBe(`${body} crc32:${crc32(body).toString(16).padStart(8, "0")}`);
    store.free();
  });

  it("writes 2- and 4-byte values in 0x-hex, vlan_proto in network order, unnamed keys by number, flags by name", () => {
    const store = createStore(64);
    store.set(3, 0xabc, 2).set(7, 0, 4).set(59, 0xdeadbeef, 4).set(62, 0x0081, 2);
    const names = [
      { name: "tenant", key: 3, size: 2 },
      { name: "vlan_proto", key: 62, size: 2 },
    ];
    expect(comment(store, names)).toMatch(
      /^traits: tenant=0xabc 7=0x0 59=0xdeadbeef vlan_proto=0x8100 crc32:[0-9a-f]{8}$/,
    );
    const flags = createStore(64, { profile: "flags" });
    flags.setFlag(5).set(6, 1n, 8);
    expect(comment(flags, [{ name: "seen", key: 5, size: 0 }])).toMatch(/^traits: seen 6=1 crc32:/);
    store.free();
    flags.free();
  });
});
