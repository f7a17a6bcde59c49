// The fast path of `pcap annotate` (src/capture/annotate.ts): classic little-endian pcap records
// in, pcapng Enhanced Packet Blocks with a trait store out, in one loop over whole records. It does
// what the JS path does for such a record (parse it, hash it as rxHash in src/capture/rss.ts does,
// set the store with storeSetMany, assemble the block as PcapngWriter.packet does) and stops, for
// the JS path to take over, at anything else: a record not all in the input, a sub-second
// timestamp out of range, a VLAN-tagged packet, a store error, a full output chunk, or the count.
import { FIELDS_M } from "./abi";
import { commentText } from "./comment";
import { prepareFields, storeSetMany } from "./store";

/** Largest record: MAX_RECORD of src/capture/capture.ts (a longer one is the JS path's error). */
const MAX_RECORD: u32 = 16 << 20;
const EPB: u32 = 6;
const TRAITS_OPTION: u16 = 2989;
const TRAITS_PEN: u32 = 32473;
const OPT_COMMENT: u16 = 1, EPB_HASH: u16 = 3, EPB_PACKETID: u16 = 5, HASH_TOEPLITZ: u8 = 5;
const RSS_IPV4: u32 = 1, RSS_IPV6: u32 = 2, RSS_L4: u32 = 8, RSS_TCP: u32 = 16, RSS_UDP: u32 = 32;

/** The table-driven Toeplitz hash of the n bytes at `from` then the n2 at `from2`: table[256 p + v] is byte value v's share at input position p. */
// @ts-ignore: decorator
@inline function toeplitz(table: usize, from: usize, n: u32, from2: usize, n2: u32): u32 {
  let hash: u32 = 0;
  for (let i: u32 = 0; i < n; i++) hash ^= load<u32>(table + ((<usize>i << 10) | (<usize>load<u8>(from + i) << 2)));
  for (let i: u32 = 0; i < n2; i++) hash ^= load<u32>(table + ((<usize>(n + i) << 10) | (<usize>load<u8>(from2 + i) << 2)));
  return hash;
}

/**
 * Writes the RSS hash and its type of the packet at [at, end) of pcap link type `linkType` into
 * the u64 slots at `slots` and slots + 8 (0 and 0 for a packet that is not IP or is truncated).
 * Returns false, writing nothing, for an Ethernet packet with a VLAN tag.
 */
// @ts-ignore: decorator
@inline function rxHash(table: usize, at: usize, end: usize, linkType: u32, slots: usize): bool {
  let etherType: u32 = 0, hash: u32 = 0, type: u32 = 0;
  if (linkType == 1) {
    if (at + 14 <= end) {
      etherType = <u32>bswap<u16>(load<u16>(at, 12));
      at += 14;
      if ((etherType == 0x8100 || etherType == 0x88a8) && at + 4 <= end) return false;
    }
  } else if ((linkType == 101 || linkType == 228 || linkType == 229) && at < end) {
    const version = <u32>load<u8>(at) >> 4;
    etherType = version == 4 ? 0x0800 : version == 6 ? 0x86dd : 0;
  }
  if (etherType == 0x0800 && at + 20 <= end) {
    const ihl = (<u32>load<u8>(at) & 0x0f) << 2, protocol = <u32>load<u8>(at, 9);
    const fragment = <u32>bswap<u16>(load<u16>(at, 6)) & 0x3fff, ports = at + ihl;
    if (ihl >= 20 && fragment == 0 && (protocol == 6 || protocol == 17) && ports + 4 <= end) {
      hash = toeplitz(table, at + 12, 8, ports, 4);
      type = RSS_IPV4 | RSS_L4 | (protocol == 6 ? RSS_TCP : RSS_UDP);
    } else {
      hash = toeplitz(table, at + 12, 8, 0, 0);
      type = RSS_IPV4;
    }
  } else if (etherType == 0x86dd && at + 40 <= end) {
    const next = <u32>load<u8>(at, 6), ports = at + 40;
    if ((next == 6 || next == 17) && ports + 4 <= end) {
      hash = toeplitz(table, at + 8, 32, ports, 4);
      type = RSS_IPV6 | RSS_L4 | (next == 6 ? RSS_TCP : RSS_UDP);
    } else {
      hash = toeplitz(table, at + 8, 32, 0, 0);
      type = RSS_IPV6;
    }
  }
  store<u64>(slots, <u64>hash);
  store<u64>(slots, <u64>type, 8);
  return true;
}

/** Copies n bytes from `from` to `to` (not overlapping): 8 at a time up to 256 bytes, where a call of memory.copy costs more than the loop. */
// @ts-ignore: decorator
@inline function copy(to: usize, from: usize, n: u32): void {
  if (n > 256) {
    memory.copy(to, from, n);
    return;
  }
  let i: usize = 0;
  for (; i + 8 <= <usize>n; i += 8) store<u64>(to + i, load<u64>(from + i));
  for (; i < <usize>n; i++) store<u8>(to + i, load<u8>(from + i));
}

/** Zeroes the bytes from at + n up to the next multiple of 4 of n; returns that end. */
// @ts-ignore: decorator
@inline function padded(at: usize, n: u32): usize {
  const end = at + ((<usize>n + 3) & ~3);
  for (let p = at + n; p < end; p++) store<u8>(p, 0);
  return end;
}

/**
 * Annotates the classic little-endian pcap records at [input, inputEnd) of interface 0 (link type
 * `linkType`, `nanoseconds` 1 for ns timestamps, else µs) into EPBs from `output` on, starting
 * blocks while the output is below `outputLimit` (the caller leaves room for a maximal record
 * after it), at most `max` records. Each store is set by the prepared field list at `fields` with
 * replace (prepared here), from the u64 slots at `values`: slot 0 is the packet id (counted up from its value),
 * the last three the RSS hash, its type and the timestamp in ns (written here); `storeSize` is the
 * size of such a store; `table` is the 36 * 256 u32 Toeplitz table (rss.ts). After the traits option
 * go the standard options PcapngWriter writes for such a store: epb_packetid, and epb_hash (Toeplitz)
 * unless the hash type is 0; then, with a `comment` plan (comment.ts; 0 for none), our comment. Writes the input and
 * output positions reached as u32 at result and result + 4, and at result + 8 1 if it stopped at a
 * record not all in the input (else 0). Returns the number of records annotated.
 */
export function pcapAnnotate(input: usize, inputEnd: usize, output: usize, outputLimit: usize, max: u32, linkType: u32, nanoseconds: u32, profile: u32, fields: usize, values: usize, storeSize: u32, table: usize, comment: usize, result: usize): i32 {
  prepareFields(fields, profile);
  const perSecond: u64 = nanoseconds != 0 ? 1_000_000_000 : 1_000_000, nsPerTick: u64 = nanoseconds != 0 ? 1 : 1000;
  const hashSlots = values + ((<usize>load<u32>(fields, FIELDS_M) - 3) << 3);
  let at = input, out = output, n: u32 = 0, partial: u32 = 0;
  while (n < max && out < outputLimit) {
    if (at + 16 > inputEnd) {
      partial = 1;
      break;
    }
    const seconds = <u64>load<u32>(at), fraction = <u64>load<u32>(at, 4), captured = load<u32>(at, 8);
    if (captured > MAX_RECORD - 16) break;
    if (<usize>captured > inputEnd - at - 16) {
      partial = 1;
      break;
    }
    if (fraction >= perSecond) break;
    const data = at + 16;
    if (!rxHash(table, data, data + captured, linkType, hashSlots)) break;
    store<u64>(hashSlots, seconds * 1_000_000_000 + fraction * nsPerTick, 16);
    const option = padded(out + 28, captured);
    if (storeSetMany(option + 8, storeSize, profile, fields, values, true) < 0) break;
    const ticks = seconds * perSecond + fraction;
    store<u32>(out, EPB);
    store<u32>(out, 0, 8);
    store<u32>(out, <u32>(ticks >> 32), 12);
    store<u32>(out, <u32>ticks, 16);
    store<u32>(out, captured, 20);
    store<u32>(out, load<u32>(at, 12), 24);
    copy(out + 28, data, captured);
    store<u16>(option, TRAITS_OPTION);
    store<u16>(option, <u16>(4 + storeSize), 2);
    store<u32>(option, TRAITS_PEN, 4);
    let end = padded(option + 8, storeSize);
    store<u16>(end, EPB_PACKETID);
    store<u16>(end, 8, 2);
    store<u64>(end, load<u64>(values), 4);
    end += 12;
    if (load<u64>(hashSlots, 8) != 0) {
      store<u16>(end, EPB_HASH);
      store<u16>(end, 5, 2);
      store<u32>(end, 0, 8); // the padding, under the hash's last byte
      store<u8>(end, HASH_TOEPLITZ, 4);
      store<u32>(end, <u32>load<u64>(hashSlots), 5);
      end += 12;
    }
    if (comment != 0) {
      const text = commentText(end + 4, comment, values), length = <u32>(text - end - 4);
      store<u16>(end, OPT_COMMENT);
      store<u16>(end, <u16>length, 2);
      end = padded(end + 4, length);
    }
    store<u32>(end, 0);
    const length = <u32>(end + 8 - out);
    store<u32>(out, length, 4);
    store<u32>(end, length, 4);
    store<u64>(values, load<u64>(values) + 1);
    out += length;
    at = data + captured;
    n++;
  }
  store<u32>(result, <u32>at);
  store<u32>(result, <u32>out, 4);
  store<u32>(result, partial, 8);
  return n;
}
