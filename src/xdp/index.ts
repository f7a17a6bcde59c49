/**
 * packet-traits/xdp: the kernel bridge (Linux only; needs the optional dependency koffi and libbpf).
 * Loads BPF objects and runs their programs with BPF_PROG_TEST_RUN, on bytes or on a PacketPool's frames.
 */
export { BpfError } from "./errors.js";
export { BpfObject, type BpfLoadOptions } from "./object.js";
export { XdpAction, XdpProgram, xdpActionName, type XdpProgramOptions } from "./program.js";
export { RECEIVE_META_LENGTH, XskSocket, type XskMode, type XskOptions, type XskStatistics } from "./xsk.js";
export { XskGroup, rxQueues, type XskGroupOptions, type XskQueueStatistics } from "./group.js";
export type { XskContext } from "./xsk-worker.js";
export { EXAMPLE_PROGRAM, ORACLE_PROGRAM, RECEIVE_PROGRAM } from "./programs.js";
export { linearLimit, testRun, type TestRunOptions, type TestRunResult } from "./run.js";
export type { TraitsDeclaration } from "./declaration.js";
