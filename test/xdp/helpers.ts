// Helpers of the kernel tests: compiling the BPF programs of test/fixtures/xdp with clang, and reading
// back the packets a command wrote.
import { spawnSync } from "node:child_process";
import { basename, join } from "node:path";
import { crc32 } from "node:zlib";
import {
  CaptureReader,
  END,
  PACKET,
  READER_BYTES,
  TRAITS_OPTION,
  TRAITS_PEN,
  bytesSource,
} from "../../dist/capture/capture.js";

const FIXTURES = join(import.meta.dirname, "../fixtures/xdp");

/**
 * Compiles test/fixtures/xdp/NAME.bpf.c into `dir`; returns the object's path. Throws an Error whose
 * message names clang if it is missing or fails (the tests skip on it, saying why, outside CI).
 */
export function compileFixture(name: string, dir: string): string {
  return compileBpf(join(FIXTURES, `${name}.bpf.c`), dir);
}

/** Compiles the BPF program at `source` (NAME.bpf.c) into `dir`; returns the object's path. Throws as compileFixture. */
export function compileBpf(source: string, dir: string): string {
  const name = basename(source, ".bpf.c"),
    out = join(dir, `${name}.bpf.o`);
  const cc = spawnSync(
    "clang",
    [
      "-target",
      "bpf",
      "-O2",
      "-g",
      "-Wall",
      "-Werror",
      "-I",
      `/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`,
      "-c",
      source,
      "-o",
      out,
    ],
    { encoding: "utf8" },
  );
  if (cc.error) throw new Error(`clang not found (needed to build ${name}.bpf.c): ${cc.error.message}`);
  if (cc.status !== 0) throw new Error(`clang failed on ${name}.bpf.c: ${cc.stderr.trim().split("\n")[0]}`);
  return out;
}

/** A packet of a capture as CaptureReader reads it. */
export interface ReadPacket {
  /** Its data, in hex. */
  data: string;
  captured: number;
  original: number;
  /** Its comments (opt_comment), in order. */
  comments: string[];
  /** The store in our traits option, if it has one. */
  store: Uint8Array | undefined;
  /** Its epb_queue option, if it has one. */
  queue: number | undefined;
}

/** The packets of a capture (a file's bytes, or what a capture wrote so far: a packet cut short ends the list). */
export function packetsOf(bytes: Uint8Array): ReadPacket[] {
  const reader = new CaptureReader(bytesSource(bytes), new Uint8Array(READER_BYTES)),
    out: ReadPacket[] = [];
  for (let kind = reader.next(true); kind !== END; kind = reader.next(true)) {
    if (kind !== PACKET) continue;
    const comments: string[] = [],
      view = new DataView(reader.bytes.buffer);
    let store: Uint8Array | undefined, queue: number | undefined;
    for (let at = reader.optionsAt; at + 4 <= reader.optionsEnd; ) {
      const code = view.getUint16(at, true),
        length = view.getUint16(at + 2, true);
      if (code === 0) break;
      if (code === 6 && length === 4) queue = view.getUint32(at + 4, true);
      if (code === 1) comments.push(Buffer.from(reader.bytes.subarray(at + 4, at + 4 + length)).toString());
      if (code === TRAITS_OPTION && length >= 4 && view.getUint32(at + 4, true) === TRAITS_PEN)
        store = reader.bytes.slice(at + 8, at + 4 + length);
      at += 4 + length + ((4 - (length % 4)) % 4);
    }
    out.push({
      data: Buffer.from(reader.bytes.subarray(reader.dataAt, reader.dataAt + reader.captured)).toString("hex"),
      captured: reader.captured,
      original: reader.original,
      comments,
      store,
      queue,
    });
  }
  return out;
}

/** A traits comment as our tools write it: the text, then " crc32:" and the CRC-32 of the text in 8 hex digits (docs/CLI.md). */
export function checked(text: string): string {
  return `${text} crc32:${crc32(text).toString(16).padStart(8, "0")}`;
}
