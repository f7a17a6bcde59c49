/** Where the package's prebuilt BPF objects are (bpf/ at the package root), for the ES module and the CommonJS build alike. */
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// This module is dist/xdp/programs.js, dist/cjs/xdp/programs.js, or inside the bundled dist/cli/bin.js.
const here = dirname(fileURLToPath(import.meta.url));
const BPF = join(here, basename(dirname(here)) === "cjs" ? "../../.." : "../..", "bpf");

/** The shipped example XDP program (bpf/example.bpf.o): a store with a packet id, the RSS hash and type, and the VLAN tag in each packet's metadata area (docs/KERNEL.md). */
export const EXAMPLE_PROGRAM = join(BPF, "example.bpf.o");
/** The shipped oracle XDP program (bpf/oracle.bpf.o): applies an op list carried in the packet to a store through bpf/traits.bpf.h. */
export const ORACLE_PROGRAM = join(BPF, "oracle.bpf.o");
/** The shipped receive program (bpf/receive.bpf.o) for XskSocket and `xdp capture`: a 48-byte store from the rx-metadata kfuncs. */
export const RECEIVE_PROGRAM = join(BPF, "receive.bpf.o");
/** The receive program's own keys besides the hardware keys (bpf/receive.bpf.c), as a capture names them. */
export const RECEIVE_KEYS = [
  { name: "packet_id", key: 0, size: 8 },
  { name: "timestamp_source", key: 1, size: 2 },
] as const;
