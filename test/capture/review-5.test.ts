// Review of capture-perf-3 (issue 23): the packet options the reader records during its check of a
// block's options (CaptureBuffer.traitsAt, queueAt, packetIdAt, verdictAt, hashAt), which readCapture's
// getters and pcap export now read instead of walking the options again. Captures made byte by byte
// (either byte order, several sections, EPB, OPB and SPB packets, other blocks between them) whose
// packets carry any mix of the options: well formed or near misses (a wrong length, another verdict
// type or hash algorithm, another PEN, our PEN under another code), repeated, unknown codes, odd
// lengths, with or without opt_endofopt; against what the test's own walk of the options finds (the
// first well-formed option of each kind), read from bytes, from chunks cut anywhere and from a file
// (records across the reader's 1 MiB reads), and exported.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readCapture, type CaptureSource } from "../../dist/capture.js";
import { exportCapture } from "../../dist/parquet.js";
import { duckdbMissing, literal, query, storeBytes } from "../export/helpers.js";
import { needs, tempDir } from "./helpers.js";

const dir = tempDir();
const PEN = 32473,
  TRAITS = 2989;

const u16 = (x: number, le: boolean): Buffer => {
  const b = Buffer.alloc(2);
  if (le) b.writeUInt16LE(x);
  else b.writeUInt16BE(x);
  return b;
};
const u32 = (x: number, le: boolean): Buffer => {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(x >>> 0);
  else b.writeUInt32BE(x >>> 0);
  return b;
};
const u64 = (x: bigint, le: boolean): Buffer => {
  const b = Buffer.alloc(8);
  if (le) b.writeBigUInt64LE(x);
  else b.writeBigUInt64BE(x);
  return b;
};
const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
const block = (type: number, body: Buffer, le: boolean): Buffer =>
  Buffer.concat([u32(type, le), u32(12 + body.length, le), body, u32(12 + body.length, le)]);

/** An option as the model describes it: its code and value bytes (in the section's byte order). */
type Opt = { code: number; value: Buffer };
/** What a packet's options give: the first well-formed option of each kind. */
type Found = { queue?: number; packetId?: bigint; verdict?: bigint; hash?: number; traits?: string };

/** One option of the packet (its value made in byte order `le`), well formed or a near miss. */
function makeOption(kind: number, n: number, le: boolean): Opt {
  const small = n % 7;
  switch (kind) {
    case 0: // epb_queue
      return { code: 6, value: u32(n, le) };
    case 1: // epb_queue of the wrong length
      return { code: 6, value: small & 1 ? u64(BigInt(n), le) : u16(n & 0xffff, le) };
    case 2: // epb_packetid
      return { code: 5, value: u64(BigInt(n) * 0x100000001n, le) };
    case 3: // epb_packetid of the wrong length
      return { code: 5, value: u32(n, le) };
    case 4: // epb_verdict of type eBPF XDP (an XDP action: a u32 in the u64)
      return { code: 7, value: Buffer.concat([Buffer.from([2]), u64(BigInt(small), le)]) };
    case 5: // epb_verdict of another type (hardware: 4 bytes; tc: a u64), or type XDP but 4 bytes
      return {
        code: 7,
        value: Buffer.concat([
          Buffer.from([small % 3 === 0 ? 0 : small % 3 === 1 ? 1 : 2]),
          small % 3 === 1 ? u64(BigInt(n), le) : u32(n, le),
        ]),
      };
    case 6: // epb_hash of the Toeplitz algorithm
      return { code: 3, value: Buffer.concat([Buffer.from([5]), u32(n, le)]) };
    case 7: // epb_hash of another algorithm, or Toeplitz with 8 bytes
      return {
        code: 3,
        value:
          small & 1 ? Buffer.concat([Buffer.from([2]), u32(n, le)]) : Buffer.concat([Buffer.from([5]), u64(1n, le)]),
      };
    case 8: // our traits option: a store with key 3 (4 bytes) and, at times, a second key (its length varies the padding)
      return {
        code: TRAITS,
        value: Buffer.concat([
          u32(PEN, le),
          Buffer.from(
            storeBytes(
              "v1",
              small & 1
                ? [[3, n, 4]]
                : [
                    [3, n, 4],
                    [9, n & 0xffff, 2],
                  ],
            ).subarray(0, 16 + (small & 1 ? 4 : 6)),
          ),
        ]),
      };
    case 9: // a traits option under another PEN, our PEN under another custom code, a traits option too short for a PEN
      return small % 3 === 0
        ? { code: TRAITS, value: Buffer.concat([u32(PEN + 1, le), Buffer.alloc(20, 0xee)]) }
        : small % 3 === 1
          ? { code: 19373, value: Buffer.concat([u32(PEN, le), Buffer.alloc(20, 0xee)]) }
          : { code: TRAITS, value: Buffer.from([0x7e, 0x7e]) };
    case 10: // a comment of odd length
      return { code: 1, value: Buffer.from("x".repeat(1 + small)) };
    default: // an unknown code, 0 to 13 bytes
      return { code: 0x7000 + (n % 256), value: Buffer.alloc(n % 14, 0xab) };
  }
}

/** The model: the first well-formed option of each kind, as readCapture reads it (and as tshark shows the single ones). */
function found(opts: Opt[], le: boolean): Found {
  const f: Found = {};
  for (const { code, value } of opts) {
    const n = value.length;
    if (code === 6 && n === 4) f.queue ??= le ? value.readUInt32LE(0) : value.readUInt32BE(0);
    else if (code === 5 && n === 8) f.packetId ??= le ? value.readBigUInt64LE(0) : value.readBigUInt64BE(0);
    else if (code === 7 && n === 9 && value[0] === 2)
      f.verdict ??= le ? value.readBigUInt64LE(1) : value.readBigUInt64BE(1);
    else if (code === 3 && n === 5 && value[0] === 5) f.hash ??= le ? value.readUInt32LE(1) : value.readUInt32BE(1);
    else if (code === TRAITS && n >= 4 && (le ? value.readUInt32LE(0) : value.readUInt32BE(0)) === PEN)
      f.traits ??= value.subarray(4).toString("hex");
  }
  return f;
}

/** A packet's options block: each option, then opt_endofopt (unless `open`). */
const optionBytes = (opts: Opt[], le: boolean, open: boolean): Buffer =>
  opts.length === 0
    ? Buffer.alloc(0)
    : Buffer.concat([
        ...opts.map((o) => Buffer.concat([u16(o.code, le), u16(o.value.length, le), pad(o.value)])),
        open ? Buffer.alloc(0) : u32(0, le),
      ]);

type Packet = { kind: "epb" | "opb" | "spb" | "isb"; size: number; opts: { kind: number; n: number }[]; open: boolean };
type Section = { le: boolean; packets: Packet[] };

/** The capture's bytes and, per packet (SPB, EPB, OPB), what its options give. */
function capture(sections: Section[]): { bytes: Buffer; expected: Found[] } {
  const parts: Buffer[] = [],
    expected: Found[] = [];
  let index = 0;
  for (const { le, packets } of sections) {
    // SHB (an option coded 6 of 4 bytes: a section's options must not count as a packet's), IDB (if_MACaddr, code 6).
    parts.push(
      block(
        0x0a0d0d0a,
        Buffer.concat([
          u32(0x1a2b3c4d, le),
          u16(1, le),
          u16(0, le),
          u64(0xffffffffffffffffn, le),
          optionBytes([{ code: 6, value: u32(99, le) }], le, false),
        ]),
        le,
      ),
      block(
        1,
        Buffer.concat([
          u16(1, le),
          u16(0, le),
          u32(0, le),
          optionBytes(
            [
              { code: 6, value: Buffer.alloc(6, 1) },
              { code: 7, value: Buffer.alloc(8, 2) },
            ],
            le,
            false,
          ),
        ]),
        le,
      ),
    );
    for (const p of packets) {
      const data = Buffer.alloc(p.size, index & 0xff);
      if (p.kind === "isb") {
        // An interface statistics block between packets (isb_filteraccept and isb_osdrop are codes 6 and 7).
        parts.push(
          block(
            5,
            Buffer.concat([
              u32(0, le),
              u32(0, le),
              u32(0, le),
              optionBytes(
                [
                  { code: 6, value: u64(7n, le) },
                  { code: 7, value: u64(8n, le) },
                ],
                le,
                false,
              ),
            ]),
            le,
          ),
        );
        continue;
      }
      index++;
      if (p.kind === "spb") {
        parts.push(block(3, Buffer.concat([u32(p.size, le), pad(data)]), le));
        expected.push({});
        continue;
      }
      const opts = p.opts.map((o) => makeOption(o.kind, o.n, le));
      expected.push(found(opts, le));
      const head = p.kind === "epb" ? u32(0, le) : Buffer.concat([u16(0, le), u16(0xffff, le)]); // interface (and OPB drop count)
      parts.push(
        block(
          p.kind === "epb" ? 6 : 2,
          Buffer.concat([
            head,
            u32(0, le),
            u32(index, le),
            u32(p.size, le),
            u32(p.size, le),
            pad(data),
            optionBytes(opts, le, p.open),
          ]),
          le,
        ),
      );
    }
  }
  return { bytes: Buffer.concat(parts), expected };
}

/** What readCapture gives of each packet's options (an error as its message). */
async function readOptions(source: CaptureSource, batched: boolean): Promise<unknown[]> {
  const out: unknown[] = [];
  const one = (p: {
    queue: number | undefined;
    packetId: bigint | undefined;
    xdpVerdict: number | undefined;
    rssHash: number | undefined;
    traits: { toBytes(): Uint8Array } | undefined;
  }) => {
    const f: Found = {};
    if (p.queue !== undefined) f.queue = p.queue;
    if (p.packetId !== undefined) f.packetId = p.packetId;
    if (p.xdpVerdict !== undefined) f.verdict = BigInt(p.xdpVerdict);
    if (p.rssHash !== undefined) f.hash = p.rssHash;
    const traits = p.traits;
    if (traits) f.traits = Buffer.from(traits.toBytes()).toString("hex");
    out.push(f);
  };
  try {
    const stream = readCapture(source);
    if (batched) {
      for await (const batch of stream.batches()) for (const p of batch) one(p);
    } else for await (const p of stream) one(p);
  } catch (error) {
    out.push(`error ${(error as Error).message}`);
  }
  return out;
}

/** `bytes` in chunks cut at the given sizes (cycled). */
function* chunks(bytes: Buffer, cuts: number[]): Generator<Uint8Array> {
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = cuts[i % cuts.length]!;
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

const packetArb = fc.record({
  kind: fc.constantFrom<Packet["kind"]>("epb", "epb", "epb", "opb", "spb", "isb"),
  size: fc.integer({ min: 0, max: 70 }),
  opts: fc.array(fc.record({ kind: fc.integer({ min: 0, max: 11 }), n: fc.nat() }), { maxLength: 8 }),
  open: fc.boolean(),
});
const sectionsArb = fc.array(fc.record({ le: fc.boolean(), packets: fc.array(packetArb, { maxLength: 12 }) }), {
  minLength: 1,
  maxLength: 3,
});

const duck = needs(query !== undefined, `DuckDB cannot load here (${duckdbMissing}): npm ci installs @duckdb/node-api`);

describe("review-5: the packet options the reader records", () => {
  // Holds on the branch. Catches: an option position kept from the packet before (a packet without
  // queue, verdict or hash after one with them; an SPB or OPB after an EPB), a section's or interface's
  // or statistics block's option taken for a packet's, the last option of a kind taken for the first, a
  // near miss taken for the option, a position off by the PEN or the type octet, positions recorded
  // before the reader's buffer moves (chunks cut anywhere).
  it("are the first well-formed option of each kind, whatever the options around them and the blocks before", async () => {
    await fc.assert(
      fc.asyncProperty(
        sectionsArb,
        fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        async (sections, cuts, batched) => {
          const { bytes, expected } = capture(sections);
          expect(await readOptions(new Uint8Array(bytes), batched)).toEqual(expected);
          expect(await readOptions(chunks(bytes, cuts), !batched)).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("from a file whose records cross the reader's reads, as from its bytes", async () => {
    // 40,000 packets of every kind (about 5 MB): records end at every offset of a 1 MiB read.
    let seed = 12345;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const packets: Packet[] = Array.from({ length: 40_000 }, () => ({
      kind: (["epb", "epb", "epb", "opb", "spb", "isb"] as const)[random(6)]!,
      size: random(160),
      opts: Array.from({ length: random(6) }, () => ({ kind: random(12), n: random(2 ** 30) })),
      open: random(2) === 0,
    }));
    const { bytes, expected } = capture([
      { le: true, packets: packets.slice(0, 30_000) },
      { le: false, packets: packets.slice(30_000) },
    ]);
    const path = join(dir, "options.pcapng");
    writeFileSync(path, bytes);
    for (const batched of [false, true]) expect(await readOptions(path, batched)).toEqual(expected);
  });

  it.runIf(duck)("are what pcap export writes: queue, xdp_verdict and the traits option's key", async () => {
    await fc.assert(
      fc.asyncProperty(sectionsArb, async (sections) => {
        // Export refuses what is not an XDP action, and columns of the store's keys: sections in one order, verdicts small.
        const { bytes, expected } = capture(sections);
        if (expected.length === 0) return;
        const input = join(dir, "export.pcapng"),
          out = join(dir, "export.parquet");
        writeFileSync(input, bytes);
        exportCapture(input, out);
        const rows = await query!(`SELECT * FROM ${literal(out)}`);
        expect(
          rows.map((r) => [r.queue ?? null, r.xdp_verdict ?? null, (r.key_3 as number | undefined) ?? null]),
        ).toEqual(
          expected.map((f) => [
            f.queue ?? null,
            f.verdict === undefined ? null : Number(f.verdict),
            f.traits === undefined ? null : Buffer.from(f.traits, "hex").readUInt32LE(16),
          ]),
        );
      }),
      { numRuns: 20 },
    );
  });
});
