// Addresses as text: every IPv4 form, and IPv6 against libuv's inet_ntop (Node's
// SocketAddress), which writes what glibc (and so tshark) writes but for one old BSD form.
import { SocketAddress } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_ADDRESS_TEXT, writeIpv4, writeIpv6 } from "../../src/export/address.js";

const text = (write: typeof writeIpv4, bytes: Uint8Array, at = 0): string => {
  const out = new Uint8Array(MAX_ADDRESS_TEXT + 8).fill(0xee),
    end = write(bytes, at, new DataView(out.buffer), 3);
  // Nothing before the text; a word at a time, at most 3 bytes past it.
  expect(out.subarray(0, 3).every((b) => b === 0xee) && out.subarray(end + 3).every((b) => b === 0xee)).toBe(true);
  expect(end - 3).toBeLessThanOrEqual(MAX_ADDRESS_TEXT);
  return Buffer.from(out.subarray(3, end)).toString("latin1");
};

describe("writeIpv4", () => {
  it("writes dotted decimal, at any offset, and nothing before it or more than 3 bytes past it", () => {
    expect(text(writeIpv4, Uint8Array.of(9, 10, 0, 255, 100, 1), 2)).toBe("0.255.100.1");
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (b) => {
        expect(text(writeIpv4, b)).toBe([...b].join("."));
      }),
    );
  });
});

describe("writeIpv6", () => {
  const groups = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
    minLength: 8,
    maxLength: 8,
  });
  const bytesOf = (words: number[]) => Uint8Array.from(words.flatMap((w) => [w >> 8, w & 0xff]));

  it("writes RFC 5952's canonical text, as inet_ntop does (zero runs of every length and place)", () => {
    fc.assert(
      fc.property(groups, (words) => {
        // libuv also writes ::a.b.c.d for ::x (x > 1, seven zero groups); glibc and tshark write ::x.
        fc.pre(!(words.slice(0, 7).every((w) => w === 0) && words[7]! > 1));
        const b = bytesOf(words);
        expect(text(writeIpv6, b)).toBe(new SocketAddress({ address: text(writeIpv6, b), family: "ipv6" }).address);
        expect(new SocketAddress({ address: text(writeIpv6, b), family: "ipv6" }).address).toBe(
          new SocketAddress({ address: words.map((w) => w.toString(16)).join(":"), family: "ipv6" }).address,
        );
      }),
      { numRuns: 5000 },
    );
  });

  it("writes the special forms as tshark shows them", () => {
    const cases: Array<[number[], string]> = [
      [[0, 0, 0, 0, 0, 0, 0, 0], "::"],
      [[0, 0, 0, 0, 0, 0, 0, 1], "::1"],
      [[0, 0, 0, 0, 0, 0, 0, 2], "::2"],
      [[0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304], "::ffff:1.2.3.4"],
      [[0, 0, 0, 0, 0, 0, 0x0102, 0x0304], "::1.2.3.4"],
      [[0, 0, 0, 0, 0xffff, 0, 0x0102, 0x0304], "::ffff:0:102:304"],
      [[0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], "2001:db8::1:0:0:1"],
      [[0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], "2001:db8:0:1:1:1:1:1"],
      [[1, 0, 0, 0, 0, 0, 0, 0], "1::"],
      [[0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff], "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
    ];
    for (const [words, want] of cases) expect(text(writeIpv6, bytesOf(words)), want).toBe(want);
  });
});
