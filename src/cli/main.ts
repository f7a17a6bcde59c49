/**
 * The packet-traits command: decode stores by name, manage a key registry file, and annotate
 * captures (pcap/pcapng in, pcapng with each packet's trait store out). See docs/CLI.md.
 * Exit codes: 0 success, 1 bad input (a corrupt store or capture, bad hex, a registry error), 2 usage.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { TraitsError } from "../core/errors.js";
import { PROFILE_SIZES, toProfile, type Profile } from "../core/options.js";
import { parseHex } from "./hex.js";
import { TraitStore, createStore } from "../store/store.js";
import { KeyRegistry } from "../registry/registry.js";
import { PacketPool } from "../pool/pool.js";
import { HARDWARE_FIRST_APP_KEY, HARDWARE_NAMES, HardwareKey } from "../store/hardware.js";
import { commentOption, readCapture, traitsOption, traitsOptionFor, writePcapng, type Option } from "../capture/capture.js";
import { rxInfo } from "../capture/rss.js";
import { XDP_USAGE, xdp } from "./xdp.js";

const USAGE = `usage:
  packet-traits decode [HEX] [--file F [--offset N] [--capacity N]] [--profile v1|flags]
                       [--registry FILE] [--key NAME=KEY:LEN]... [--hardware-keys keys|off] [--json]
  packet-traits registry init|ls --file FILE [--profile v1|flags] [--json]
  packet-traits registry add NAME SIZE --file FILE [--key K] [--description TEXT]
  packet-traits registry rm NAME --file FILE
  packet-traits pcap annotate IN OUT [--registry FILE] [--set NAME=VALUE]... [--comment] [--profile v1|flags]
  packet-traits pcap show FILE [--registry FILE] [--profile v1|flags] [--json]
${XDP_USAGE}`;

/** A usage error: printed with a hint, exit code 2. */
class UsageError extends Error {}

interface Parsed {
  positional: string[];
  flags: Map<string, string[]>;
}

/** Splits arguments into positionals and --flags (boolean flags take no value). */
function parse(argv: string[], valued: string[], booleans: string[]): Parsed {
  const positional: string[] = [], flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const name = arg.slice(2);
    if (booleans.includes(name)) flags.set(name, ["true"]);
    else if (valued.includes(name)) {
      const value = argv[++i];
      if (value === undefined) throw new UsageError(`${arg} needs a value`);
      flags.set(name, [...(flags.get(name) ?? []), value]);
    } else throw new UsageError(`unknown option ${arg}`);
  }
  return { positional, flags };
}

const one = (p: Parsed, name: string): string | undefined => p.flags.get(name)?.at(-1);

function integer(text: string, what: string, min: number, max: number): number {
  const n = /^(0x[0-9a-f]+|\d+)$/i.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${what} must be an integer in ${min}..${max}, not ${JSON.stringify(text)}`);
  return n;
}

/** Names of keys: from a registry file and --key NAME=KEY:LEN flags, and hardware keys in 59..63. */
function names(p: Parsed, profile: Profile, hardware: boolean): Map<number, string> {
  const map = new Map<number, string>();
  if (hardware) HARDWARE_NAMES.forEach((name, i) => map.set(HARDWARE_FIRST_APP_KEY + i, name));
  const file = one(p, "registry");
  if (file) for (const e of KeyRegistry.load(file).entries()) map.set(e.key, e.name);
  for (const spec of p.flags.get("key") ?? []) {
    const m = /^([a-z][a-z0-9_.-]{0,62})=(\d+):(\d+)$/.exec(spec);
    if (!m) throw new UsageError(`--key ${spec}: expected NAME=KEY:LEN, e.g. packet_id=5:8`);
    const key = integer(m[2]!, `--key ${spec}: the key`, 0, 63), len = Number(m[3]);
    if (!PROFILE_SIZES[profile].includes(len)) throw new UsageError(`--key ${spec}: ${len} is not a size of profile ${profile} (${PROFILE_SIZES[profile].join(", ")})`);
    map.set(key, m[1]!);
  }
  return map;
}

interface Row {
  key: number;
  name: string;
  length: number;
  hex: string;
  value: string;
}

const VLAN_PROTO_KEY = HARDWARE_FIRST_APP_KEY + HARDWARE_NAMES.indexOf("vlan_proto");

/**
 * The entries of a store as rows: key, name, length, value as hex (as stored) and as an unsigned
 * integer (little-endian; the VLAN protocol, kept in network order, big-endian).
 */
function rows(store: TraitStore, named: Map<number, string>): Row[] {
  return store.keys().map((key) => {
    const bytes = store.getBytes(key)!, bigEndian = key === VLAN_PROTO_KEY && named.get(key) === "vlan_proto";
    const value = bytes.length === 0 ? "" : String((bigEndian ? bytes : bytes.slice().reverse()).reduce((v, b) => (v << 8n) | BigInt(b), 0n));
    return { key, name: named.get(key) ?? "", length: bytes.length, hex: Buffer.from(bytes).toString("hex"), value };
  });
}

function table(list: Row[]): string {
  const head = ["key", "name", "length", "hex", "unsigned"], body = list.map((r) => [String(r.key), r.name, String(r.length), r.hex, r.value]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((cells) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

function decode(argv: string[]): void {
  const p = parse(argv, ["file", "offset", "capacity", "profile", "registry", "key", "hardware-keys"], ["json"]);
  const profile = toProfile(one(p, "profile"));
  const hardware = one(p, "hardware-keys") ?? "off";
  if (hardware !== "keys" && hardware !== "off") throw new UsageError(`--hardware-keys must be keys or off, not ${JSON.stringify(hardware)}`);
  if (p.positional.length > 1) throw new UsageError(`decode takes one hex argument, not ${p.positional.length}`);
  let bytes: Uint8Array;
  const file = one(p, "file");
  if (file) {
    if (p.positional.length) throw new UsageError("give a hex argument or --file, not both");
    const all = new Uint8Array(readFileSync(file));
    const offset = integer(one(p, "offset") ?? "0", "--offset", 0, all.length);
    const capacity = integer(one(p, "capacity") ?? String(all.length - offset), "--capacity", 0, all.length - offset);
    bytes = all.subarray(offset, offset + capacity);
  } else {
    bytes = parseHex(p.positional[0] ?? readFileSync(0, "utf8"));
  }
  if (bytes.length < 16) throw new TraitsError("ENOMEM", `a store needs at least its 16-byte header; got ${bytes.length} bytes`);
  const store = createStore(bytes.length, { profile });
  store.bytes().set(bytes);
  const size = store.size, list = rows(store, names(p, profile, hardware === "keys"));
  if (one(p, "json")) console.log(JSON.stringify({ profile, capacity: bytes.length, size, entries: list }, null, 2));
  else console.log(`store: ${size} of ${bytes.length} bytes in use, profile ${profile}\n${table(list)}`);
}

function registry(argv: string[]): void {
  const [action, ...rest] = argv;
  const p = parse(rest, ["file", "profile", "key", "description"], ["json"]);
  const file = one(p, "file");
  if (!file) throw new UsageError(`registry ${action ?? ""} needs --file FILE`);
  const profile = one(p, "profile") === undefined ? undefined : toProfile(one(p, "profile"));
  switch (action) {
    case "init": {
      if (existsSync(file)) throw new TraitsError("EEXIST", `${file} already exists`);
      new KeyRegistry(profile ? { profile } : {}).save(file);
      console.log(`created ${file}`);
      return;
    }
    case "add": {
      const [name, size] = p.positional;
      if (name === undefined || size === undefined || p.positional.length > 2) throw new UsageError("registry add takes NAME SIZE");
      const key = one(p, "key"), description = one(p, "description");
      const chosen = KeyRegistry.registerInFile(file, name, integer(size, "SIZE", 0, 8), {
        ...(key !== undefined && { key: integer(key, "--key", 0, 63) }),
        ...(description !== undefined && { description }),
        ...(profile && { profile }),
      });
      console.log(`${name} = key ${chosen}`);
      return;
    }
    case "rm": {
      const [name] = p.positional;
      if (name === undefined || p.positional.length > 1) throw new UsageError("registry rm takes NAME");
      KeyRegistry.update(file, (r) => r.unregister(name));
      console.log(`removed ${name}`);
      return;
    }
    case "ls": {
      const r = KeyRegistry.load(file);
      console.log(one(p, "json") ? JSON.stringify(r.toJSON(), null, 2) : r.dump());
      return;
    }
    default:
      throw new UsageError(`unknown registry action ${JSON.stringify(action ?? "")} (init, add, rm, ls)`);
  }
}

/** The registry of a pcap command (a file, or an empty one), with packet_id registered (8 bytes). */
function captureRegistry(p: Parsed, profile: Profile): KeyRegistry {
  const file = one(p, "registry");
  const r = file ? KeyRegistry.load(file) : new KeyRegistry({ profile });
  if (r.profile !== profile) throw new UsageError(`the registry is for profile ${r.profile}; pass --profile ${r.profile}`);
  r.register("packet_id", 8);
  const clash = r.entries().find((e) => e.key >= HARDWARE_FIRST_APP_KEY);
  if (clash) throw new TraitsError("EBUSY", `${clash.name} uses key ${clash.key}, but keys ${HARDWARE_FIRST_APP_KEY}..63 carry the hardware keys in captures`);
  return r;
}

function annotate(argv: string[]): void {
  const p = parse(argv, ["registry", "set", "profile"], ["comment"]);
  const [input, output] = p.positional;
  if (input === undefined || output === undefined || p.positional.length > 2) throw new UsageError("pcap annotate takes IN OUT");
  const profile = toProfile(one(p, "profile")), registry = captureRegistry(p, profile);
  const sets = (p.flags.get("set") ?? []).map((spec) => {
    const m = /^([^=]+)=(.+)$/.exec(spec);
    if (!m) throw new UsageError(`--set ${spec}: expected NAME=VALUE`);
    const entry = registry.lookup(m[1]!) ?? fail(new TraitsError("ENOENT", `--set ${spec}: ${m[1]} is not in the registry`));
    if (!/^(0x[0-9a-f]+|\d+)$/i.test(m[2]!)) throw new UsageError(`--set ${spec}: the value must be a decimal or 0x-hex integer`);
    return { entry, value: BigInt(m[2]!) };
  });
  const capture = readCapture(new Uint8Array(readFileSync(input)));
  const packets = capture.packets, ring = Math.max(1, Math.min(256, packets.length));
  const longest = packets.reduce((n, q) => Math.max(n, q.data.length), 0);
  const frameSize = Math.min(65536, Math.max(2048, Math.ceil((256 + longest) / 8) * 8));
  const pool = new PacketPool({ count: ring, frameSize, profile, hardwareKeys: "keys", registry });
  const fields = [{ key: registry.lookup("packet_id")!.key, len: 8 }, ...sets.map(({ entry }) => ({ key: entry.key, len: entry.size }))];
  const burst = pool.burst(ring, { slots: fields.length });
  const stores: Uint8Array[] = [], comments: string[] = [];
  for (let first = 0; first < packets.length; first += ring) {
    const n = Math.min(ring, packets.length - first), slots = burst.values();
    burst.selectRange(0, n);
    for (let i = 0; i < n; i++) {
      pool.reset(i);
      const packet = packets[first + i]!;
      pool.write(i, packet.data.subarray(0, pool.dataEnd - pool.headroom));
      slots.set([first + i, 0], 2 * i * fields.length);
      sets.forEach(({ value }, j) => slots.set([Number(value & 0xffffffffn), Number(value >> 32n)], 2 * (i * fields.length + j + 1)));
    }
    pool.batchSetMany(burst, fields, { replace: true });
    burst.status().forEach((rc, i) => {
      if (rc < 0) throw new TraitsError("EINVAL", `packet ${first + i}: cannot set its keys (errno ${rc}); check the --set values fit their sizes`);
    });
    for (let i = 0; i < n; i++) {
      const packet = packets[first + i]!, t = pool.traits(i), rx = rxInfo(packet.linkType, packet.data);
      t.set(HardwareKey.RX_TIMESTAMP, packet.timestampNs).set(HardwareKey.RX_HASH, rx.hash, 4).set(HardwareKey.RSS_HASH_TYPE, rx.type, 4);
      if (rx.vlan) t.set(HardwareKey.VLAN_TCI, rx.vlan.tci, 2).set(HardwareKey.VLAN_PROTO, rx.vlan.proto, 2);
      stores.push(t.toBytes());
      comments.push("traits: " + rows(t, new Map([...registry.entries().map((e) => [e.key, e.name] as const), ...HARDWARE_NAMES.map((name, h) => [HARDWARE_FIRST_APP_KEY + h, name] as const)]))
        .map((r) => `${r.name || r.key}=${r.length === 2 || r.length === 4 ? "0x" + Number(r.value).toString(16) : r.value}`).join(" "));
    }
  }
  const comment = one(p, "comment") !== undefined;
  const out = writePcapng(capture, (packet, i) => {
    const le = packet.block < 0 || capture.blocks[packet.block]!.littleEndian;
    const options: Option[] = [traitsOptionFor(stores[i]!, le)];
    if (comment) options.push(commentOption(comments[i]!));
    return options;
  });
  writeFileSync(output, out);
  console.log(`annotated ${packets.length} packets: ${output}`);
}

function show(argv: string[]): void {
  const p = parse(argv, ["registry", "profile"], ["json"]);
  const [input] = p.positional;
  if (input === undefined || p.positional.length > 1) throw new UsageError("pcap show takes FILE");
  const profile = toProfile(one(p, "profile")), registry = captureRegistry(p, profile);
  const named = new Map([...registry.entries().map((e) => [e.key, e.name] as const), ...HARDWARE_NAMES.map((name, h) => [HARDWARE_FIRST_APP_KEY + h, name] as const)]);
  const capture = readCapture(new Uint8Array(readFileSync(input)));
  const shown = capture.packets.map((packet, i) => {
    const bytes = traitsOption(packet, capture);
    if (!bytes) return { packet: i, traits: null };
    if (bytes.length < 16) throw new TraitsError("EBADMSG", `packet ${i}: its traits option holds ${bytes.length} bytes, less than a header`);
    const store = TraitStore.over(new Uint8Array(bytes), { profile, impl: "js" });
    store.validate();
    return { packet: i, traits: rows(store, named) };
  });
  if (one(p, "json")) {
    console.log(JSON.stringify(shown.map(({ packet, traits }) => ({ packet, traits: traits && Object.fromEntries(traits.map((r) => [r.name || String(r.key), { key: r.key, length: r.length, hex: r.hex, value: r.value }])) })), null, 2));
    return;
  }
  for (const { packet, traits } of shown) console.log(`packet ${packet}: ${traits ? "" : "no traits"}${traits ? "\n" + table(traits).replace(/^/gm, "  ") : ""}`);
}

function fail(error: Error): never {
  throw error;
}

/** Runs the command line; returns the exit code. */
export function main(argv: string[]): number {
  try {
    const [command, ...rest] = argv;
    if (command === undefined || command === "--help" || command === "help") {
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    }
    if (command === "decode") decode(rest);
    else if (command === "registry") registry(rest);
    else if (command === "pcap" && rest[0] === "annotate") annotate(rest.slice(1));
    else if (command === "pcap" && rest[0] === "show") show(rest.slice(1));
    else if (command === "xdp") return xdp(rest);
    else throw new UsageError(`unknown command ${JSON.stringify([command, ...rest.slice(0, 1)].join(" "))}`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`packet-traits: ${error.message} (see packet-traits --help)`);
      return 2;
    }
    if (error instanceof TraitsError) {
      console.error(`packet-traits: ${error.message}`);
      return 1;
    }
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "EISDIR") {
      console.error(`packet-traits: ${(error as Error).message}`);
      return 1;
    }
    throw error;
  }
}

