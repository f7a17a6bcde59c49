// The RSS hash's table (which annotate's WebAssembly fast path copies) against the bit-by-bit
// Toeplitz reference, and rxHash on the Microsoft RSS verification suite.
import { describe, expect, it } from "vitest";
import * as capture from "../../src/capture.js";
import { RssType, TOEPLITZ_TABLE, rxHash, toeplitz } from "../../src/capture/rss.js";

describe("the Toeplitz table", () => {
  it("holds each byte value's share at each input position, as the bit-by-bit hash computes it", () => {
    for (let p = 0; p < 36; p++) {
      const input = new Uint8Array(p + 1);
      for (let v = 0; v < 256; v++) {
        input[p] = v;
        expect(TOEPLITZ_TABLE[256 * p + v]).toBe(toeplitz(input));
      }
    }
  });

  it("is not part of packet-traits/capture (a caller writing into it would change every later hash)", () => {
    expect(Object.keys(capture)).not.toContain("TOEPLITZ_TABLE");
    expect(Object.keys(capture)).toEqual(expect.arrayContaining(["RSS_DEFAULT_KEY", "RssType", "rxHash", "toeplitz"]));
  });

  it("gives rxHash the hashes of the Microsoft RSS verification suite (IPv4 with TCP, IPv6 with TCP)", () => {
    const ipv4 = new Uint8Array(54);
    ipv4.set([0x08, 0x00], 12);
    ipv4.set([0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6], 14);
    ipv4.set([66, 9, 149, 187, 161, 142, 100, 80, 0x0a, 0xea, 0x06, 0xe6], 26);
    const out = new Uint32Array(4);
    expect(rxHash(ipv4, 0, ipv4.length, 1, out, 0, 2)).toBe(-1);
    expect([out[0], out[2]]).toEqual([0x51ccc178, RssType.L3_IPV4 | RssType.L4 | RssType.L4_TCP]);
    const ipv6 = new Uint8Array(74);
    ipv6.set([0x86, 0xdd, 0x60], 12);
    ipv6[20] = 6;
    ipv6.set([0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x07], 22);
    ipv6.set([0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 0x01], 38);
    ipv6.set([0x0a, 0xea, 0x06, 0xe6], 54);
    expect(rxHash(ipv6, 0, ipv6.length, 1, out, 0, 2)).toBe(-1);
    expect([out[0], out[2]]).toEqual([0x40207d3d, RssType.L3_IPV6 | RssType.L4 | RssType.L4_TCP]);
  });
});
