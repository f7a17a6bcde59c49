/** BPF_PROG_TEST_RUN: runs a loaded program once on given bytes, as the kernel would on a packet. */
import { BpfError, PRIVILEGES } from "./errors.js";
import { getNative } from "./ffi.js";

const BPF_PROG_LOAD = 5,
  BPF_PROG_TEST_RUN = 10,
  BPF_PROG_TYPE_XDP = 6;
/** Size of the test-run part of union bpf_attr (through batch_size, padded to 8). */
const ATTR_SIZE = 80;

/** Input and output buffers of one test run. */
export interface TestRunOptions {
  /** The packet (for XDP: from the Ethernet header; at least 14 bytes). */
  dataIn: Uint8Array;
  /** Where the packet comes back (for XDP: the metadata area, then the packet); none if omitted. */
  dataOut?: Uint8Array;
  /** The context in (for XDP: a struct xdp_md, whose `data` field gives a metadata area of that length at the start of dataIn). */
  ctxIn?: Uint8Array;
  /** Where the context comes back. */
  ctxOut?: Uint8Array;
  /** Runs (the kernel reports the mean duration); default 1. */
  repeat?: number;
}

/** What one test run returned. */
export interface TestRunResult {
  /** The program's return value (for XDP the verdict: 0 ABORTED, 1 DROP, 2 PASS, 3 TX, 4 REDIRECT). */
  retval: number;
  /** Bytes of output data (written to dataOut, up to its length). */
  dataSize: number;
  /** Bytes of output context. */
  ctxSize: number;
  /** Mean time of one run, in nanoseconds. */
  duration: number;
}

const attr = new Uint8Array(new ArrayBuffer(ATTR_SIZE));
const view = new DataView(attr.buffer);

/**
 * Runs the program `progFd` once (or `repeat` times) with BPF_PROG_TEST_RUN. Data and context are
 * passed by address, so no byte is copied on this side.
 * Throws BpfError: EPERM (not permitted), EINVAL (bad sizes or context, or a program type or
 * device-bound program the kernel cannot test-run), ENOSPC (dataOut or ctxOut too short: the
 * result says how much was needed), EBADF (not a program fd).
 */
export function testRun(progFd: number, options: TestRunOptions): TestRunResult {
  const native = getNative(),
    { dataIn, dataOut, ctxIn, ctxOut } = options;
  const at = (view: Uint8Array | undefined) => (view ? native.address(view) : 0n);
  return testRunAt(progFd, {
    dataIn: at(dataIn),
    dataInSize: dataIn.byteLength,
    dataOut: at(dataOut),
    dataOutSize: dataOut?.byteLength ?? 0,
    ctxIn: at(ctxIn),
    ctxInSize: ctxIn?.byteLength ?? 0,
    ctxOut: at(ctxOut),
    ctxOutSize: ctxOut?.byteLength ?? 0,
    repeat: options.repeat ?? 1,
  });
}

/** @internal The buffers of one test run as addresses and sizes (0n: none). */
export interface TestRunAddresses {
  dataIn: bigint;
  dataInSize: number;
  dataOut: bigint;
  dataOutSize: number;
  ctxIn: bigint;
  ctxInSize: number;
  ctxOut: bigint;
  ctxOutSize: number;
  repeat: number;
  /** BPF_F_TEST_XDP_LIVE_FRAMES (2): XDP_TX and XDP_REDIRECT really transmit (a traffic generator); with batchSize. */
  flags?: number;
  batchSize?: number;
}

/** @internal testRun on addresses (XdpProgram runs on frames in WebAssembly memory); throws as testRun. */
export function testRunAt(progFd: number, a: TestRunAddresses): TestRunResult {
  const native = getNative();
  for (const [name, size] of [
    ["dataIn", a.dataInSize],
    ["dataOut", a.dataOutSize],
    ["ctxIn", a.ctxInSize],
    ["ctxOut", a.ctxOutSize],
    ["repeat", a.repeat],
  ] as const)
    if (!Number.isInteger(size) || size < 0 || size > 0xffffffff)
      throw new BpfError(22, `test run of program fd ${progFd}: ${name} is ${size}, not a u32 size`);
  attr.fill(0);
  view.setUint32(0, progFd, true);
  view.setUint32(8, a.dataInSize, true);
  view.setUint32(12, a.dataOutSize, true);
  view.setBigUint64(16, a.dataIn, true);
  view.setBigUint64(24, a.dataOut, true);
  view.setUint32(32, a.repeat, true);
  view.setUint32(40, a.ctxInSize, true);
  view.setUint32(44, a.ctxOutSize, true);
  view.setBigUint64(48, a.ctxIn, true);
  view.setBigUint64(56, a.ctxOut, true);
  view.setUint32(64, a.flags ?? 0, true);
  view.setUint32(72, a.batchSize ?? 0, true);
  if (native.bpf(BPF_PROG_TEST_RUN, attr) < 0) {
    const errno = native.errno();
    throw new BpfError(errno, `test run of program fd ${progFd}: ${failure(errno)}`);
  }
  return {
    retval: view.getUint32(4, true),
    dataSize: view.getUint32(12, true),
    ctxSize: view.getUint32(44, true),
    duration: view.getUint32(36, true),
  };
}

/** What a failed test run's errno means. */
function failure(errno: number): string {
  switch (errno) {
    case 1:
      return PRIVILEGES;
    case 22:
      return "the kernel refused the arguments (data size, context, or a program it cannot test-run)";
    case 28:
      return `dataOut or ctxOut too short (${view.getUint32(12, true)} data bytes, ${view.getUint32(44, true)} context bytes out)`;
    default:
      return "BPF_PROG_TEST_RUN failed";
  }
}

let linear: number | undefined;

/**
 * The longest packet BPF_PROG_TEST_RUN gives an XDP program in one buffer: the page size less
 * XDP_PACKET_HEADROOM and the skb_shared_info at the end (3520 bytes on x86-64 with 4 KiB pages).
 * A longer packet goes in several (the rest in page fragments), which only a program loaded with
 * frags support (SEC("xdp.frags")) can take. Asked of the kernel once: a test run of a two-instruction
 * program on a packet one byte over a page, whose context out says where the first buffer ends.
 * Throws BpfError as testRun.
 */
export function linearLimit(): number {
  if (linear !== undefined) return linear;
  const native = getNative(),
    page = native.pageSize();
  const insns = new Uint8Array([0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]), // r0 = XDP_PASS; exit
    license = new TextEncoder().encode("GPL\0"),
    load = new Uint8Array(72),
    v = new DataView(load.buffer);
  v.setUint32(0, BPF_PROG_TYPE_XDP, true);
  v.setUint32(4, 2, true);
  v.setBigUint64(8, native.address(insns), true);
  v.setBigUint64(16, native.address(license), true);
  const fd = native.bpf(BPF_PROG_LOAD, load);
  if (fd < 0) {
    const errno = native.errno();
    throw new BpfError(errno, `loading a probe XDP program: ${failure(errno)}`);
  }
  try {
    const data = new Uint8Array(page + 1),
      ctx = new Uint8Array(48);
    new DataView(ctx.buffer).setUint32(4, data.length, true);
    testRun(fd, { dataIn: data, ctxIn: ctx.subarray(0, 24), ctxOut: ctx.subarray(24) });
    linear = new DataView(ctx.buffer).getUint32(28, true);
  } finally {
    native.closeFd(fd);
  }
  return linear;
}
