// A process of `npm run bench -- --xdp` (bench/xdp.js), run in a namespace: ROLE ARG DEVICE SECONDS ...
//   gen PROG.o DEVICE SECONDS DST_MAC SRC_MAC   sends (BPF_PROG_TEST_RUN live frames, XDP_TX)
//   drop PROG.o DEVICE SECONDS                  counts and drops every packet: packets/s
//   rx none|wasm|js DEVICE SECONDS              an XskSocket polled on this thread: packets/s
//   group none|wasm|js DEVICE SECONDS QUEUES UMEM   an XskGroup, a worker per queue (bench/xdp/rx-handler.mjs)
//   forward PROG.o DEVICE SECONDS QUEUES        examples/forwarder's XskGroup and handler, tenant 9003 denied
// Each prints "ready", starts measuring at a line on stdin, and prints one JSON line at the end.
import { HardwareKey, PacketPool } from "packet-traits";
import { BpfObject, RECEIVE_META_LENGTH, XskGroup, XskSocket } from "packet-traits/xdp";
import { getNative } from "../../dist/xdp/ffi.js";
// @ts-expect-error: testRunAt is internal (stripped from the published declarations); the benchmark drives the kernel directly
import { testRunAt } from "../../dist/xdp/run.js";

const [role, arg, device, seconds] = [process.argv[2], process.argv[3], process.argv[4], Number(process.argv[5])];
const native = getNative();
const go = () =>
  new Promise((resolve) => {
    console.log("ready");
    process.stdin.once("data", resolve);
  });

if (role === "gen") {
  const [dstMac, srcMac] = [process.argv[6], process.argv[7]];
  const object = BpfObject.load(arg),
    ifindex = native.ifIndex(device);
  const packet = Buffer.alloc(64);
  Buffer.from(dstMac.replaceAll(":", ""), "hex").copy(packet, 0);
  Buffer.from(srcMac.replaceAll(":", ""), "hex").copy(packet, 6);
  packet.writeUInt16BE(0x0800, 12);
  Buffer.from("450000320000400040110000", "hex").copy(packet, 14);
  Buffer.from([10, 99, 0, 2, 10, 99, 0, 1]).copy(packet, 26); // addresses (the receiver does not route them)
  packet.writeUInt16BE(40000, 34);
  packet.writeUInt16BE(9000, 36);
  packet.writeUInt16BE(30, 38);
  const ctx = new Uint8Array(24),
    view = new DataView(ctx.buffer);
  view.setUint32(4, packet.length, true);
  view.setUint32(12, ifindex, true);
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    testRunAt(object.programFd(), {
      dataIn: native.address(packet),
      dataInSize: packet.length,
      dataOut: 0n,
      dataOutSize: 0,
      ctxIn: native.address(ctx),
      ctxInSize: 24,
      ctxOut: 0n,
      ctxOutSize: 0,
      repeat: 1 << 16,
      flags: 2,
      batchSize: 64,
    });
  }
  object.close();
} else if (role === "drop") {
  const object = BpfObject.load(arg),
    // @ts-expect-error: attachXdp is internal (stripped from the published declarations)
    link = object.attachXdp(native.ifIndex(device));
  const key = new Uint8Array(4),
    value = new BigUint64Array(1),
    fd = object.mapFd("dropped");
  const read = () => {
    native.mapLookup(fd, key, new Uint8Array(value.buffer));
    return value[0];
  };
  await go();
  const before = read(),
    t0 = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const count = read() - before,
    ns = process.hrtime.bigint() - t0;
  native.destroyLink(link);
  object.close();
  console.log(JSON.stringify({ pps: Number(count) / (Number(ns) / 1e9) }));
} else if (role === "group" || role === "forward") {
  const queues = Number(process.argv[6]),
    forward = role === "forward";
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  const pool = new PacketPool({
    memory,
    count: 4096 * queues,
    placement: "metadata",
    metaLength: forward ? 32 : RECEIVE_META_LENGTH,
    hardwareKeys: forward ? "off" : "keys",
    impl: arg === "js" ? "js" : "wasm",
  });
  const group = await XskGroup.open({
    pool,
    device,
    queues: Array.from({ length: queues }, (_, q) => q),
    ringSize: 4096,
    umem: forward || process.argv[7] !== "shared" ? "separate" : "shared",
    ...(forward
      ? {
          program: arg,
          handler: new URL("../../examples/forwarder/handler.mjs", import.meta.url),
          args: { deny: [9003] },
        }
      : { handler: new URL("./rx-handler.mjs", import.meta.url), args: { read: arg } }),
  });
  const received = () => group.statistics().map((q) => q.received);
  await go();
  const before = received(),
    t0 = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const after = received(),
    s = Number(process.hrtime.bigint() - t0) / 1e9;
  const workers = /** @type {Array<{ traitsNs: number, packets: number } | undefined>} */ (await group.close());
  const perQueue = after.map((n, q) => (n - before[q]) / s);
  console.log(
    JSON.stringify({
      pps: perQueue.reduce((a, b) => a + b, 0),
      perQueue,
      // The forwarder's handler: nanoseconds per packet in its batch reads of traits (over the whole run).
      ...(forward && {
        traitsNsPerPacket: workers.reduce((a, w) => a + w.traitsNs, 0) / workers.reduce((a, w) => a + w.packets, 0),
      }),
    }),
  );
} else {
  const pool = new PacketPool({
    count: 4096,
    placement: "metadata",
    metaLength: RECEIVE_META_LENGTH,
    hardwareKeys: "keys",
    impl: arg === "js" ? "js" : "wasm",
  });
  const socket = XskSocket.open({ pool, device, ringSize: 4096 });
  const burst = pool.burst(256);
  let received = 0,
    checksum = 0n;
  await go();
  const t0 = process.hrtime.bigint(),
    end = t0 + BigInt(seconds * 1e9);
  while (process.hrtime.bigint() < end) {
    const n = socket.receive(burst);
    if (n === 0) continue;
    if (arg !== "none") {
      pool.batchGet(burst, 0);
      pool.batchGet(burst, HardwareKey.RX_TIMESTAMP);
      checksum += burst.values64()[0];
    }
    received += n;
    socket.release(burst);
  }
  const ns = process.hrtime.bigint() - t0;
  socket.close();
  console.log(JSON.stringify({ pps: received / (Number(ns) / 1e9), checksum: String(checksum) }));
}
