/**
 * A test hook: PACKET_TRAITS_TEST_PAUSES="step=ms,step=ms" makes the thread sleep `ms` at each named
 * step, so that tests can widen the races of the lock file and of the shared registry's lock word
 * (test/registry/). Unset (always, outside those tests), pauseAt does nothing.
 * Steps: lock.acquired, lock.save, lock.release, lock.takeover (registry file lock);
 * shared.claim (SharedKeyRegistry, holding its lock word between the name and the header bits).
 */
const pauses = new Map<string, number>();
try {
  for (const item of (globalThis.process?.env?.PACKET_TRAITS_TEST_PAUSES ?? "").split(",")) {
    const [step, ms] = item.split("=");
    if (step && Number(ms) > 0) pauses.set(step.trim(), Number(ms));
  }
} catch {
  // no access to the environment (Deno without --allow-env): no pauses
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Blocks this thread for `ms` milliseconds (Atomics.wait: allowed on Node's main thread too). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Sleeps at `step` if PACKET_TRAITS_TEST_PAUSES names it (tests only). */
export function pauseAt(step: string): void {
  const ms = pauses.get(step);
  if (ms !== undefined) sleepSync(ms);
}
