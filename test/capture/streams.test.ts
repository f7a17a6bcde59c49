// The stream API of packet-traits/capture in Node: readCapture() over every kind of source, packet by
// packet and in batches, against `pcap show`; annotate() (web TransformStream) and annotateTransform()
// (Node Transform) byte for byte against `pcap annotate` with the same options; PcapngWriter read back
// by readCapture and by tshark alone; errors that name the byte offset.
import { spawnSync } from "node:child_process";
import {
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  writeFileSync,
} from "node:fs";
import { Readable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  PcapngWriter,
  annotate,
  annotateTransform,
  readCapture,
  type CapturePacket,
  type CaptureStream,
  type CaptureSource,
} from "../../dist/capture.js";
import { KeyRegistry, createStore } from "../../dist/index.js";
import { SAMPLE, cli, installed, needs, pcap, showJson, tempDir, udp } from "./helpers.js";

const dir = tempDir();

/** What a test compares of a packet (read while it is current). */
const summary = (p: CapturePacket) => ({
  index: p.index,
  interfaceId: p.interfaceId,
  linkType: p.linkType,
  timestamp: p.timestamp,
  capturedLength: p.capturedLength,
  originalLength: p.originalLength,
  data: Buffer.from(p.data).toString("hex"),
  traits: p.traits
    ?.keys()
    .map((k) => [p.names.get(k) ?? String(k), Buffer.from(p.traits!.getBytes(k)!).toString("hex")]),
  packetId: p.packetId,
  rssHash: p.rssHash,
  comments: p.comments,
});

async function collect(source: CaptureSource) {
  const out = [];
  for await (const p of readCapture(source)) out.push(summary(p));
  return out;
}

/** Reads a web stream or Node Readable to its end, as one Buffer. */
async function drain(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) parts.push(chunk);
  return Buffer.concat(parts);
}

/** A web stream of `bytes` in chunks of `size` bytes (records cut anywhere). */
const chunked = (bytes: Uint8Array, size: number) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < bytes.length; at += size) controller.enqueue(bytes.slice(at, at + size));
      controller.close();
    },
  });

describe("readCapture", () => {
  const annotated = join(dir, "annotated.pcapng");
  const big = join(dir, "big.pcap");
  writeFileSync(big, pcap(Array.from({ length: 30_000 }, (_, i) => udp(i, 60 + (i % 1400)))));

  it("yields every packet of a file, bytes, a Node Readable, a web stream (any chunking) and a Blob, as pcap show reads them", async () => {
    expect(cli(["pcap", "annotate", SAMPLE, annotated]).code).toBe(0);
    const bytes = readFileSync(annotated);
    const fromFile = await collect(annotated);
    expect(fromFile).toHaveLength(5);
    const shown = showJson(annotated);
    fromFile.forEach((p, i) => {
      expect(p.traits).toEqual(shown[i]!.entries!.map((e) => [e.name, e.hex]));
      expect(p.packetId).toBe(BigInt(i));
      expect(p.timestamp).toBe(1_700_000_000_000_000_000n + BigInt(i) * 1_234_567n);
    });
    expect(fromFile[0]!.comments[0]).toMatch(/^traits: packet_id=0 rx_hash=0x51ccc178 /);
    expect(fromFile[0]!.rssHash).toBe(0x51ccc178);
    expect(fromFile[4]!.rssHash).toBeUndefined(); // ARP: no hash
    for (const source of [
      bytes,
      createReadStream(annotated),
      Readable.from([bytes.subarray(0, 7), bytes.subarray(7)]),
      chunked(bytes, 1),
      chunked(bytes, 33),
      new Blob([bytes]),
    ])
      expect(await collect(source)).toEqual(fromFile);
    // A classic pcap: no traits, data as written.
    const plain = await collect(SAMPLE);
    expect(plain.map((p) => [p.traits, p.capturedLength])).toEqual(fromFile.map((p) => [undefined, p.capturedLength]));
    expect(plain.map((p) => p.data)).toEqual(fromFile.map((p) => p.data));
  });

  it("reuses one packet object (views valid until the next packet); batches() yields the same packets", async () => {
    const seen = new Set<CapturePacket>();
    let n = 0;
    for await (const p of readCapture(createReadStream(big, { highWaterMark: 65536 }))) {
      seen.add(p);
      expect(p.index).toBe(n++);
    }
    expect([seen.size, n]).toEqual([1, 30_000]);
    const lengths: number[] = [];
    let batches = 0;
    for await (const batch of readCapture(createReadStream(big)).batches()) {
      batches++;
      for (const p of batch) lengths.push(p.capturedLength);
    }
    expect(lengths).toEqual(Array.from({ length: 30_000 }, (_, i) => 60 + (i % 1400)));
    expect(batches).toBeGreaterThan(1);
    // A batch left early goes on where it stopped.
    const firsts: number[] = [];
    for await (const batch of readCapture(big).batches()) {
      for (const p of batch) {
        firsts.push(p.index);
        if (firsts.length % 3 === 0) break;
      }
      if (firsts.length >= 9) break;
    }
    expect(firsts).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("rejects a malformed capture naming the byte offset and the packet before it, and a path it cannot read naming the path", async () => {
    const bytes = readFileSync(annotated);
    const cut = bytes.subarray(0, bytes.length - 10);
    await expect(collect(cut)).rejects.toThrow(/^EBADMSG: byte offset \d+: .* \(after packet 3\)$/);
    const bad = Buffer.from(bytes);
    bad.writeUInt32LE(13, bytes.readUInt32LE(4) + 4); // the IDB's length
    await expect(collect(bad)).rejects.toThrow(/EBADMSG: byte offset \d+: /);
    // A path that cannot be read: the errno and the path, as the command line says it (was Node's raw text).
    const nope = join(dir, "nope.pcap");
    await expect(collect(nope)).rejects.toThrow(`ENOENT: cannot read ${nope}: no such file or directory`);
    await expect(collect(dir)).rejects.toThrow(`EISDIR: cannot read ${dir}: illegal operation on a directory`);
  });

  it("throws EINVAL for a source that is not one, and rejects with EINVAL a chunk that is not bytes", async () => {
    for (const source of [null, undefined, 42, {}, readFileSync(SAMPLE).buffer])
      expect(() => readCapture(source as unknown as CaptureSource)).toThrow(
        /^EINVAL: readCapture: the source must be a path, bytes .*, not \[object (Null|Undefined|Number|Object|ArrayBuffer)\]$/,
      );
    const text = createReadStream(SAMPLE, "latin1");
    await expect(collect(text)).rejects.toThrow(
      /^EINVAL: readCapture: the source gave a chunk that is \[object String\], not bytes/,
    );
    expect(text.destroyed).toBe(true);
  });

  // Descriptors close asynchronously: counted once earlier tests' have settled, and again after ours.
  const openFiles = async () => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    return readdirSync("/proc/self/fd").length;
  };

  it("releases its source when the capture is malformed and when left early: a file closed, a Readable destroyed, a web stream cancelled", async () => {
    const good = readFileSync(SAMPLE),
      bad = join(dir, "bad-tail.pcap");
    writeFileSync(bad, Buffer.concat([good, Buffer.alloc(200_000, 0xff)]));
    const before = await openFiles();
    for (let i = 0; i < 3; i++) {
      await expect(collect(bad)).rejects.toThrow(/^EBADMSG: byte offset 378: /);
      await expect(
        (async () => {
          for await (const batch of readCapture(bad).batches()) for (const _ of batch);
        })(),
      ).rejects.toThrow(/^EBADMSG: byte offset 378: /);
    }
    expect(await openFiles()).toBeLessThanOrEqual(before);
    const malformed = Readable.from([Buffer.alloc(64, 9), good]);
    await expect(collect(malformed)).rejects.toThrow(/^EBADMSG: byte offset 0: /);
    expect(malformed.destroyed).toBe(true);
    const cancelled: string[] = [];
    const web = (name: string, first: Uint8Array) =>
      new ReadableStream<Uint8Array>({
        start: (controller) => controller.enqueue(first),
        pull: (controller) => controller.enqueue(good.subarray(24)),
        cancel: () => void cancelled.push(name),
      });
    await expect(collect(web("malformed", new Uint8Array(64).fill(9)))).rejects.toThrow(/EBADMSG/);
    for await (const _ of readCapture(web("break", good))) break;
    for await (const batch of readCapture(web("break in batches", good)).batches()) if ([...batch].length > 0) break;
    expect(cancelled).toEqual(["malformed", "break", "break in batches"]);
  });

  it("reads a file ahead into its buffer and yields the same packets as from its bytes, records across every read", async () => {
    // 23 MB of records of 60 to 1459 bytes: reads ahead end mid-record, and the buffer's tail moves to its front.
    const digest = async (source: CaptureSource) => {
      let sum = 0,
        n = 0;
      for await (const batch of readCapture(source).batches())
        for (const p of batch) {
          const { data } = p;
          sum = (sum * 31 + p.index + data.length + data[0]! + data[data.length >> 1]! + data[data.length - 1]!) >>> 0;
          n++;
        }
      return [n, sum];
    };
    expect(await digest(big)).toEqual(await digest(readFileSync(big)));
    expect((await digest(big))[0]).toBe(30_000);
  });

  it("closes a file read a chunk ahead at its end and when left early, with a read in flight or not", async () => {
    const before = await openFiles();
    // The streams are kept, so that no descriptor is closed by the collection of its FileHandle.
    const kept: CaptureStream[] = [],
      read = (path: string) => kept[kept.push(readCapture(path)) - 1]!;
    for (let i = 0; i < 3; i++) {
      let n = 0;
      for await (const _ of read(big)) n++;
      expect(n).toBe(30_000);
      for await (const _ of read(big)) break;
      n = 0;
      for await (const _ of read(big)) if (++n === 10_000 + i) break; // past the first chunk
      for await (const batch of read(big).batches()) {
        for (const _ of batch);
        break;
      }
    }
    expect(await openFiles()).toBeLessThanOrEqual(before);
    expect(kept).toHaveLength(12);
  });
});

describe("annotate streams", () => {
  const input = join(dir, "in.pcap"),
    keys = join(dir, "keys.json");
  writeFileSync(input, pcap(Array.from({ length: 20_000 }, (_, i) => udp(i * 7919, 60 + ((i * 677) % 1500)))));
  writeFileSync(keys, JSON.stringify({ version: 1, profile: "v1", keys: { tenant: { key: 4, size: 2 } } }));
  const cases: Array<[string[], Parameters<typeof annotate>[0]]> = [
    [[], {}],
    [["--no-comment"], { comment: false }],
    [
      ["--registry", keys, "--set", "tenant=0x2a", "-c", "777"],
      { registry: KeyRegistry.load(keys), set: { tenant: 0x2a }, count: 777 },
    ],
  ];

  it.each(cases)(
    "write the bytes pcap annotate %j writes: web TransformStream, Node Transform, both in pipeline()",
    async (args, settings) => {
      const expected = join(dir, "cli.pcapng");
      expect(cli(["pcap", "annotate", input, expected, ...args]).code).toBe(0);
      const want = readFileSync(expected);
      const web = await drain(chunked(readFileSync(input), 100_003).pipeThrough(annotate(settings)));
      expect(web.equals(want)).toBe(true);
      for (const transform of [annotateTransform(settings), annotate(settings)]) {
        const out = join(dir, "stream.pcapng");
        // Node's pipeline() takes a web TransformStream too (its types say otherwise in @types/node 20).
        await pipeline(createReadStream(input), transform as Transform, createWriteStream(out));
        expect(readFileSync(out).equals(want)).toBe(true);
      }
    },
  );

  it("errors with EBADMSG and the byte offset for a malformed capture; bad settings throw at once", async () => {
    const bytes = readFileSync(input).subarray(0, 5000);
    await expect(drain(chunked(bytes, 4096).pipeThrough(annotate()))).rejects.toThrow(/^EBADMSG: byte offset \d+: /);
    await expect(
      pipeline(Readable.from([bytes]), annotateTransform(), createWriteStream(join(dir, "x.pcapng"))),
    ).rejects.toThrow(/^EBADMSG: byte offset \d+: /);
    expect(() => annotate({ set: { nope: 1 } })).toThrow(/ENOENT: set nope=1: nope is not in the registry/);
    expect(() => annotate({ registry: KeyRegistry.load(keys), set: { tenant: 70000 } })).toThrow(
      /does not fit tenant's 2 bytes/,
    );
  });
});

describe("PcapngWriter", () => {
  it("writes sections, interfaces and packets with traits, standard options and the caller's options; readCapture and tshark read them", async () => {
    const registry = new KeyRegistry();
    registry.register("packet_id", 8);
    registry.register("rx_queue", 4);
    const chunks: Uint8Array[] = [];
    const writer = new PcapngWriter((chunk) => chunks.push(chunk), { names: registry });
    writer.section([{ code: 4, value: "my tool" }]);
    const eth = writer.interface({ options: [{ code: 2, value: "eth0" }] });
    for (let i = 0; i < 3; i++) {
      const store = createStore(64);
      store.set(registry.lookup("packet_id")!.key, BigInt(100 + i), 8);
      store.set(registry.lookup("rx_queue")!.key, i, 4);
      store.set(59, 0xabcd0000 + i, 4); // rx_hash
      writer.packet({
        interfaceId: eth,
        timestamp: 1_700_000_000_123_456_789n + BigInt(i),
        data: udp(i),
        traits: store,
        xdpVerdict: 2,
        options: [{ code: 1, value: `note ${i}` }],
      });
      store.free();
    }
    writer.packet({ data: udp(9) }); // no traits
    writer.close();
    const file = join(dir, "written.pcapng");
    writeFileSync(file, Buffer.concat(chunks));
    const read = await collect(file);
    expect(read.map((p) => [p.packetId, p.rssHash, p.timestamp, p.comments])).toEqual([
      [
        100n,
        0xabcd0000,
        1_700_000_000_123_456_789n,
        ["note 0", expect.stringMatching(/^traits: packet_id=100 rx_queue=0x0 rx_hash=0xabcd0000 crc32:/)],
      ],
      [101n, 0xabcd0001, 1_700_000_000_123_456_790n, ["note 1", expect.stringMatching(/^traits: packet_id=101 /)]],
      [102n, 0xabcd0002, 1_700_000_000_123_456_791n, ["note 2", expect.stringMatching(/^traits: packet_id=102 /)]],
      [undefined, undefined, 0n, []],
    ]);
    expect(read[2]!.traits).toEqual([
      ["packet_id", "6600000000000000"],
      ["rx_queue", "02000000"],
      ["rx_hash", "0200cdab"],
    ]);
    if (!needs(installed("tshark"), "tshark is not installed (apt-get install tshark)")) return;
    const r = spawnSync(
      "tshark",
      [
        "-r",
        file,
        "-Y",
        "frame.verdict.ebpf_xdp == 2",
        "-T",
        "fields",
        "-e",
        "frame.packet_id",
        "-e",
        "frame.interface_queue",
        "-e",
        "frame.interface_name",
        "-e",
        "frame.time_epoch",
      ],
      { encoding: "utf8" },
    );
    expect(r.stdout.trim().split("\n")).toEqual([
      "100\t0\teth0\t1700000000.123456789",
      "101\t1\teth0\t1700000000.123456790",
      "102\t2\teth0\t1700000000.123456791",
    ]);
  });

  it("toFile() writes a temporary file renamed into place by close(); abort() leaves the path as it was", async () => {
    const file = join(dir, "to-file.pcapng");
    writeFileSync(file, "old");
    const writer = PcapngWriter.toFile(file);
    writer.interface();
    writer.packet({ data: udp(1), timestamp: 5n });
    writer.flush();
    expect(readFileSync(file, "utf8")).toBe("old");
    writer.abort();
    expect(readFileSync(file, "utf8")).toBe("old");
    const again = PcapngWriter.toFile(file);
    again.interface();
    again.packet({ data: udp(1), timestamp: 5n });
    again.close();
    expect((await collect(file)).map((p) => p.timestamp)).toEqual([5n]);
    expect(() => PcapngWriter.toFile(join(dir, "no", "such", "dir.pcapng"))).toThrow(/ENOENT: cannot write/);
    expect(existsSync(join(dir, "no"))).toBe(false);
    expect(() => new PcapngWriter(() => {}).packet({ data: udp(1) })).toThrow(/EINVAL: interface 0 is not described/);
  });

  it("rejects fields that do not fit theirs and store bytes with a corrupt header (EINVAL, EBADMSG), writing nothing; store bytes are written up to their size in use", async () => {
    const chunks: Uint8Array[] = [];
    const writer = new PcapngWriter((chunk) => chunks.push(chunk));
    expect(() => writer.interface({ linkType: 70_000 })).toThrow(
      /^EINVAL: linkType must be an integer from 0 to 65535, not 70000$/,
    );
    expect(() => writer.interface({ snapLength: -1 })).toThrow(/^EINVAL: snapLength must be/);
    writer.interface();
    const data = udp(1);
    expect(() => writer.packet({ data, queue: 2 ** 33 })).toThrow(
      /^EINVAL: queue must be an integer from 0 to 4294967295, not 8589934592$/,
    );
    expect(() => writer.packet({ data, xdpVerdict: 1.5 })).toThrow(/^EINVAL: xdpVerdict must be/);
    expect(() => writer.packet({ data, originalLength: -5 })).toThrow(/^EINVAL: originalLength must be/);
    expect(() => writer.packet({ data: "abc" as unknown as Uint8Array })).toThrow(
      /^EINVAL: data must be a Uint8Array, not \[object String\]$/,
    );
    expect(() => writer.packet({ data, traits: new Uint8Array(16).fill(0xff) })).toThrow(
      /^EBADMSG: .*declares 528 bytes but the capacity is 16/,
    );
    const store = createStore(64);
    store.set(59, 0x1234, 4); // rx_hash
    const bytes = new Uint8Array(100_000); // more than an option can hold: only its 20 bytes in use are written
    bytes.set(store.bytes().subarray(0, store.size));
    store.free();
    writer.packet({ data, traits: bytes, queue: 3 });
    writer.close();
    const file = join(dir, "checked.pcapng");
    writeFileSync(file, Buffer.concat(chunks));
    const read = [];
    for await (const p of readCapture(file)) read.push([p.queue, p.rssHash, p.traits?.size, p.originalLength]);
    expect(read).toEqual([[3, 0x1234, 20, data.length]]);
  });

  it("after close() or abort(): close and abort do nothing (nor close a descriptor opened since), every write throws EINVAL", async () => {
    const file = join(dir, "closed.pcapng");
    const writer = PcapngWriter.toFile(file);
    writer.interface();
    writer.packet({ data: udp(1) });
    writer.close();
    // The descriptor the writer had is free: the next open takes it; a second close() must not close it.
    const other = openSync(SAMPLE, "r");
    try {
      writer.close();
      writer.abort();
      expect(readSync(other, Buffer.alloc(4))).toBe(4);
    } finally {
      closeSync(other);
    }
    expect((await collect(file)).length).toBe(1);
    const chunks: Uint8Array[] = [];
    const sunk = new PcapngWriter((chunk) => chunks.push(chunk));
    sunk.interface();
    sunk.close();
    for (const w of [writer, sunk]) {
      expect(() => w.packet({ data: udp(2) })).toThrow(/^EINVAL: the writer is closed \(by close\(\)\)/);
      expect(() => w.interface()).toThrow(/^EINVAL: the writer is closed/);
      expect(() => w.section()).toThrow(/^EINVAL: the writer is closed/);
      expect(() => w.flush()).toThrow(/^EINVAL: the writer is closed/);
    }
    expect(chunks).toHaveLength(1);
    const aborted = PcapngWriter.toFile(join(dir, "aborted.pcapng"));
    aborted.abort();
    expect(() => aborted.interface()).toThrow(/^EINVAL: the writer is closed \(by abort\(\)\)/);
    aborted.close();
    expect(existsSync(join(dir, "aborted.pcapng"))).toBe(false);
  });
});
