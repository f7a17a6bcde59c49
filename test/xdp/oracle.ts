// The packet format of the kernel oracle (bpf/oracle.bpf.c): an op list in, each op's outputs and
// the store back out, with every other byte of data_out checked to be what went in.
import { testRun } from "packet-traits/xdp";
import type { Profile } from "packet-traits";

export type OpKind = "set" | "get" | "del" | "has" | "init";

/** One op: `len` is set's value length or get's out buffer size; `value` (8 bytes) is set's value, or get's out buffer before the call. */
export interface Op {
  kind: OpKind;
  key: bigint;
  len: number;
  value: Uint8Array;
}

/** What an op returned, and the store's size and header right after it. */
export interface Result {
  rc: number;
  /** set: the value as sent; get: the out buffer after the call; others: as sent. */
  value: Uint8Array;
  size: number;
  header: Uint8Array;
}

const KIND: Record<OpKind, number> = { set: 0, get: 1, del: 2, has: 3, init: 4 };
const HDR = 16,
  OP = 48;
/** The largest metadata area BPF_PROG_TEST_RUN grants (256 bytes of headroom less struct xdp_frame). */
export const META_MAX = 216;
/** Ops one run carries: the packet stays within the 3,520 bytes BPF_PROG_TEST_RUN takes for XDP. */
export const MAX_OPS = 60;
const GUARD = 0xa5;

/**
 * Runs `ops` on a store of `cap` bytes holding `init` in the kernel: in the metadata area (cap up
 * to 216, rounded up to 4 with guard bytes before the store), else at the packet's tail.
 * Returns each op's result and the store's bytes after the last; throws if any other byte of
 * data_out is not what was sent, or the program did not return XDP_PASS.
 */
export function runOracle(
  fd: number,
  profile: Profile,
  cap: number,
  init: Uint8Array,
  ops: Op[],
): { results: Result[]; store: Uint8Array } {
  const meta = cap <= META_MAX,
    region = meta ? (cap + 3) & ~3 : cap,
    n = ops.length;
  const packet = new Uint8Array(HDR + OP * n + region),
    view = new DataView(packet.buffer);
  view.setUint8(0, profile === "flags" ? 1 : 0);
  view.setUint8(1, meta ? 0 : 1);
  view.setUint16(2, cap, true);
  view.setUint16(4, region, true);
  view.setUint16(6, n, true);
  ops.forEach((op, i) => {
    const at = HDR + OP * i;
    view.setBigUint64(at, op.key, true);
    packet.set(op.value, at + 8);
    view.setUint32(at + 16, op.len, true);
    view.setUint8(at + 20, KIND[op.kind]);
    packet.fill(GUARD, at + 24, at + OP); // outputs: each must be written
  });
  const regionAt = HDR + OP * n;
  packet.fill(GUARD, regionAt, regionAt + region - cap);
  packet.set(init, regionAt + region - cap);

  const expected = meta ? concat(packet.subarray(regionAt), packet) : packet;
  const out = new Uint8Array(expected.length);
  const run = testRun(fd, { dataIn: packet, dataOut: out });
  if (run.retval !== 2 || run.dataSize !== out.length)
    throw new Error(`oracle returned ${run.retval} with ${run.dataSize} bytes (expected XDP_PASS, ${out.length})`);

  const base = meta ? region : 0,
    storeAt = meta ? region - cap : regionAt + region - cap,
    outView = new DataView(out.buffer);
  const mayChange = new Uint8Array(out.length);
  mayChange.fill(1, storeAt, storeAt + cap);
  const results = ops.map((op, i) => {
    const at = base + HDR + OP * i;
    mayChange.fill(1, at + 24, at + OP);
    if (op.kind === "get") mayChange.fill(1, at + 8, at + 16);
    return {
      rc: outView.getInt32(at + 24, true),
      value: out.slice(at + 8, at + 16),
      size: outView.getInt32(at + 28, true),
      header: out.slice(at + 32, at + 48),
    };
  });
  for (let i = 0; i < out.length; i++) {
    if (!mayChange[i] && out[i] !== expected[i])
      throw new Error(`oracle changed data_out byte ${i} (store at ${storeAt}, ${cap} bytes)`);
  }
  return { results, store: out.slice(storeAt, storeAt + cap) };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const all = new Uint8Array(a.length + b.length);
  all.set(a);
  all.set(b, a.length);
  return all;
}
