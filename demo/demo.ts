// The demo page: reads a pcapng dropped on it with the package's capture reader (CaptureReader, in
// this page's memory) and decodes every packet's trait store (the option `pcap annotate` writes)
// with the WASM core, by name: the names the capture carries (its names option), or a dropped registry's.
import { HardwareKey, KeyRegistry, createStore, type Profile, type TraitValue } from "packet-traits";
import { BLOCK, CaptureReader, END, KEYS_OPTION, PACKET, READER_BYTES, SHB, TRAITS_OPTION, bytesSource, parseKeysText } from "packet-traits/capture";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const drop = $<HTMLDivElement>("drop"), input = $<HTMLInputElement>("files"), status = $<HTMLDivElement>("status");
const table = $<HTMLTableElement>("packets"), profileSelect = $<HTMLSelectElement>("profile");

/** Hardware keys as `pcap annotate` stores them (placement "keys": application keys 59..63): key -> hardware key, and their names. */
const HARDWARE = new Map(Object.values(HardwareKey).map((key) => [59 + key - HardwareKey.RX_HASH, key]));
const HARDWARE_NAMES = new Map(Object.entries(HardwareKey).map(([name, key]) => [59 + key - HardwareKey.RX_HASH, name.toLowerCase()]));

function show(value: TraitValue, len: number): string {
  return len === 0 ? "set" : len === 8 ? value.toString() : "0x" + value.toString(16);
}

/** Decodes a capture and fills the table. */
function render(bytes: Uint8Array, registry: KeyRegistry | undefined): void {
  const reader = new CaptureReader(bytesSource(bytes), new Uint8Array(READER_BYTES)), decoder = new TextDecoder(), time = new Uint32Array(2);
  const body = table.tBodies[0]!;
  body.replaceChildren();
  let impl = "", packets = 0, profile = profileSelect.value as Profile, names = new Map(HARDWARE_NAMES);
  for (let kind = reader.next(true); kind !== END; kind = reader.next(true)) {
    if (kind === BLOCK && reader.type === SHB) {
      // A section: the names and profile `pcap annotate` wrote into it; a dropped registry's names win.
      const carried = reader.ourOption(KEYS_OPTION), parsed = carried && parseKeysText(decoder.decode(carried));
      if (parsed) profile = parsed.profile;
      names = new Map([...HARDWARE_NAMES, ...(parsed?.keys ?? []).map((k) => [k.key, k.name] as const), ...(registry?.entries() ?? []).map((e) => [e.key, e.name] as const)]);
    }
    if (kind !== PACKET) continue;
    packets++;
    const row = body.insertRow(), option = reader.ourOption(TRAITS_OPTION);
    reader.timestampNs(time, 0);
    const ns = (BigInt(time[1]!) << 32n) | BigInt(time[0]!);
    row.insertCell().textContent = String(reader.packet);
    row.insertCell().textContent = new Date(Number(ns / 1_000_000n)).toISOString().replace("T", " ").replace("Z", "");
    row.insertCell().textContent = String(reader.original);
    const cell = row.insertCell();
    cell.className = "traits";
    if (!option) {
      cell.textContent = "no traits";
      continue;
    }
    const store = createStore(Math.max(16, option.length), { profile, hardwareKeys: "keys" });
    impl = store.impl;
    store.bytes().set(option);
    for (const [key, raw] of store.entries()) {
      const hardware = HARDWARE.get(key), value = hardware === undefined ? raw : store.get(hardware)!; // VLAN_PROTO is in network order
      const span = cell.appendChild(document.createElement("span")), len = store.getBytes(key)!.length;
      span.appendChild(document.createElement("b")).textContent = names.get(key) ?? `key ${key}`;
      span.append("=" + show(value, len));
    }
    store.free();
  }
  table.hidden = false;
  status.textContent = `${packets} packets (${reader.format}, profile ${profile}), decoded in this page by the ${impl === "wasm" ? "WebAssembly" : impl} core.`;
  status.dataset.impl = impl;
}

async function load(files: FileList | File[]): Promise<void> {
  try {
    const list = [...files], json = list.find((f) => f.name.endsWith(".json")), capture = list.find((f) => !f.name.endsWith(".json"));
    const registry = json ? KeyRegistry.parse(await json.text()) : undefined;
    if (!capture) throw new Error("no capture among the files");
    render(new Uint8Array(await capture.arrayBuffer()), registry);
  } catch (error) {
    status.className = "error";
    status.textContent = (error as Error).message;
  }
}

drop.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer) void load(e.dataTransfer.files);
});
input.addEventListener("change", () => input.files && void load(input.files));
