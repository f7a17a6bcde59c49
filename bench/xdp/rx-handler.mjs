// The handler of the bench's XskGroup receiver (bench/xdp/child.js, role group): what the XskSocket
// receiver does per burst, in each queue's worker: nothing ("none"), or two batch gets (packet id and
// rx timestamp) in the pool's core. The frames then go back to the fill ring (verdict XDP_DROP, preset).
import { HardwareKey } from "packet-traits";

/** @param {import("packet-traits/xdp").XskContext} ctx */
export function burst({ pool, burst, args }) {
  if (/** @type {{ read: string }} */ (args).read === "none") return;
  pool.batchGet(burst, 0);
  pool.batchGet(burst, HardwareKey.RX_TIMESTAMP);
}
