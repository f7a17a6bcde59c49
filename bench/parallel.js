// The WorkerGroup handler of `npm run bench -- --workers LIST`: runs a workload's batch side on each burst.
import { BURST_OPS } from "./burst-ops.js";

const state = { id: 0 };

export function burst({ pool, burst, args }) {
  return BURST_OPS[args.workload](pool, burst, state);
}
