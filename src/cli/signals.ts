/**
 * The signals that end a command: SIGINT (Ctrl-C), SIGTERM (kill, a service manager) and SIGHUP
 * (the terminal went away). Every command that holds output or kernel state ends the same way on
 * each of them: a live capture keeps what it wrote, a transform removes its temporary file and
 * leaves OUT as it was, and a program attached to an interface is detached.
 */

/** The signals that stop a command cleanly, in the order a user is likely to send them. */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Calls `stop(signal)` whenever SIGINT, SIGTERM or SIGHUP arrives, instead of Node's default (dying
 * at once, with output half written). While installed, these signals no longer end the process:
 * `stop` must make the command end. Returns the function that removes the handlers (call it when
 * the command ends, so that a later signal behaves as usual).
 */
export function onStopSignals(stop: (signal: NodeJS.Signals) => void): () => void {
  const handler = (signal: NodeJS.Signals) => stop(signal);
  for (const signal of STOP_SIGNALS) process.on(signal, handler);
  return () => {
    for (const signal of STOP_SIGNALS) process.removeListener(signal, handler);
  };
}
