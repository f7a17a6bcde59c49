/** `packet-traits decode`: a store's entries by name, from hex or a file. */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { TraitsError } from "../core/errors.js";
import { PROFILE_SIZES, toProfile, type Profile } from "../core/options.js";
import { createStore } from "../store/store.js";
import { KeyRegistry } from "../registry/registry.js";
import { HARDWARE_FIRST_APP_KEY, HARDWARE_NAMES } from "../store/hardware.js";
import { rowsTable, storeRows } from "../capture/rows.js";
import { FileError, retrying } from "../capture/io.js";
import { parseHex } from "./hex.js";
import { UsageError, integer, parse, print, type Io } from "./args.js";

/** The largest store region decode reads: 1 MiB (a store uses at most 528 bytes of it). */
export const DECODE_MAX_BYTES = 1 << 20;
/** The most hex text decode reads from stdin: 4 MiB (two digits a byte, and whitespace). */
export const DECODE_MAX_HEX = 4 << 20;

/** The usage text of `decode` (printed by -h and with usage errors). */
export const DECODE_USAGE = `usage: packet-traits decode [HEX] [--file F [--offset N] [--capacity N]] [--profile v1|flags]
                            [--registry FILE] [--key NAME=KEY:LEN]... [--hardware-keys keys|off] [--json]

Prints the entries of a trait store: from HEX, hex text on stdin without it (at most 4 MiB), or the bytes of --file F.
  --file F            read the store's bytes from F (- for stdin; a file, device or FIFO), from --offset N
                      (default 0), --capacity N bytes (default: the rest, at most 1 MiB); reads no more than that
  --profile P         v1 (default) or flags
  --registry FILE     names keys from a registry file
  --key NAME=KEY:LEN  names a key (repeatable)
  --hardware-keys keys  names keys 59..63 as the hardware keys
  --json              { profile, capacity, size, entries: [{ key, name, length, hex, value }] }`;

const OPTIONS = {
  file: { type: "string" },
  offset: { type: "string" },
  capacity: { type: "string" },
  profile: { type: "string" },
  registry: { type: "string" },
  key: { type: "string", multiple: true },
  "hardware-keys": { type: "string" },
  json: { type: "boolean" },
} as const;

/** Names of keys: hardware keys (with --hardware-keys keys), a registry file, --key NAME=KEY:LEN flags. */
function names(
  registry: string | undefined,
  specs: string[],
  profile: Profile,
  hardware: boolean,
): Map<number, string> {
  const map = new Map<number, string>();
  if (hardware) HARDWARE_NAMES.forEach((name, i) => map.set(HARDWARE_FIRST_APP_KEY + i, name));
  if (registry) for (const e of KeyRegistry.load(registry).entries()) map.set(e.key, e.name);
  for (const spec of specs) {
    const m = /^([a-z][a-z0-9_.-]{0,62})=(\d+):(\d+)$/.exec(spec);
    if (!m) throw new UsageError(`--key ${spec}: expected NAME=KEY:LEN, e.g. packet_id=5:8`);
    const key = integer(m[2]!, `--key ${spec}: the key`, 0, 63),
      len = Number(m[3]);
    if (!PROFILE_SIZES[profile].includes(len))
      throw new UsageError(
        `--key ${spec}: ${len} is not a size of profile ${profile} (${PROFILE_SIZES[profile].join(", ")})`,
      );
    map.set(key, m[1]!);
  }
  return map;
}

/**
 * Reads `length` bytes of `input` (fd) into `into` (fewer only at its end); returns how many. `at` is
 * the position to read a regular file at, or null to read on (a device, a FIFO, stdin).
 */
function readUpTo(input: string, fd: number, into: Uint8Array, length: number, at: number | null): number {
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = retrying(() => readSync(fd, into, done, length - done, at === null ? null : at + done));
    } catch (error) {
      throw FileError.from(error, `cannot read ${input}`);
    }
    if (n === 0) break;
    done += n;
  }
  return done;
}

/**
 * The bytes [offset, offset + capacity) of `file` (- for stdin), or without `capacity` the rest, up to
 * DECODE_MAX_BYTES. Reads nothing past them, so an input that never ends (/dev/zero, a FIFO) is no
 * problem: a regular file is read at the offset; anything else is read on, its first `offset` bytes
 * dropped 64 KiB at a time. Throws FileError (the file cannot be read, or the rest is over the limit)
 * and EINVAL (the input ends before the region does).
 */
function readRegion(file: string, offset: number, capacity: number | undefined, stdin: number): Uint8Array {
  const name = file === "-" ? "stdin" : file;
  let fd: number, size: number | undefined;
  try {
    fd = file === "-" ? stdin : openSync(file, "r");
    const stat = fstatSync(fd);
    if (stat.isDirectory())
      throw Object.assign(new Error("EISDIR: illegal operation on a directory"), { code: "EISDIR", syscall: "read" });
    if (stat.isFile()) size = stat.size;
  } catch (error) {
    throw FileError.from(error, `cannot read ${name}`);
  }
  try {
    let reached = offset;
    if (size === undefined) {
      const drop = new Uint8Array(Math.min(offset, 1 << 16));
      for (reached = 0; reached < offset; ) {
        const n = readUpTo(name, fd, drop, Math.min(drop.length, offset - reached), null);
        if (n === 0) break;
        reached += n;
      }
    } else reached = Math.min(offset, size);
    if (reached < offset) throw new TraitsError("EINVAL", `${name} ends at byte ${reached}, before --offset ${offset}`);
    const bytes = new Uint8Array(capacity ?? DECODE_MAX_BYTES + 1),
      got = readUpTo(name, fd, bytes, bytes.length, size === undefined ? null : offset);
    if (capacity === undefined && got > DECODE_MAX_BYTES)
      throw new FileError(
        "EFBIG",
        `${name}: more than ${DECODE_MAX_BYTES} bytes after offset ${offset}; decode reads a region of at most ${DECODE_MAX_BYTES} bytes: give --capacity N`,
      );
    if (capacity !== undefined && got < capacity)
      throw new TraitsError(
        "EINVAL",
        `${name} ends at byte ${offset + got}: --offset ${offset} --capacity ${capacity} needs ${offset + capacity}`,
      );
    return bytes.subarray(0, got);
  } finally {
    if (file !== "-") closeSync(fd);
  }
}

/** Hex text from stdin, at most DECODE_MAX_HEX bytes of it; throws FileError past that. */
function readHexText(stdin: number): string {
  const text = new Uint8Array(DECODE_MAX_HEX + 1),
    got = readUpTo("stdin", stdin, text, text.length, null);
  if (got > DECODE_MAX_HEX)
    throw new FileError(
      "EFBIG",
      `stdin: more than ${DECODE_MAX_HEX} bytes of hex text; decode reads at most that (for binary input: --file - --capacity N)`,
    );
  return Buffer.from(text.buffer, 0, got).toString("utf8");
}

/** Runs `decode`; returns the exit code. */
export function decode(argv: string[], io: Io): number {
  const p = parse(argv, OPTIONS, DECODE_USAGE, io);
  if (!p) return 0;
  const { values: v, positionals } = p;
  const profile = toProfile(v.profile),
    hardware = v["hardware-keys"] ?? "off";
  if (hardware !== "keys" && hardware !== "off")
    throw new UsageError(`--hardware-keys must be keys or off, not ${JSON.stringify(hardware)}`);
  if (positionals.length > 1) throw new UsageError(`decode takes one hex argument, not ${positionals.length}`);
  let bytes: Uint8Array;
  if (v.file !== undefined) {
    if (positionals.length) throw new UsageError("give a hex argument or --file, not both");
    const offset = integer(v.offset ?? "0", "--offset", 0, Number.MAX_SAFE_INTEGER),
      capacity = v.capacity === undefined ? undefined : integer(v.capacity, "--capacity", 0, DECODE_MAX_BYTES);
    bytes = readRegion(v.file, offset, capacity, io.stdin);
  } else {
    if (v.offset !== undefined || v.capacity !== undefined)
      throw new UsageError("--offset and --capacity go with --file");
    bytes = parseHex(positionals[0] ?? readHexText(io.stdin));
  }
  if (bytes.length < 16)
    throw new TraitsError("ENOMEM", `a store needs at least its 16-byte header; got ${bytes.length} bytes`);
  const store = createStore(bytes.length, { profile });
  store.bytes().set(bytes);
  const size = store.size,
    list = storeRows(store, names(v.registry, v.key ?? [], profile, hardware === "keys"));
  if (v.json)
    print(io.stdout, `${JSON.stringify({ profile, capacity: bytes.length, size, entries: list }, null, 2)}\n`);
  else print(io.stdout, `store: ${size} of ${bytes.length} bytes in use, profile ${profile}\n${rowsTable(list)}\n`);
  return 0;
}
