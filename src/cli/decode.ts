/** `packet-traits decode`: a store's entries by name, from hex or a file. */
import { readFileSync } from "node:fs";
import { TraitsError } from "../core/errors.js";
import { PROFILE_SIZES, toProfile, type Profile } from "../core/options.js";
import { createStore } from "../store/store.js";
import { KeyRegistry } from "../registry/registry.js";
import { HARDWARE_FIRST_APP_KEY, HARDWARE_NAMES } from "../store/hardware.js";
import { rowsTable, storeRows } from "../capture/rows.js";
import { parseHex } from "./hex.js";
import { UsageError, integer, parse, print, type Io } from "./args.js";

/** The usage text of `decode` (printed by -h and with usage errors). */
export const DECODE_USAGE = `usage: packet-traits decode [HEX] [--file F [--offset N] [--capacity N]] [--profile v1|flags]
                            [--registry FILE] [--key NAME=KEY:LEN]... [--hardware-keys keys|off] [--json]

Prints the entries of a trait store: from HEX, hex text on stdin without it, or the bytes of --file F.
  --file F            read the store's bytes from F, from --offset N (default 0), --capacity N bytes (default: the rest)
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
  if (v.file) {
    if (positionals.length) throw new UsageError("give a hex argument or --file, not both");
    const all = new Uint8Array(readFileSync(v.file));
    const offset = integer(v.offset ?? "0", "--offset", 0, all.length);
    const capacity = integer(v.capacity ?? String(all.length - offset), "--capacity", 0, all.length - offset);
    bytes = all.subarray(offset, offset + capacity);
  } else {
    bytes = parseHex(positionals[0] ?? readFileSync(io.stdin, "utf8"));
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
