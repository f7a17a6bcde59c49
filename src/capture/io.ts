/**
 * Files for the capture pipeline, in large chunks: an input reading a file or stdin (synchronously,
 * or between turns of the event loop so that signals are handled), and an output that never loses
 * data: a new file is written as a temporary file in the target's directory and renamed over the
 * target only when complete; on any error (or a signal: src/cli/transform.ts), the target is
 * untouched and the temporary file removed. Every fs error becomes a FileError naming the path the user gave
 * (never the temporary one).
 */
import {
  accessSync,
  closeSync,
  constants,
  fstatSync,
  openSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { Socket, type SocketConstructorOpts } from "node:net";
import { basename, dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { ReadStream, isatty } from "node:tty";
import { READ_CHUNK, type AsyncByteSource, type ByteSource } from "./capture.js";

/** An fs error as the user should read it: `code` is the errno name (ENOSPC), the message names the user's path. */
export class FileError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = "FileError";
  }

  /** A FileError from a Node fs error (one with a syscall) while doing `what` (e.g. "cannot write out.pcapng"); other errors are returned as they are. */
  static from(error: unknown, what: string): unknown {
    const { code, syscall } = (error ?? {}) as NodeJS.ErrnoException;
    if (typeof code !== "string" || typeof syscall !== "string") return error;
    const reason = /^E[A-Z0-9]+: ([^,]+)/.exec((error as Error).message)?.[1] ?? code;
    return new FileError(code, `${what}: ${reason}`);
  }
}

/** What retrying() waits on (made on first use: browsers without cross-origin isolation have no SharedArrayBuffer, and the browser build imports this module). */
let pause: Int32Array | undefined;

/** Runs an fs call, waiting and retrying while it reports EAGAIN (a non-blocking pipe or terminal). */
export function retrying<T>(call: () => T): T {
  for (;;) {
    try {
      return call();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
      pause ??= new Int32Array(new SharedArrayBuffer(4));
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

/**
 * The input of a command: a file, or `-` for the descriptor `stdin`. `source` reads it synchronously;
 * `input` between turns of the event loop: a file (or a device) a chunk at a time, a pipe, FIFO,
 * socket or terminal as a stream (so that a read waiting for data does not block the process, and
 * ends when its signal aborts). Use one of them, not both. Throws FileError.
 */
export function openInput(path: string, stdin = 0): { source: ByteSource; input: AsyncByteSource; close(): void } {
  let fd: number, stream: boolean;
  try {
    fd = path === "-" ? stdin : openSync(path, "r");
    const stat = fstatSync(fd);
    if (stat.isDirectory())
      throw Object.assign(new Error("EISDIR: illegal operation on a directory"), { code: "EISDIR", syscall: "read" });
    stream = stat.isFIFO() || stat.isSocket() || isatty(fd);
  } catch (error) {
    throw FileError.from(error, `cannot read ${path}`);
  }
  const source: ByteSource = {
    read(into, at, length) {
      try {
        return retrying(() => readSync(fd, into, at, length, null));
      } catch (error) {
        throw FileError.from(error, `cannot read ${path}`);
      }
    },
  };
  let reader: (AsyncByteSource & { close(): void }) | undefined;
  const input: AsyncByteSource = stream
    ? {
        read(into, at, length, signal) {
          // A chunk is buffered while the pipeline works, so that each read takes up to a chunk, as from a file.
          reader ??= streamInput(
            isatty(fd)
              ? new ReadStream(fd, buffered)
              : new Socket({ fd, readable: true, writable: false, ...buffered }),
            path,
          );
          return reader.read(into, at, length, signal);
        },
      }
    : {
        // A file never keeps a read waiting: each chunk is read at once, then the event loop turns (signals arrive).
        read: (into, at, length) =>
          new Promise((resolve, reject) => {
            try {
              const n = source.read(into, at, length);
              setImmediate(() => resolve(n));
            } catch (error) {
              reject(error);
            }
          }),
      };
  return {
    source,
    input,
    close() {
      reader?.close();
      if (path !== "-" && !reader) closeSync(fd);
    },
  };
}

/** Options of a stream that buffers up to a chunk (net.Socket passes them to stream.Duplex; its types omit them). */
const buffered = { readableHighWaterMark: READ_CHUNK } as SocketConstructorOpts;

/** An AsyncByteSource over a stream (a pipe, a socket, a terminal): its chunks copied as they come; close() destroys it. */
function streamInput(stream: Readable, path: string): AsyncByteSource & { close(): void } {
  let chunk: Buffer | null = null,
    used = 0,
    ended = false,
    failure: unknown,
    wake: (() => void) | undefined;
  const woken = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  stream.on("readable", woken);
  stream.on("end", () => {
    ended = true;
    woken();
  });
  stream.on("error", (error) => {
    failure = error;
    woken();
  });
  return {
    async read(into, at, length, signal) {
      for (;;) {
        // Whatever has come, up to length.
        let n = 0;
        while (n < length) {
          if (!chunk || used === chunk.length) {
            chunk = stream.read() as Buffer | null;
            used = 0;
            if (!chunk) break;
          }
          const k = Math.min(length - n, chunk.length - used);
          into.set(chunk.subarray(used, used + k), at + n);
          used += k;
          n += k;
        }
        if (n > 0) return n;
        if (failure !== undefined) throw FileError.from(failure, `cannot read ${path}`);
        if (ended) return 0;
        signal?.throwIfAborted();
        await new Promise<void>((resolve) => {
          wake = resolve;
          signal?.addEventListener("abort", woken, { once: true });
        });
        signal?.removeEventListener("abort", woken);
      }
    },
    close() {
      stream.destroy();
    },
  };
}

/** Writes bytes[at, at + length) to fd completely. */
export function writeAll(fd: number, bytes: Uint8Array, at: number, length: number): void {
  while (length > 0) {
    const n = retrying(() => writeSync(fd, bytes, at, length));
    at += n;
    length -= n;
  }
}

/**
 * The output of a command: `-` for the descriptor `stdout`; a path that exists and is not a regular
 * file (a FIFO, /dev/null, /dev/full) written in place; else a temporary file beside the target,
 * renamed over it by commit(). Throws FileError.
 */
export class Output {
  private constructor(
    private readonly target: string,
    /** The descriptor written (for a writer in another thread, e.g. the Parquet encoder). */
    readonly fd: number,
    /** The temporary file renamed over the target by commit(), if the target is written that way. */
    readonly temporary: string | undefined,
  ) {}

  /** Opens the output for `target`. */
  static open(target: string, stdout = 1): Output {
    if (target === "-") return new Output(target, stdout, undefined);
    try {
      let special = false;
      try {
        special = !statSync(target).isFile();
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
      if (special) return new Output(target, openSync(target, "w"), undefined);
      const temporary = join(
        dirname(target),
        `.${basename(target)}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`,
      );
      return new Output(target, openSync(temporary, "wx", 0o644), temporary);
    } catch (error) {
      throw FileError.from(error, `cannot write ${target}`);
    }
  }

  /**
   * Opens `target` for a live capture: written in place as it goes, as `tcpdump -w` does (there is no
   * old file to protect, and what was written survives a crash); `-` is `stdout`. commit() and
   * abort() only close it. Throws FileError.
   */
  static live(target: string, stdout = 1): Output {
    if (target === "-") return new Output(target, stdout, undefined);
    try {
      return new Output(target, openSync(target, "w", 0o644), undefined);
    } catch (error) {
      throw FileError.from(error, `cannot write ${target}`);
    }
  }

  /**
   * Checks that live() could open `target` for writing, without opening it (an old file stays as it
   * is): it or, if it does not exist, its folder must be writable. Throws FileError.
   */
  static checkLive(target: string): void {
    if (target === "-") return;
    try {
      try {
        accessSync(target, constants.W_OK);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        accessSync(dirname(target), constants.W_OK);
      }
    } catch (error) {
      throw FileError.from(error, `cannot write ${target}`);
    }
  }

  /** Writes bytes[at, at + length). */
  write(bytes: Uint8Array, at: number, length: number): void {
    try {
      writeAll(this.fd, bytes, at, length);
    } catch (error) {
      throw FileError.from(error, `cannot write ${this.target === "-" ? "stdout" : this.target}`);
    }
  }

  /** Completes the output: closes it and renames the temporary file over the target. */
  commit(): void {
    if (this.target === "-") return;
    try {
      closeSync(this.fd);
      if (this.temporary) renameSync(this.temporary, this.target);
    } catch (error) {
      this.removeTemporary();
      throw FileError.from(error, `cannot write ${this.target}`);
    }
  }

  /** Gives up: closes the output and removes the temporary file (the target is untouched). */
  abort(): void {
    if (this.target === "-") return;
    try {
      closeSync(this.fd);
    } catch {
      // Already closed by a failed commit, or the close itself failed: the file is removed either way.
    }
    this.removeTemporary();
  }

  private removeTemporary(): void {
    if (!this.temporary) return;
    try {
      unlinkSync(this.temporary);
    } catch {
      // Gone already.
    }
  }
}

/** Text written to a descriptor in chunks of about 64 KiB: what `pcap show` prints. */
export class TextOut {
  private parts: string[] = [];
  private size = 0;

  constructor(private readonly fd: number) {}

  /** Adds a line (a newline is appended). */
  line(text: string): void {
    this.parts.push(text, "\n");
    this.size += text.length + 1;
    if (this.size >= 65536) this.flush();
  }

  /** Writes what is buffered. */
  flush(): void {
    if (this.size === 0) return;
    const bytes = Buffer.from(this.parts.join(""));
    this.parts = [];
    this.size = 0;
    writeAll(this.fd, bytes, 0, bytes.length);
  }
}
