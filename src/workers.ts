/** `packet-traits/workers`: WorkerGroup, batch operations and handlers on a shared pool in Node worker threads. */
export { WorkerGroup, type FileUrl, type WorkerGroupOptions, type WorkerTask } from "./workers/workers.js";
export type { BurstContext } from "./workers/worker.js";
