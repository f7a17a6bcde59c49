/**
 * A transform of a capture file into another (pcap annotate, xdp run) that nothing stops halfway:
 * its output goes through a temporary file (src/capture/io.ts's Output), renamed into place when
 * complete, and removed on an error or on SIGINT, SIGTERM or SIGHUP, which leave the target as it
 * was and end the command with one line and the exit code a shell gives for the signal.
 */
import { constants } from "node:os";
import type { AsyncByteSource } from "../capture/capture.js";
import { Output, openInput } from "../capture/io.js";
import { onStopSignals } from "./signals.js";

/** A command stopped by SIGINT, SIGTERM or SIGHUP: one line for the user, and the exit code a shell gives for the signal (128 + its number). */
export class StopError extends Error {
  readonly exitCode: number;

  constructor(
    readonly signal: NodeJS.Signals,
    message: string,
  ) {
    super(`stopped by ${signal}: ${message}`);
    this.name = "StopError";
    this.exitCode = 128 + (constants.signals[signal] ?? 0);
  }
}

/**
 * Stops a command that writes `target`: on SIGINT, SIGTERM or SIGHUP the returned AbortSignal aborts
 * with a StopError (the command then removes its temporary file and leaves the target as it was);
 * off() removes the handlers. Install it before the output is opened (a signal before then ends the
 * process as usual, with no file to remove), and call off() at once if the output is written in place
 * (stdout, a FIFO): with nothing to protect, the signals keep their default action there, so that a
 * command blocked on a full pipe still ends at once.
 */
export function stopOnSignals(target: string): { signal: AbortSignal; off(): void } {
  const controller = new AbortController();
  const off = onStopSignals((signal) => controller.abort(new StopError(signal, `${target} left as it was`)));
  return { signal: controller.signal, off };
}

/**
 * Runs a transform of the capture `inputPath` (`-`: the descriptor io.stdin) into `outputPath` (`-`:
 * io.stdout) so that nothing is lost: `run` reads `input` and writes `sink`; the output is committed
 * (renamed into place) when it resolves, and removed, leaving the target as it was, when it rejects or
 * a signal stops it (see stopOnSignals: `signal` then aborts, and `run` must end). Resolves to what
 * `run` resolves to; rejects with FileError, StopError, or what `run` rejects with.
 */
export async function transform<T>(
  inputPath: string,
  outputPath: string,
  io: { stdin: number; stdout: number },
  run: (input: AsyncByteSource, sink: Output, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const input = openInput(inputPath, io.stdin);
  try {
    const stop = stopOnSignals(outputPath);
    try {
      const sink = Output.open(outputPath, io.stdout);
      if (!sink.temporary) stop.off();
      try {
        const result = await run(input.input, sink, stop.signal);
        sink.commit();
        return result;
      } catch (error) {
        sink.abort();
        throw error;
      }
    } finally {
      stop.off();
    }
  } finally {
    input.close();
  }
}
