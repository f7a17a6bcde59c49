// The demo page: reads a pcapng dropped on it with the package's capture reader and decodes every
// packet's trait store (the custom option `pcap annotate` writes) with the WASM core, by name.
import { HardwareKey, KeyRegistry, createStore, type Profile, type TraitValue } from "packet-traits";
import { readCapture, traitsOption } from "packet-traits/capture";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const drop = $<HTMLDivElement>("drop"), input = $<HTMLInputElement>("files"), status = $<HTMLDivElement>("status");
const table = $<HTMLTableElement>("packets"), profileSelect = $<HTMLSelectElement>("profile");

/** Hardware keys as `pcap annotate` stores them (placement "keys": application keys 59..63): key -> hardware key. */
const HARDWARE = new Map(Object.values(HardwareKey).map((key) => [59 + key - HardwareKey.RX_HASH, key]));
/** Their names, as tools show them. */
const HARDWARE_NAMES = new Map(Object.entries(HardwareKey).map(([name, key]) => [59 + key - HardwareKey.RX_HASH, name.toLowerCase()]));

/** Key names: the dropped registry's, else packet_id at the key `pcap annotate` gives it in an empty registry. */
function names(registry: KeyRegistry | undefined): Map<number, string> {
  const r = registry ?? new KeyRegistry();
  if (!registry) r.register("packet_id", 8);
  return new Map([...r.entries().map((e) => [e.key, e.name] as const), ...HARDWARE_NAMES]);
}

function show(value: TraitValue, len: number): string {
  return len === 0 ? "set" : len === 8 ? value.toString() : "0x" + value.toString(16);
}

/** Decodes a capture and fills the table. */
function render(bytes: Uint8Array, registry: KeyRegistry | undefined): void {
  const profile = profileSelect.value as Profile, capture = readCapture(bytes), named = names(registry);
  const body = table.tBodies[0]!;
  body.replaceChildren();
  let impl = "";
  capture.packets.forEach((packet, i) => {
    const row = body.insertRow(), option = traitsOption(packet, capture);
    row.insertCell().textContent = String(i);
    row.insertCell().textContent = new Date(Number(packet.timestampNs / 1_000_000n)).toISOString().replace("T", " ").replace("Z", "");
    row.insertCell().textContent = String(packet.originalLength);
    const cell = row.insertCell();
    cell.className = "traits";
    if (!option) {
      cell.textContent = "no traits";
      return;
    }
    const store = createStore(Math.max(16, option.length), { profile, hardwareKeys: "keys" });
    impl = store.impl;
    store.bytes().set(option);
    for (const [key, raw] of store.entries()) {
      const hardware = HARDWARE.get(key), value = hardware === undefined ? raw : store.get(hardware)!; // VLAN_PROTO is in network order
      const span = cell.appendChild(document.createElement("span")), len = store.getBytes(key)!.length;
      span.innerHTML = `<b></b>=`;
      span.firstChild!.textContent = named.get(key) ?? `key ${key}`;
      span.append(show(value, len));
    }
    store.free();
  });
  table.hidden = false;
  status.textContent = `${capture.packets.length} packets (${capture.format}), decoded in this page by the ${impl === "wasm" ? "WebAssembly" : impl} core.`;
  status.dataset.impl = impl;
}

async function load(files: FileList | File[]): Promise<void> {
  try {
    const list = [...files], json = list.find((f) => f.name.endsWith(".json")), capture = list.find((f) => !f.name.endsWith(".json"));
    const registry = json ? KeyRegistry.parse(await json.text()) : undefined;
    if (registry) profileSelect.value = registry.profile;
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
