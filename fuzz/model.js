// A reference model of pool frames for the fuzz targets of fuzz/surfaces.js: what every public call
// on a PacketPool should return and leave behind, written from the format and the documented API
// (README.md, docs/FORMAT.md, docs/REGISTRY.md), not from the implementation. A frame is a Map of
// key -> { len, lo, hi } (profile-aware) or a corrupt header (16 raw bytes declaring more than the
// store's capacity: all ones declares 528 bytes, more than any frame of the fuzzers holds), the
// 32-byte hints area of placement "struct", the head, the packet length, the store's capacity (the
// head in store placement "frame", the metadata length in placement "metadata", where the store ends
// at the head), and an image of the frame's bytes outside its store with a mask of the bytes whose
// value is known (bytes that left the store by a push of the head are unknown).
import { Errno } from "packet-traits";

/** Value sizes of each profile, in size-code order (code = index + 1). */
export const SIZES = { v1: [2, 4, 8], flags: [0, 4, 8] };
/** Hardware keys: the key, its value size, its offset in the hints area; VLAN_PROTO (index 3) is big-endian. */
export const HW_KEYS = [0x10000, 0x10001, 0x10002, 0x10003, 0x10004];
export const HW_SIZES = [4, 4, 2, 2, 8];
/** The application key of hardware key 0 in placement "keys" (59..63). */
export const FIRST_APP_KEY = 59;
const HW_OFFSETS = [4, 8, 12, 14, 16],
  VLAN_PROTO = 3,
  HINTS = 32,
  ALL_ONES = new Uint8Array(16).fill(0xff);

/** 0..63 for an application key, 64 + i for hardware key i, -1 for anything else (numbers or bigints). */
export function keyId(key) {
  if (typeof key === "bigint") key = key >= 0n && key < 2n ** 53n ? Number(key) : -1;
  if (typeof key !== "number" || !Number.isInteger(key) || key < 0) return -1;
  if (key < 64) return key;
  const i = key - HW_KEYS[0];
  return i >= 0 && i < HW_KEYS.length ? 64 + i : -1;
}

/** True if (hi:lo) are u32 halves of a value that fits in `len` bytes (as trySet checks them). */
export function fitsPair(len, lo, hi) {
  if (lo >>> 0 !== lo || hi >>> 0 !== hi) return false;
  return len === 8 || (hi === 0 && (len === 4 || (len === 2 ? lo <= 0xffff : len === 0 && lo === 0)));
}

/** Bytes hardware key i takes as application key 59 + i: its size, but 4 for a u16 in profile flags. */
export function appLength(i, profile) {
  return HW_SIZES[i] === 2 && profile === "flags" ? 4 : HW_SIZES[i];
}

const swap16 = (x) => ((x & 0xff) << 8) | ((x >>> 8) & 0xff);

/** Little-endian bytes of the low `len` bytes of (hi:lo). */
export function leBytes(len, lo, hi) {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = i < 4 ? (lo >>> (8 * i)) & 0xff : (hi >>> (8 * (i - 4))) & 0xff;
  return out;
}

/** A pool's frames as the model sees them; `registry` is a KeyLookup (strict pool) or undefined. */
export class PoolModel {
  constructor({ count, frameSize, headroom, profile, placement, registry, store = "frame", metaLength = 32 }, images) {
    this.count = count;
    this.frameSize = frameSize;
    this.headroom = headroom;
    this.profile = profile;
    this.placement = placement;
    this.store = store;
    this.metaLength = store === "frame" ? headroom : metaLength;
    this.registry = registry;
    this.dataEnd = frameSize - (placement === "struct" ? HINTS : 0);
    this.frames = images.map((image) => ({
      head: headroom,
      length: 0,
      cap: this.metaLength,
      map: new Map(),
      corrupt: false,
      raw: ALL_ONES,
      hints: new Uint8Array(HINTS),
      image: image.slice(),
      known: new Uint8Array(frameSize).fill(1),
    }));
  }

  /** Bytes the store of frame f uses. */
  size(f) {
    let n = 16;
    for (const { len } of this.frames[f].map.values()) n += len;
    return n;
  }

  /** The store's bytes as the format lays them out: header (high, low), then values in key order. */
  serialize(f) {
    if (this.frames[f].corrupt) return this.frames[f].raw;
    const map = this.frames[f].map,
      keys = [...map.keys()].sort((a, b) => a - b),
      out = new Uint8Array(this.size(f)),
      view = new DataView(out.buffer);
    let high = 0n,
      low = 0n,
      at = 16;
    for (const k of keys) {
      const { len, lo, hi } = map.get(k),
        code = BigInt(SIZES[this.profile].indexOf(len) + 1);
      high |= (code >> 1n) << BigInt(k);
      low |= (code & 1n) << BigInt(k);
      out.set(leBytes(len, lo, hi), at);
      at += len;
    }
    view.setBigUint64(0, high, true);
    view.setBigUint64(8, low, true);
    return out;
  }

  /** The core's set of application key k: EINVAL, EBUSY, ENOSPC or 0 (`map` defaults to the frame's). */
  coreSet(f, k, len, lo, hi, map = this.frames[f].map) {
    if (k >= 64 || !SIZES[this.profile].includes(len)) return Errno.EINVAL;
    if (map === this.frames[f].map && this.frames[f].corrupt) return Errno.EBADMSG;
    const old = map.get(k);
    if (old) {
      if (old.len !== len) return Errno.EBUSY;
    } else {
      let used = 16;
      for (const v of map.values()) used += v.len;
      if (used + len > this.frames[f].cap) return Errno.ENOSPC;
    }
    map.set(k, { len, lo: len === 0 ? 0 : lo, hi: len === 8 ? hi : 0 });
    return 0;
  }

  /** What a strict store's registry says of setting key k with len bytes: 0, EPERM or EINVAL. */
  strict(k, len) {
    if (!this.registry) return 0;
    const size = this.registry.sizeOfKey(k);
    return size === len ? 0 : size < 0 ? Errno.EPERM : Errno.EINVAL;
  }

  /** store.trySet(key, lo, hi, len), arguments in the order of this model. */
  trySet(f, key, len, lo, hi) {
    const id = keyId(key);
    if (id < 0 || !fitsPair(len, lo, hi)) return Errno.EINVAL;
    if (id < 64) return this.strict(id, len) || this.coreSet(f, id, len, lo, hi);
    const i = id - 64;
    if (len !== HW_SIZES[i]) return Errno.EINVAL;
    if (this.placement === "off") return Errno.EOPNOTSUPP;
    if (this.placement === "keys")
      return (
        this.strict(FIRST_APP_KEY + i, appLength(i, this.profile)) ||
        this.coreSet(f, FIRST_APP_KEY + i, appLength(i, this.profile), i === VLAN_PROTO ? swap16(lo) : lo, hi)
      );
    const view = new DataView(this.frames[f].hints.buffer),
      at = HW_OFFSETS[i];
    if (len === 2) view.setUint16(at, lo, i !== VLAN_PROTO);
    else view.setUint32(at, lo, true);
    if (len === 8) view.setUint32(at + 4, hi, true);
    view.setUint32(0, view.getUint32(0, true) | (1 << i), true);
    return 0;
  }

  /** store.set(key, value, len) with a number value: checks the length and the value first, then as trySet. */
  set(f, key, value, len) {
    const id = keyId(key);
    if (id < 0) return Errno.EINVAL;
    if (id < 64 ? !SIZES[this.profile].includes(len) : len !== HW_SIZES[id - 64]) return Errno.EINVAL;
    if (!(Number.isSafeInteger(value) && value >= 0 && value < 2 ** (8 * len))) return Errno.EINVAL;
    return this.trySet(f, key, len, value % 2 ** 32, Math.floor(value / 2 ** 32));
  }

  /** store.tryGet(key, out) as [rc, lo, hi] (lo, hi only on success); outLen as tryGetBytes' out.length. */
  tryGet(f, key, outLen = 8) {
    const id = keyId(key),
      map = this.frames[f].map;
    if (id < 0) return [Errno.EINVAL];
    if ((id < 64 || this.placement === "keys") && this.frames[f].corrupt) return [Errno.EBADMSG];
    if (id < 64) {
      const v = map.get(id);
      if (!v) return [Errno.ENOENT];
      return v.len > outLen ? [Errno.ENOSPC] : [v.len, v.lo, v.hi];
    }
    const i = id - 64,
      size = HW_SIZES[i];
    if (this.placement === "keys") {
      const v = map.get(FIRST_APP_KEY + i);
      if (!v) return [Errno.ENOENT];
      if (v.len !== appLength(i, this.profile)) return [Errno.EBADMSG];
      if (size === 2 && v.lo > 0xffff) return [Errno.EBADMSG]; // an application's value, not a driver's
      if (size > outLen) return [Errno.ENOSPC];
      return [size, i === VLAN_PROTO ? swap16(v.lo) : v.lo, v.hi];
    }
    const view = new DataView(this.frames[f].hints.buffer);
    if (this.placement === "off" || ((view.getUint32(0, true) >>> i) & 1) === 0) return [Errno.ENOENT];
    if (size > outLen) return [Errno.ENOSPC];
    const at = HW_OFFSETS[i];
    return [
      size,
      size === 2 ? view.getUint16(at, i !== VLAN_PROTO) : view.getUint32(at, true),
      size === 8 ? view.getUint32(at + 4, true) : 0,
    ];
  }

  /** store.tryHas(key). */
  tryHas(f, key) {
    const id = keyId(key);
    if (id < 0) return Errno.EINVAL;
    if (id < 64) return this.frames[f].corrupt ? Errno.EBADMSG : this.frames[f].map.has(id) ? 1 : 0;
    const [rc] = this.tryGet(f, key);
    return rc === Errno.ENOENT ? 0 : rc < 0 ? rc : 1;
  }

  /** store.tryDelete(key). */
  tryDelete(f, key) {
    const id = keyId(key),
      fm = this.frames[f];
    if (id < 0) return Errno.EINVAL;
    if ((id < 64 || this.placement === "keys") && fm.corrupt) return Errno.EBADMSG;
    if (id < 64 || this.placement === "keys")
      return fm.map.delete(id < 64 ? id : FIRST_APP_KEY + id - 64) ? 0 : Errno.ENOENT;
    const view = new DataView(fm.hints.buffer),
      bits = view.getUint32(0, true),
      bit = 1 << (id - 64);
    if (this.placement === "off" || (bits & bit) === 0) return Errno.ENOENT;
    view.setUint32(0, bits & ~bit, true);
    return 0;
  }

  /** store.setMany(entries of [key, number, len]): each entry checked in order, then all or nothing. */
  setMany(f, entries) {
    for (const [key, value, len] of entries) {
      const id = keyId(key);
      if (id < 0 || id >= 64 || !SIZES[this.profile].includes(len)) return Errno.EINVAL;
      if (!(Number.isSafeInteger(value) && value >= 0 && value < 2 ** (8 * len))) return Errno.EINVAL;
      const rc = this.strict(id, len);
      if (rc) return rc;
    }
    return this.apply(
      f,
      entries.map(([key, value, len]) => [keyId(key), len, value % 2 ** 32, Math.floor(value / 2 ** 32)]),
      false,
    );
  }

  /** Sets [key, len, lo, hi] one by one on a copy (after a clear with replace); keeps it only if all succeed. */
  apply(f, sets, replace) {
    // A corrupt header fails the sets (after the first value's check) unless replace empties the store.
    if (this.frames[f].corrupt && !replace)
      return fitsPair(sets[0][1], sets[0][2], sets[0][3]) ? Errno.EBADMSG : Errno.EINVAL;
    const map = replace ? new Map() : new Map(this.frames[f].map);
    for (const [k, len, lo, hi] of sets) {
      if (!fitsPair(len, lo, hi)) return Errno.EINVAL;
      const rc = this.coreSet(f, k, len, lo, hi, map);
      if (rc) return rc;
    }
    this.frames[f].map = map;
    this.frames[f].corrupt = false;
    return 0;
  }

  /**
   * pool.adjustHead(f, delta) as an rc (the new head on success). Store placement "frame": the store's
   * capacity follows the head; "metadata": the store moves with the data, its capacity unchanged.
   */
  adjustHead(f, delta) {
    const fm = this.frames[f];
    if (!Number.isInteger(delta) || delta < -fm.head || delta > fm.length) return Errno.EINVAL;
    const next = fm.head + delta;
    if (this.store === "metadata") {
      if (next < fm.cap) return Errno.ENOSPC;
      if (delta % 4 !== 0) return Errno.EINVAL;
      this.moveHead(f, next, fm.length - delta, fm.cap);
      return next;
    }
    if (fm.corrupt) return Errno.EBADMSG;
    if (next < this.size(f)) return Errno.ENOSPC;
    this.moveHead(f, next, fm.length - delta);
    return next;
  }

  /**
   * pool.adjustMeta(f, delta) as an rc (the new metadata length). `bytes`: the frame's bytes before
   * the call, where the store's new header and values are (no byte moves: after a grow they are
   * whatever the headroom held, after a shrink the old store's values), parsed as the format says.
   */
  adjustMeta(f, delta, bytes) {
    const fm = this.frames[f];
    if (this.store === "frame") return Errno.EINVAL;
    if (!Number.isInteger(delta) || delta < fm.cap - fm.head || delta > fm.cap || delta % 4 !== 0) return Errno.EINVAL;
    fm.cap -= delta;
    this.parse(f, bytes.subarray(fm.head - fm.cap, fm.head));
    return fm.cap;
  }

  /** A corrupt header: all ones, 528 bytes declared. */
  corruptHeader(f) {
    Object.assign(this.frames[f], { map: new Map(), corrupt: true, raw: ALL_ONES });
    return 0;
  }

  /** Takes a store's bytes as they are: its entries, or a corrupt header if it declares more than its capacity. */
  parse(f, store) {
    const fm = this.frames[f],
      view = new DataView(store.buffer, store.byteOffset, store.length),
      high = view.getBigUint64(0, true),
      low = view.getBigUint64(8, true),
      map = new Map();
    let at = 16;
    for (let k = 0; k < 64; k++) {
      const code = Number((((high >> BigInt(k)) & 1n) << 1n) | ((low >> BigInt(k)) & 1n));
      if (code === 0) continue;
      const len = SIZES[this.profile][code - 1];
      if (at + len <= store.length)
        map.set(k, {
          len,
          lo: len >= 4 ? view.getUint32(at, true) : len === 2 ? view.getUint16(at, true) : 0,
          hi: len === 8 ? view.getUint32(at + 4, true) : 0,
        });
      at += len;
    }
    fm.corrupt = at > store.length;
    fm.map = fm.corrupt ? new Map() : map;
    fm.raw = store.slice(0, 16);
  }

  /** Moves a frame's head (and sets its store's capacity): bytes that leave the store (a push) held store garbage, unknown from now on. */
  moveHead(f, head, length, cap = this.store === "frame" ? head : this.frames[f].cap) {
    const fm = this.frames[f];
    if (head < fm.head) fm.known.fill(0, head, fm.head);
    fm.head = head;
    fm.length = length;
    fm.cap = cap;
  }

  /** pool.write(f, packet). */
  write(f, packet) {
    const fm = this.frames[f];
    if (packet.length > this.dataEnd - fm.head) return Errno.EINVAL;
    fm.length = packet.length;
    fm.image.set(packet, fm.head);
    fm.known.fill(1, fm.head, fm.head + packet.length);
    return 0;
  }

  /** The hardware keys of frame f as [key, len, lo, hi], or an errno (a key that cannot be read faithfully). */
  hardware(f) {
    const out = [];
    for (let i = 0; i < HW_KEYS.length; i++) {
      const [rc, lo, hi] = this.tryGet(f, HW_KEYS[i]);
      if (rc === Errno.ENOENT) continue;
      if (rc < 0) return rc;
      out.push([HW_KEYS[i], rc, lo, hi]);
    }
    return out;
  }

  /**
   * copyTraits / transfer of frame f to frame g of pool `dst`: faithful or nothing changes. Returns
   * 0 or an errno. `packet`: transfer (head, length and data follow; `move` empties the source).
   */
  copyTo(f, dst, g, { packet = false, move = false } = {}) {
    const src = this.frames[f];
    if (packet && src.head + src.length > dst.dataEnd) return Errno.ENOSPC;
    if (dst.profile !== this.profile) return Errno.EINVAL;
    if (src.corrupt) return Errno.EBADMSG;
    // A transfer gives a "metadata" destination the source's capacity ("frame" source: its used bytes, 4-aligned).
    const room = !packet
      ? dst.frames[g].cap
      : dst.store === "frame"
        ? src.head
        : this.store === "metadata"
          ? src.cap
          : (this.size(f) + 3) & ~3;
    if (packet && dst.store === "metadata" && (room > src.head || src.head % 4 !== 0)) return Errno.ENOSPC;
    if (this.size(f) > room) return Errno.ENOSPC;
    let map = new Map(src.map),
      hints = src.hints.slice();
    if (dst.placement !== this.placement) {
      const hw = this.hardware(f);
      if (typeof hw === "number") return hw;
      if (dst.placement === "off" && hw.length > 0) return Errno.EOPNOTSUPP;
      if (dst.placement === "keys" && this.placement !== "keys" && [59, 60, 61, 62, 63].some((k) => src.map.has(k)))
        return Errno.EBUSY;
      if (this.placement === "keys") for (const [key] of hw) map.delete(FIRST_APP_KEY + key - HW_KEYS[0]);
      hints = new Uint8Array(HINTS);
      if (dst.placement === "keys") {
        for (const [key, , lo, hi] of hw) {
          const i = key - HW_KEYS[0];
          map.set(FIRST_APP_KEY + i, { len: appLength(i, dst.profile), lo: i === VLAN_PROTO ? swap16(lo) : lo, hi });
        }
        let bytes = 16;
        for (const v of map.values()) bytes += v.len;
        if (bytes > room) return Errno.ENOSPC;
      } else if (dst.placement === "struct") {
        const view = new DataView(hints.buffer);
        for (const [key, len, lo, hi] of hw) {
          const i = key - HW_KEYS[0],
            at = HW_OFFSETS[i];
          if (len === 2) view.setUint16(at, lo, i !== VLAN_PROTO);
          else view.setUint32(at, lo, true);
          if (len === 8) view.setUint32(at + 4, hi, true);
          view.setUint32(0, view.getUint32(0, true) | (1 << i), true);
        }
      }
    }
    // A strict destination must allow every key the frame would hold there.
    for (const [k, { len }] of [...map].sort((a, b) => a[0] - b[0])) {
      const rc = dst.strict(k, len);
      if (rc) return rc;
    }
    if (packet && dst === this && f === g) return 0;
    const to = dst.frames[g];
    if (packet) {
      const data = src.image.slice(src.head, src.head + src.length),
        known = src.known.slice(src.head, src.head + src.length);
      dst.moveHead(g, src.head, src.length, room);
      to.image.set(data, to.head);
      to.known.set(known, to.head);
    }
    to.map = map;
    to.corrupt = false;
    if (dst.placement === "struct") to.hints = hints;
    if (move) {
      this.moveHead(f, this.headroom, 0, this.metaLength);
      src.map = new Map();
      src.corrupt = false;
      src.hints = new Uint8Array(HINTS);
    }
    return 0;
  }

  /** Throws if a pool's frames differ from the model: heads, lengths, store bytes, hints, and every known byte past the head. */
  check(pool, where) {
    for (let f = 0; f < this.count; f++) {
      const fm = this.frames[f],
        bytes = pool.frameBytes(f);
      if (pool.head(f) !== fm.head || pool.length(f) !== fm.length || pool.metaLengthOf(f) !== fm.cap)
        throw new Error(
          `${where}: frame ${f}: head ${pool.head(f)}, length ${pool.length(f)}, store capacity ${pool.metaLengthOf(f)}; the model says ${fm.head}, ${fm.length}, ${fm.cap}`,
        );
      const expected = this.serialize(f),
        store = bytes.subarray(fm.head - fm.cap);
      for (let i = 0; i < expected.length; i++)
        if (store[i] !== expected[i])
          throw new Error(
            `${where}: frame ${f}: store byte ${i} is ${store[i]}, the model says ${expected[i]} (store ${hex(store.subarray(0, expected.length))}, model ${hex(expected)})`,
          );
      for (let i = fm.head; i < this.dataEnd; i++)
        if (fm.known[i] && bytes[i] !== fm.image[i])
          throw new Error(
            `${where}: frame ${f}: byte ${i} (past the head ${fm.head}) is ${bytes[i]}, the model says ${fm.image[i]}`,
          );
      if (this.placement === "struct")
        for (let i = 0; i < HINTS; i++)
          if (bytes[this.dataEnd + i] !== fm.hints[i])
            throw new Error(
              `${where}: frame ${f}: hints byte ${i} is ${bytes[this.dataEnd + i]}, the model says ${fm.hints[i]}`,
            );
    }
  }
}

const hex = (bytes) => Buffer.from(bytes).toString("hex");
