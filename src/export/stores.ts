/**
 * The trait stores of an export, decoded where they lie (in the capture reader's buffer, or a
 * packet's bytes): a store is decoded by the core (TraitStore.tryDecode, which checks it), and its
 * layout (keys, sizes, where each value is) kept; the next store with the same header words and the
 * same length has the same layout, so its values are read at those places, with no copy and no call
 * into the core. Captures repeat headers (a tool writes the same keys into every packet); a store of
 * another header is decoded in full.
 */
import { TraitsError } from "../core/errors.js";
import { toImpl, type Profile } from "../core/options.js";
import { useMemory } from "../core/select.js";
import { TraitStore } from "../store/store.js";
import type { DecodedTraits } from "./table.js";

/** The largest trait store (an option value is at most 65535 bytes). */
const MAX_STORE = 65536;

/** Decodes trait stores (see the top of this file); one decode at a time: each result is valid until the next. */
export class StoreDecoder {
  /** The result of the last decode. */
  private readonly decoded: DecodedTraits = {
    count: 0,
    layout: 0,
    keys: new Uint8Array(64),
    lens: new Uint8Array(64),
    values: new Uint32Array(128),
  };
  /** Where each value of the last layout is, from the store's start. */
  private readonly offsets = new Uint16Array(64);
  /** The last layout's header words, length and profile (length -1: none yet). */
  private readonly header = new Int32Array(4);
  private length = -1;
  private profile: Profile = "v1";
  /** A view of the bytes of the last store, and those bytes. */
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private viewOf: Uint8Array | undefined;
  /** The core's decoding: a scratch memory and a view per profile, made at the first full decode. */
  private core: { bytes: Uint8Array; stores: Record<Profile, TraitStore> } | undefined;

  /**
   * Decodes the store bytes[at, at + length) of `profile`: its entries (keys in ascending order, lens,
   * values as u32 lo/hi pairs), valid until the next call. Throws EBADMSG (with the core's reason) for
   * a store that is corrupt or not a store's size.
   */
  decode(bytes: Uint8Array, at: number, length: number, profile: Profile): DecodedTraits {
    if (length < 16 || length > MAX_STORE)
      throw new TraitsError("EBADMSG", `its traits option holds ${length} bytes, not a store (16 to ${MAX_STORE})`);
    if (bytes !== this.viewOf) {
      this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.viewOf = bytes;
    }
    const { view, header } = this;
    const w0 = view.getInt32(at, true),
      w1 = view.getInt32(at + 4, true),
      w2 = view.getInt32(at + 8, true),
      w3 = view.getInt32(at + 12, true);
    if (
      w0 !== header[0] ||
      w1 !== header[1] ||
      w2 !== header[2] ||
      w3 !== header[3] ||
      length !== this.length ||
      profile !== this.profile
    ) {
      this.length = -1; // until the full decode succeeds
      this.decodeAll(bytes, at, length, profile);
      header[0] = w0;
      header[1] = w1;
      header[2] = w2;
      header[3] = w3;
      this.length = length;
      this.profile = profile;
      return this.decoded;
    }
    const { count, lens, values } = this.decoded,
      offsets = this.offsets;
    for (let i = 0; i < count; i++) {
      const size = lens[i]!,
        where = at + offsets[i]!;
      if (size === 8) {
        values[2 * i] = view.getUint32(where, true);
        values[2 * i + 1] = view.getUint32(where + 4, true);
      } else if (size === 4) values[2 * i] = view.getUint32(where, true);
      else if (size === 2) values[2 * i] = view.getUint16(where, true);
    }
    return this.decoded;
  }

  /** Decodes the store through the core (a copy in its memory), and keeps where each value is. Throws EBADMSG. */
  private decodeAll(bytes: Uint8Array, at: number, length: number, profile: Profile): void {
    const core = (this.core ??= StoreDecoder.makeCore()),
      d = this.decoded;
    d.layout++; // keys and lens are rewritten
    if (length <= 64) for (let i = 0; i < length; i++) core.bytes[i] = bytes[at + i]!;
    else core.bytes.set(bytes.subarray(at, at + length));
    const count = core.stores[profile].retarget(0, length).tryDecode(d.keys, d.lens, d.values);
    if (count < 0) throw new TraitsError("EBADMSG", `corrupt trait store (errno ${count})`);
    d.count = count;
    // Values are packed after the 16-byte header in key order, which is the entries' order.
    for (let i = 0, offset = 16; i < count; i++) {
      this.offsets[i] = offset;
      offset += d.lens[i]!;
    }
  }

  private static makeCore(): NonNullable<StoreDecoder["core"]> {
    // The core's scratch area in the second page: the memory never grows (a growth detaches its
    // buffer, and the first detached buffer makes V8 check every typed array access of the thread).
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 2 });
    if (toImpl(undefined) === "wasm") useMemory(memory, { scratch: MAX_STORE });
    const store = (profile: Profile) => TraitStore.at(memory, 0, 16, { profile });
    return {
      bytes: new Uint8Array(memory.buffer, 0, MAX_STORE),
      stores: { v1: store("v1"), flags: store("flags") },
    };
  }
}
