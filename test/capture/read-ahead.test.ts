// readCapture(path)'s read-ahead (FileHandle.read straight into the reader's buffer, the
// next chunk in flight while the current bytes are parsed): concurrent pulls, FIFOs whose writer
// idles, errors, early exits, records across every read and chunk boundary, against the bytes read
// from memory and the synchronous CaptureReader.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readdirSync, readlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  CaptureReader,
  END,
  PACKET,
  READER_BYTES,
  bytesSource,
  readCapture,
  type CaptureSource,
  type CaptureStream,
} from "../../dist/capture.js";
import { installed, needs, pcap, tempDir } from "./helpers.js";

const dir = tempDir();

/** Packet i: `size` bytes, its index as a u32 LE at byte 0, and i & 0xff at its last byte. */
const numbered = (i: number, size: number): Buffer => {
  const p = Buffer.alloc(size, 0x5a);
  p.writeUInt32LE(i, 0);
  p[size - 1] = i & 0xff;
  return p;
};

/** 30,000 records of 60 to 1459 bytes (23 MB): reads end mid-record, and the buffer's tail moves. */
const bytes = pcap(Array.from({ length: 30_000 }, (_, i) => numbered(i, 60 + (i % 1400))));
const path = join(dir, "numbered.pcap");
writeFileSync(path, bytes);

/** True if the packet's bytes are packet `index`'s (read while it is current). */
const isItself = (index: number, data: Uint8Array): boolean =>
  data.length >= 4 &&
  (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0 === index &&
  data[data.length - 1] === (index & 0xff);

/** A line per packet (index, offset, lengths, first and last bytes), then the error if any: what two readers must agree on. */
async function lines(source: CaptureSource, batched = false): Promise<string[]> {
  const out: string[] = [];
  const line = (index: number, offset: number, data: Uint8Array) =>
    `${index} ${offset} ${data.length} ${Buffer.from(data.subarray(0, 4)).toString("hex")} ${data[data.length - 1]}`;
  try {
    if (batched) {
      for await (const batch of readCapture(source).batches())
        for (const p of batch) out.push(line(p.index, p.offset, p.data));
    } else for await (const p of readCapture(source)) out.push(line(p.index, p.offset, p.data));
  } catch (error) {
    out.push(`error ${(error as Error).message}`);
  }
  return out;
}

/** The same lines from the synchronous CaptureReader over the bytes. */
function syncLines(of: Uint8Array): string[] {
  const out: string[] = [];
  const reader = new CaptureReader(bytesSource(of), new Uint8Array(READER_BYTES));
  try {
    for (let kind = reader.next(true); kind !== END; kind = reader.next(true))
      if (kind === PACKET) {
        const data = reader.bytes.subarray(reader.dataAt, reader.dataAt + reader.captured);
        out.push(
          `${reader.packet} ${reader.offset} ${data.length} ${Buffer.from(data.subarray(0, 4)).toString("hex")} ${data[data.length - 1]}`,
        );
      }
  } catch (error) {
    // The stream adds the packet before a malformed record; the synchronous reader names the offset alone.
    out.push(
      `error ${(error as Error).message}${reader.packet >= 0 && !/ packet \d/.test((error as Error).message) ? ` (after packet ${reader.packet})` : ""}`,
    );
  }
  return out;
}

// Descriptors close asynchronously: counted once earlier tests' have settled, and again after ours.
const openFiles = async () => {
  await new Promise((resolve) => setTimeout(resolve, 50));
  return readdirSync("/proc/self/fd").length;
};

/** Resolves to what `promise` resolves to, or to "timed out" after `ms`. */
const within = <T>(promise: Promise<T>, ms: number): Promise<T | "timed out"> =>
  Promise.race([promise, new Promise<"timed out">((resolve) => setTimeout(() => resolve("timed out"), ms).unref())]);

// The FIFO writers the tests start, killed after each test even when it fails.
const writers: ChildProcess[] = [];
afterEach(() => {
  for (const w of writers.splice(0)) w.kill("SIGKILL");
});

/** A FIFO in `dir` and a writer (a node child) that writes `content` to it, then holds it open for a minute without writing. */
function idleFifo(name: string, content: Buffer): string {
  const fifo = join(dir, name);
  expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
  const source = join(dir, `${name}.content`);
  writeFileSync(source, content);
  const writer = spawn(
    process.execPath,
    [
      "-e",
      `const fs = require("node:fs"); const fd = fs.openSync(process.argv[1], "w"); fs.writeSync(fd, fs.readFileSync(process.argv[2])); setTimeout(() => {}, 60000);`,
      fifo,
      source,
    ],
    { stdio: "ignore" },
  );
  writers.push(writer);
  return fifo;
}

describe("readCapture(path) reading ahead: defects", () => {
  it.each([
    ["a path", path],
    ["its bytes (not this branch's: the chunks' path has it too)", bytes],
  ] as const)(
    "next() called again before the last one settles (two consumers of one readCapture(%s)) goes on packet by packet, and leaves no descriptor",
    async (_, source) => {
      const before = await openFiles();
      // The async iterator protocol lets next() be called before the last one settles (async
      // generators and Node's Readable queue such calls): the stream must not read twice into the same place.
      const kept: CaptureStream[] = [];
      const stream = readCapture(source);
      kept.push(stream);
      const seen: number[] = [];
      let wrong = 0;
      for (;;) {
        const first = stream.next(),
          second = stream.next(); // before the first settles
        const [a, b] = await Promise.all([first, second]);
        if (a.done) break;
        seen.push(a.value.index); // the shared packet: now the second's
        if (b.done) break;
        if (!isItself(b.value.index, b.value.data)) wrong++;
      }
      // Each pair of calls moves on two packets: 1, 3, 5, ... is current after each pair, each its own bytes.
      expect(wrong).toBe(0);
      expect(seen).toEqual(Array.from({ length: 15_000 }, (_, i) => 2 * i + 1));
      expect(await openFiles()).toBeLessThanOrEqual(before);
      expect(kept).toHaveLength(1);
    },
  );

  it("opens the file once when next() is called twice before the first read (no descriptor left to the GC)", async () => {
    const file = join(dir, "opened-once.pcap");
    writeFileSync(file, bytes.subarray(0, 200_000));
    const opened = () =>
      readdirSync("/proc/self/fd").filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === file;
        } catch {
          return false; // closed meanwhile
        }
      }).length;
    const stream = readCapture(file);
    await Promise.allSettled([stream.next(), stream.next()]);
    expect(opened()).toBe(1);
    await stream.return();
    expect(opened()).toBe(0); // else a FileHandle left for the GC to close (DEP0137)
  });

  it("a break out of readCapture(fifo) returns while the FIFO's writer is idle (the read ahead does not hold it)", async () => {
    if (!needs(installed("mkfifo"), "mkfifo (coreutils) is not installed")) return;
    // 100 kB of records, then the writer keeps the FIFO open without writing (a live capture between packets).
    const fifo = idleFifo("idle-break", bytes.subarray(0, 100_000));
    const stream = readCapture(fifo);
    let n = 0;
    const left = (async () => {
      for await (const p of stream) {
        expect(isItself(p.index, p.data)).toBe(true);
        if (++n === 370) break; // the last packets the writer wrote: the read after them waits for the writer
      }
      return "returned";
    })();
    // With createReadStream (before this branch) the break returned at once, the Readable destroyed.
    expect(await within(left, 5_000)).toBe("returned");
  });

  it("a malformed record from a FIFO whose writer idles rejects at once (EBADMSG), not when the writer next writes", async () => {
    if (!needs(installed("mkfifo"), "mkfifo (coreutils) is not installed")) return;
    const good = bytes.subarray(0, 100_000 - (100_000 % 4)),
      end = lines(good); // the offset of the record cut by the end of `good` (its captured length field's, 8 bytes in)
    const cut = Number((await end).at(-1)!.match(/^error EBADMSG: byte offset (\d+): captured length/)![1]) - 8;
    // Good records, then a record header whose captured length is over the limit of a packet.
    const bad = Buffer.alloc(16);
    bad.writeUInt32LE(0xffffffff, 8);
    bad.writeUInt32LE(0xffffffff, 12);
    const content = Buffer.concat([bytes.subarray(0, cut), bad]);
    expect((await lines(content)).at(-1)).toMatch(
      new RegExp(`^error EBADMSG: byte offset ${cut + 8}: captured length 4294967295 is over `),
    ); // from memory
    const fifo = idleFifo("idle-error", content);
    const outcome = (async () => {
      try {
        for await (const _ of readCapture(fifo));
        return "no error";
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(await within(outcome, 5_000)).toMatch(
      new RegExp(`^EBADMSG: byte offset ${cut + 8}: captured length 4294967295 is over `),
    );
  });
});

describe("readCapture(path) reading ahead: what holds (regression tests)", () => {
  it("yields the same packets and errors from a file as from its bytes and as the synchronous CaptureReader, cut at every read and chunk boundary", async () => {
    const whole = await lines(path, true);
    expect(whole).toHaveLength(30_000);
    expect(whole).toEqual(syncLines(bytes));
    expect(await lines(path)).toEqual(whole);
    const cutPath = join(dir, "cut.pcap");
    const MiB = 2 ** 20;
    for (const cut of [
      0,
      3,
      24,
      29,
      24 + 16 + 59,
      MiB - 1,
      MiB,
      MiB + 7,
      4 * MiB - 5,
      4 * MiB,
      4 * MiB + 9,
      5 * MiB + 1,
      bytes.length - 1,
    ]) {
      writeFileSync(cutPath, bytes.subarray(0, cut));
      const fromFile = await lines(cutPath);
      // Every cut but the header alone ends in EBADMSG naming the cut record's offset, and the packet before it if any.
      if (cut !== 24)
        expect(fromFile.at(-1), `cut at ${cut}`).toMatch(
          fromFile.length > 1
            ? new RegExp(`^error EBADMSG: byte offset \\d+: .*\\(after packet ${fromFile.length - 2}\\)$`)
            : /^error EBADMSG: byte offset \d+: /,
        );
      expect(fromFile, `cut at ${cut}`).toEqual(await lines(bytes.subarray(0, cut)));
      expect(fromFile, `cut at ${cut}`).toEqual(syncLines(bytes.subarray(0, cut)));
    }
  });

  it("reads records larger than the read-ahead window (up to the 16 MiB limit) as from memory", async () => {
    const sizes = [100, 3 * 2 ** 20, 5, 2 ** 24, 7, 4 * 2 ** 20 - 50, 2 ** 20, 33, 2 * 2 ** 20 + 1];
    const large = pcap(sizes.map((size, i) => numbered(i, size)));
    large.writeUInt32LE(2 ** 24, 16); // snap length
    const file = join(dir, "large-records.pcap");
    writeFileSync(file, large);
    const fromFile = await lines(file, true);
    expect(fromFile).toHaveLength(sizes.length);
    expect(fromFile).toEqual(await lines(large, true));
    expect(fromFile).toEqual(syncLines(large));
  });

  it("keeps a batch's packet views valid while the next read is in flight, until the next batch", async () => {
    let checked = 0;
    for await (const batch of readCapture(path).batches()) {
      const views: Array<[number, Uint8Array]> = [];
      for (const p of batch) views.push([p.index, p.data]);
      await new Promise((resolve) => setImmediate(resolve)); // the read ahead lands meanwhile
      for (const [index, data] of views) expect(isItself(index, data), `packet ${index}`).toBe(true);
      checked += views.length;
    }
    expect(checked).toBe(30_000);
  });

  it("mixes batches() and next() on one stream as it does over the bytes", async () => {
    const mixed = async (source: CaptureSource) => {
      const stream = readCapture(source),
        out: number[] = [];
      for await (const batch of stream.batches()) {
        for (const p of batch) {
          out.push(p.index);
          if (p.index % 1000 === 999) break; // leave the batch early
        }
        const r = await stream.next();
        if (!r.done) out.push(-r.value.index);
      }
      return out;
    };
    const fromFile = await mixed(path);
    expect(fromFile).toEqual(await mixed(bytes));
    expect(new Set(fromFile.map(Math.abs)).size).toBe(30_000);
  });

  it("rejects a directory (EISDIR naming the path), /dev/zero (EBADMSG at byte 0) and a missing file, leaving no descriptor", async () => {
    const before = await openFiles();
    const kept: CaptureStream[] = [];
    const error = async (source: string) => {
      const stream = readCapture(source);
      kept.push(stream);
      try {
        for await (const _ of stream);
      } catch (e) {
        return `${(e as { code?: string }).code} ${(e as Error).message}`;
      }
      return "no error";
    };
    for (let i = 0; i < 3; i++) {
      expect(await error(dir)).toBe(`EISDIR EISDIR: cannot read ${dir}: illegal operation on a directory`);
      expect(await error("/dev/zero")).toBe(
        "EBADMSG EBADMSG: byte offset 0: not a pcap or pcapng capture (magic 0x00000000)",
      );
      expect(await error(join(dir, "missing.pcap"))).toMatch(/^ENOENT ENOENT: cannot read .*missing\.pcap/);
    }
    expect(await openFiles()).toBeLessThanOrEqual(before);
  });

  it("closes the file once, with no read left in flight, when the body breaks, throws or return() races a pending next()", async () => {
    const before = await openFiles();
    const kept: CaptureStream[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      for (let i = 0; i < 6; i++) {
        const stream = readCapture(path);
        kept.push(stream);
        for (let k = 0; k < 1_374 + i * 1_377; k++) await stream.next(); // around the first reads' ends
        const pending = stream.next(),
          returned = stream.return();
        await Promise.allSettled([pending, returned]);
        expect((await stream.next()).done).toBe(true);
      }
      for (let i = 1; i <= 3; i++) {
        const stream = readCapture(path);
        kept.push(stream);
        let n = 0;
        await expect(
          (async () => {
            for await (const _ of stream) if (++n === 2_000 * i) throw new Error("thrown in the body");
          })(),
        ).rejects.toThrow("thrown in the body");
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(await openFiles()).toBeLessThanOrEqual(before);
  });

  it("ends a file that shrinks under it with EBADMSG naming the record's byte offset and the packet", async () => {
    const file = join(dir, "shrinking.pcap");
    writeFileSync(file, bytes);
    let n = 0;
    const outcome = (async () => {
      for await (const _ of readCapture(file)) if (++n === 100) truncateSync(file, 6_000_000);
    })();
    await expect(outcome).rejects.toThrow(
      /^EBADMSG: byte offset \d+: captured length \d+ runs past the end of the file \(\d+ bytes left\) \(after packet \d+\)$/,
    );
  });

  it("reads a FIFO written in small pieces as the file", async () => {
    if (!needs(installed("mkfifo"), "mkfifo (coreutils) is not installed")) return;
    const fifo = join(dir, "pieces");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const writer = spawn(
      process.execPath,
      [
        "-e",
        `const fs = require("node:fs"); const d = fs.readFileSync(process.argv[2]); const fd = fs.openSync(process.argv[1], "w"); let at = 0; const next = () => { if (at >= d.length) return fs.closeSync(fd); fs.writeSync(fd, d, at, Math.min(7777, d.length - at)); at += 7777; at % 777700 < 7777 ? setTimeout(next, 5) : setImmediate(next); }; next();`,
        fifo,
        path,
      ],
      { stdio: "ignore" },
    );
    writers.push(writer);
    expect(await lines(fifo, true)).toEqual(await lines(path, true));
  });
});
