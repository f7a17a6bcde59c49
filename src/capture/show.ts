/**
 * The show pipeline: each packet's traits, by name, streamed: a line (or a table) per packet as it
 * is read. Names come from the registry given, else from the capture's own names option, else, for
 * keys 59..63, from the hardware keys; a key with no name is shown by number.
 */
import { TraitsError } from "../core/errors.js";
import type { Profile } from "../core/options.js";
import { TraitStore } from "../store/store.js";
import {
  BLOCK,
  CaptureReader,
  END,
  KEYS_OPTION,
  PACKET,
  READER_BYTES,
  SHB,
  TRAITS_OPTION,
  parseKeysText,
  type ByteSource,
  type KeyName,
} from "./capture.js";
import { hardwareNames } from "./annotate.js";
import { rowsTable, storeRows } from "./rows.js";

/** What show prints. */
export interface ShowOptions {
  /** Names from a registry file: they win over the capture's. */
  registry?: ReadonlyMap<number, string>;
  /** The profile of the stores; default the capture's (from its names option), else v1. */
  profile?: Profile;
  /** One JSON object a line (decode --json's shape, with the packet's index) instead of tables. */
  json: boolean;
  /** Stop after this many packets. */
  limit: number;
}

/**
 * The names and profile of the current section's stores: from the section's names option (else the
 * hardware keys' names, profile v1), with a registry's names over them and a profile given over the section's.
 */
export class SectionNames {
  profile: Profile = "v1";
  names = new Map<number, string>();
  private readonly decoder = new TextDecoder();

  constructor(private readonly given: { registry?: ReadonlyMap<number, string>; profile?: Profile } = {}) {
    this.take(undefined);
  }

  /** Takes the names of the section the reader is in (at its section header block, or a pcap file's header). */
  read(reader: CaptureReader): void {
    const value = reader.format === "pcapng" ? reader.ourOption(KEYS_OPTION) : undefined;
    this.take(value && parseKeysText(this.decoder.decode(value)));
  }

  private take(ours: { profile: Profile; keys: KeyName[] } | undefined): void {
    this.profile = this.given.profile ?? ours?.profile ?? "v1";
    this.names = new Map([...hardwareNames(this.profile), ...(ours?.keys ?? [])].map((k) => [k.key, k.name]));
    for (const [key, name] of this.given.registry ?? []) this.names.set(key, name);
  }
}

/**
 * Reads the capture `source` gives and passes each packet's traits to `line`, as text lines.
 * Returns the number of packets. Throws EBADMSG naming the byte offset (and the packet) of what is
 * malformed, a corrupt store included.
 */
export function showCapture(source: ByteSource, line: (text: string) => void, options: ShowOptions): number {
  const reader = new CaptureReader(source, Buffer.allocUnsafeSlow(READER_BYTES)); // pages are touched only as records fill them
  const section = new SectionNames(options);
  let count = 0;
  for (let kind = reader.next(true); kind !== END && count < options.limit; kind = reader.next(true)) {
    if ((kind === BLOCK && reader.type === SHB) || (reader.format === "pcap" && reader.packet === 0))
      section.read(reader);
    if (kind !== PACKET) continue;
    count++;
    const { profile, names } = section,
      packet = reader.packet,
      found = reader.ourOption(TRAITS_OPTION);
    if (!found) {
      line(
        options.json
          ? JSON.stringify({ packet, profile, capacity: 0, size: 0, entries: null })
          : `packet ${packet}: no traits`,
      );
      continue;
    }
    let rows, size;
    try {
      if (found.length < 16)
        throw new TraitsError("EBADMSG", `its traits option holds ${found.length} bytes, less than a header`);
      const store = TraitStore.over(new Uint8Array(found), { profile, impl: "js" }); // a copy, 8-byte aligned
      size = store.validate();
      rows = storeRows(store, names);
    } catch (error) {
      if (!(error instanceof TraitsError)) throw error;
      throw new TraitsError(
        error.code,
        `byte offset ${reader.offset}: packet ${packet}: ${error.message.replace(/^[A-Z]+: /, "")}`,
      );
    }
    if (options.json) line(JSON.stringify({ packet, profile, capacity: found.length, size, entries: rows }));
    else line(`packet ${packet}:\n${rowsTable(rows).replace(/^/gm, "  ")}`);
  }
  return count;
}
