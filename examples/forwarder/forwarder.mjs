#!/usr/bin/env node
// The reference packet processor: an l2 forwarder over every rx queue of an interface, each queue in its
// own worker over one shared WebAssembly memory (XskGroup), its XDP program (forward.bpf.c) writing a
// traits store per packet, its handler (handler.mjs) dropping by a trait rule and sending the rest back
// out with the Ethernet addresses swapped, from the same frames.
//
//   node examples/forwarder/forwarder.mjs IF [--deny PORT,...] [--queues all|0,1] [--seconds S] [--zero-copy] [--program forward.bpf.o]
//
// Runs until SIGINT/SIGTERM (or S seconds); prints "ready" once packets flow, then, at the end, one JSON
// line: each queue's statistics and each worker's time in trait reads.
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PacketPool } from "packet-traits";
import { XskGroup } from "packet-traits/xdp";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    deny: { type: "string", default: "" },
    queues: { type: "string", default: "all" },
    seconds: { type: "string" },
    "zero-copy": { type: "boolean", default: false },
    program: { type: "string", default: join(import.meta.dirname, "forward.bpf.o") },
  },
});
const [device] = positionals;
if (!device) {
  console.error("usage: forwarder.mjs IF [--deny PORT,...] [--queues all|0,1] [--seconds S] [--zero-copy] [--program P.o]");
  process.exit(2);
}
const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
const pool = new PacketPool({ memory, count: 8192, placement: "metadata", metaLength: 32, hardwareKeys: "off" });
const group = await XskGroup.open({
  pool,
  device,
  queues: values.queues === "all" ? "all" : values.queues.split(",").map(Number),
  program: values.program,
  mode: values["zero-copy"] ? "zero-copy" : "copy",
  handler: new URL("./handler.mjs", import.meta.url),
  args: { deny: values.deny ? values.deny.split(",").map(Number) : [] },
});
console.log("ready");
console.error(`forwarder: ${device} queues ${group.queues.join(",")}, ${group.mode} mode`);
const stop = () => void group.close();
process.once("SIGINT", stop).once("SIGTERM", stop);
if (values.seconds) setTimeout(stop, Number(values.seconds) * 1000).unref();
const workers = await group.done;
console.log(
  JSON.stringify({ queues: group.statistics(), workers }, (_, v) => (typeof v === "bigint" ? String(v) : v)),
);
