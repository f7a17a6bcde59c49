// Helpers of the capture tests: running the CLI as a user does, and building and walking captures
// byte by byte (independently of the code under test).
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { afterAll, expect } from "vitest";
import { main } from "../../dist/cli/main.js";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");
export const CLI = join(ROOT, "dist", "cli", "bin.js");
export const SAMPLE = join(ROOT, "test", "fixtures", "sample.pcap");

/** The temporary directories this test file made: removed after its last test. */
const made: string[] = [];
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A new temporary directory, removed after the test file's last test. */
export const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "traits-capture-"));
  made.push(dir);
  return dir;
};

/** Runs the CLI; returns its exit code, stdout (text, or bytes with `binary`) and stderr. */
export function cli(
  args: string[],
  options: SpawnSyncOptions & { binary?: boolean } = {},
): { code: number; out: string; bytes: Buffer; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { maxBuffer: 2 ** 30, ...options, encoding: "buffer" });
  return {
    code: r.status ?? -1,
    out: r.stdout?.toString("utf8") ?? "",
    bytes: r.stdout ?? Buffer.alloc(0),
    err: r.stderr?.toString("utf8") ?? "",
  };
}

const scratch = tempDir();

/** Runs the CLI's main() in this process (no node startup), its stdout and stderr in files; resolves as cli() returns. */
export async function inProcess(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const [out, err] = [join(scratch, "out"), join(scratch, "err")],
    fds = [openSync(out, "w"), openSync(err, "w")] as const;
  try {
    const code = await main(args, { stdin: 0, stdout: fds[0], stderr: fds[1] });
    return { code, out: readFileSync(out, "utf8"), err: readFileSync(err, "utf8") };
  } finally {
    fds.forEach((fd) => closeSync(fd));
  }
}

/** True if `command --version` runs. */
export const installed = (command: string): boolean =>
  spawnSync(command, ["--version"], { stdio: "ignore" }).status === 0;

/**
 * Skips a test that needs something this machine lacks, with a one-line reason; under CI=true the
 * test runs anyway (and fails), as the guide requires.
 */
export function needs(available: boolean, reason: string): boolean {
  if (available) return true;
  if (process.env.CI === "true") return true;
  console.warn(`SKIPPED: ${reason}`);
  return false;
}

const u32 = (x: number, le = true): Buffer => {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(x >>> 0);
  else b.writeUInt32BE(x >>> 0);
  return b;
};
const u16 = (x: number, le = true): Buffer => {
  const b = Buffer.alloc(2);
  if (le) b.writeUInt16LE(x);
  else b.writeUInt16BE(x);
  return b;
};
const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);

/** An option: code, length, value padded to 4 bytes. */
export const option = (code: number, value: Buffer, le = true): Buffer =>
  Buffer.concat([u16(code, le), u16(value.length, le), pad(value)]);
/** Options and their end marker. */
export const options = (list: Buffer[], le = true): Buffer =>
  list.length ? Buffer.concat([...list, u32(0, le)]) : Buffer.alloc(0);
/** A pcapng block. */
export const block = (type: number, body: Buffer, le = true): Buffer =>
  Buffer.concat([u32(type, le), u32(12 + body.length, le), body, u32(12 + body.length, le)]);
/** A section header block: version, section length and options. */
export const shb = ({ le = true, major = 1, minor = 0, sectionLength = -1n, opts = [] as Buffer[] } = {}): Buffer => {
  const length = Buffer.alloc(8);
  if (le) length.writeBigInt64LE(sectionLength);
  else length.writeBigInt64BE(sectionLength);
  return block(
    0x0a0d0d0a,
    Buffer.concat([u32(0x1a2b3c4d, le), u16(major, le), u16(minor, le), length, options(opts, le)]),
    le,
  );
};
/** An interface description block. */
export const idb = ({ le = true, linkType = 1, opts = [] as Buffer[] } = {}): Buffer =>
  block(1, Buffer.concat([u16(linkType, le), u16(0, le), u32(65535, le), options(opts, le)]), le);
/** An enhanced packet block (interface 0). */
export const epb = (data: Buffer, { le = true, ticks = 0n, opts = [] as Buffer[] } = {}): Buffer =>
  block(
    6,
    Buffer.concat([
      u32(0, le),
      u32(Number(ticks >> 32n), le),
      u32(Number(ticks & 0xffffffffn), le),
      u32(data.length, le),
      u32(data.length, le),
      pad(data),
      options(opts, le),
    ]),
    le,
  );

/** A classic little-endian µs pcap of `packets` with link type field `linkType`. */
export function pcap(packets: Buffer[], linkType = 1, seconds = 1_700_000_000): Buffer {
  const header = Buffer.concat([u32(0xa1b2c3d4), u16(2), u16(4), u32(0), u32(0), u32(65535), u32(linkType)]);
  return Buffer.concat([header, ...packets.flatMap((p, i) => [u32(seconds), u32(i), u32(p.length), u32(p.length), p])]);
}

/** An Ethernet/IPv4/UDP packet whose source address and port vary with i, `size` bytes long (at least 42). */
export function udp(i: number, size = 64): Buffer {
  const p = Buffer.alloc(size);
  Buffer.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0]).copy(p);
  Buffer.from([
    0x45,
    0,
    0,
    0,
    0,
    1,
    0x40,
    0,
    64,
    17,
    0,
    0,
    10,
    (i >> 16) & 255,
    (i >> 8) & 255,
    i & 255,
    10,
    0,
    0,
    1,
  ]).copy(p, 14);
  p.writeUInt16BE(size - 14, 16);
  p.writeUInt16BE(1024 + (i & 0x7fff), 34);
  p.writeUInt16BE(4789, 36);
  p.writeUInt16BE(size - 34, 38);
  return p;
}

/** A pcapng's blocks, as written: type, byte order and bytes. */
export function blocks(bytes: Buffer): Array<{ type: number; le: boolean; bytes: Buffer }> {
  const out: Array<{ type: number; le: boolean; bytes: Buffer }> = [];
  let le = true;
  for (let at = 0; at < bytes.length; ) {
    if (bytes.readUInt32LE(at) === 0x0a0d0d0a) le = bytes.readUInt32LE(at + 8) === 0x1a2b3c4d;
    const type = le ? bytes.readUInt32LE(at) : bytes.readUInt32BE(at),
      length = le ? bytes.readUInt32LE(at + 4) : bytes.readUInt32BE(at + 4);
    out.push({ type, le, bytes: bytes.subarray(at, at + length) });
    at += length;
  }
  return out;
}

/** The options of a block whose options start at `from` (EPB: 28 + padded data; SHB: 24; IDB: 16). */
export function blockOptions(b: { le: boolean; bytes: Buffer }, from: number): Array<{ code: number; value: Buffer }> {
  const r16 = (at: number) => (b.le ? b.bytes.readUInt16LE(at) : b.bytes.readUInt16BE(at)),
    list: Array<{ code: number; value: Buffer }> = [];
  for (let at = from; at + 4 <= b.bytes.length - 4; ) {
    const code = r16(at),
      length = r16(at + 2);
    if (code === 0) break;
    list.push({ code, value: b.bytes.subarray(at + 4, at + 4 + length) });
    at += 4 + length + ((4 - (length % 4)) % 4);
  }
  return list;
}

/** The options of an EPB. */
export function epbOptions(b: { le: boolean; bytes: Buffer }): Array<{ code: number; value: Buffer }> {
  const captured = b.le ? b.bytes.readUInt32LE(20) : b.bytes.readUInt32BE(20);
  return blockOptions(b, 28 + captured + ((4 - (captured % 4)) % 4));
}

/** `pcap show --json` of a file, parsed: one object a packet. */
export function showJson(
  file: string,
  extra: string[] = [],
): Array<{
  packet: number;
  entries: Array<{ key: number; name: string; length: number; hex: string; value: string }> | null;
}> {
  const r = cli(["pcap", "show", file, "--json", ...extra]);
  if (r.code !== 0) throw new Error(`pcap show failed: ${r.err}`);
  return r.out
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
}

/** The value of entry `name` of packet i of showJson's result. */
export const valueOf = (shown: ReturnType<typeof showJson>, i: number, name: string): string | undefined =>
  shown[i]!.entries?.find((e) => e.name === name)?.value;

/** A capture of 2,000,000 packets (160 MB) in `dir`, made by bench/pipeline.js on first use: long enough to stop any command in the middle, on any machine. */
export function largeCapture(dir: string): string {
  const path = join(dir, "large.pcap");
  if (!existsSync(path))
    expect(spawnSync(process.execPath, [join(ROOT, "bench", "pipeline.js"), "--make", "2000000", path]).status).toBe(0);
  return path;
}

/** The temporary files and folders a command made beside `out` in `dir` (named `.OUT.*`). */
export const temporaries = (dir: string, out: string): string[] =>
  readdirSync(dir).filter((n) => n.startsWith(`.${out.split("/").at(-1)}.`));

/** Waits until `check` holds (polling every millisecond), or throws "timed out waiting for `what`" after `ms`. */
export async function until(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  for (const start = Date.now(); !check(); await new Promise((r) => setTimeout(r, 1)))
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
}
