/**
 * packet-traits/xdp: the kernel bridge (Linux only; needs the optional dependency koffi and libbpf).
 * Loads BPF objects and runs their programs with BPF_PROG_TEST_RUN.
 */
export { BpfError } from "./errors.js";
export { BpfObject } from "./object.js";
export { testRun, type TestRunOptions, type TestRunResult } from "./run.js";
