/**
 * Files for the capture pipeline, synchronously and in large chunks: a source reading a file or
 * stdin, and an output that never loses data: a new file is written as a temporary file in the
 * target's directory and renamed over the target only when complete; on any error the target is
 * untouched and the temporary file removed. Every fs error becomes a FileError naming the path the
 * user gave (never the temporary one).
 */
import { closeSync, fstatSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { ByteSource } from "./capture.js";

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

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Runs an fs call, waiting and retrying while it reports EAGAIN (a non-blocking pipe or terminal). */
function retrying<T>(call: () => T): T {
  for (;;) {
    try {
      return call();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

/** The input of a command: a file, or `-` for the descriptor `stdin`. Throws FileError. */
export function openInput(path: string, stdin = 0): { source: ByteSource; close(): void } {
  let fd: number;
  try {
    fd = path === "-" ? stdin : openSync(path, "r");
    if (fstatSync(fd).isDirectory())
      throw Object.assign(new Error("EISDIR: illegal operation on a directory"), { code: "EISDIR", syscall: "read" });
  } catch (error) {
    throw FileError.from(error, `cannot read ${path}`);
  }
  return {
    source: {
      read(into, at, length) {
        try {
          return retrying(() => readSync(fd, into, at, length, null));
        } catch (error) {
          throw FileError.from(error, `cannot read ${path}`);
        }
      },
    },
    close() {
      if (path !== "-") closeSync(fd);
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
    private readonly temporary: string | undefined,
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
