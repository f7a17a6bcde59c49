/**
 * The lock file that serializes updates of a registry file across processes: `<real path>.lock`.
 *
 * - Taking it is atomic and it never exists without its content: the owner's token (pid, the
 *   process's start time, hostname, boot id, pid namespace, a random nonce, the time) is written to
 *   a temporary file, flushed, then hard-linked to the lock's name (link fails if the lock exists).
 * - Only the owner removes it: release, and the check made before a save is committed, compare the
 *   lock's content with the owner's token.
 * - A lock is stale (taken over) when its holder is provably gone: on this machine (same hostname,
 *   boot id and pid namespace) when its process no longer runs or its pid now belongs to a process
 *   that started later; from an earlier boot; or, when its holder cannot be checked (another host,
 *   another pid namespace, unreadable content), when it is older than `staleMs`. A live holder on
 *   this machine is never taken for dead, however long it holds the lock.
 * - Takeover is atomic: the stale lock is renamed to a unique name, then checked to be the one
 *   judged stale (if a new owner took the lock in between, it is put back).
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { TraitsError } from "../core/errors.js";
import { pauseAt } from "./pauses.js";

// Where SharedArrayBuffer does not exist (a page that is not cross-origin isolated), there is nothing to wait for.
const sleeper = new Int32Array(typeof SharedArrayBuffer === "function" ? new SharedArrayBuffer(4) : new ArrayBuffer(4));

/** Blocks this thread for `ms` milliseconds (Atomics.wait: allowed on Node's main thread too). */
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** How long to wait for a lock, and when a holder that cannot be checked counts as gone. */
export interface LockOptions {
  /** Give up with EBUSY after this many milliseconds; 0 tries once (default 10 000). */
  timeoutMs: number;
  /** A lock whose holder cannot be checked (another host or pid namespace) is stale after this many milliseconds (default 30 000). */
  staleMs: number;
}

/** A lock this process holds. */
export interface HeldLock {
  /** Throws EBUSY unless the lock file still holds our token (checked just before a save is committed). */
  check(): void;
  /** Removes the lock file if it is still ours (and leaves another owner's alone). */
  release(): void;
}

interface Token {
  pid: number;
  start: string;
  host: string;
  boot: string;
  pidns: string;
  nonce: string;
  time: number;
}

/** What is in a lock file now, or undefined if there is none. */
interface Holder {
  text: string;
  token: Token | undefined;
  ageMs: number;
}

let me: Omit<Token, "nonce" | "time"> | undefined;

/** This process's identity (read once). */
function identity(): Omit<Token, "nonce" | "time"> {
  me ??= {
    pid: process.pid,
    start: processStart(process.pid),
    host: hostname(),
    boot: readOr("/proc/sys/kernel/random/boot_id").trim(),
    pidns: linkOr("/proc/self/ns/pid"),
  };
  return me;
}

/** Takes the lock at `path`, waiting with short sleeps that block this thread (at most timeoutMs). Throws EBUSY on timeout. */
export function lockSync(path: string, options: LockOptions): HeldLock {
  const attempt = new Attempt(path, options);
  try {
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      const held = attempt.once();
      if (held) return held;
      sleepSync(Math.min(wait, attempt.remainingMs()));
    }
  } finally {
    attempt.dispose();
  }
}

/** Takes the lock at `path` as lockSync does, but waits with timers: the event loop keeps running. */
export async function lockAsync(path: string, options: LockOptions): Promise<HeldLock> {
  const attempt = new Attempt(path, options);
  try {
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      const held = attempt.once();
      if (held) return held;
      await sleep(Math.min(wait, attempt.remainingMs()));
    }
  } finally {
    attempt.dispose();
  }
}

/** One caller's attempts at a lock: its token file (written once, removed by dispose) and its deadline. */
class Attempt {
  private readonly deadline: number;
  private readonly token: string;
  private readonly nonce = randomBytes(12).toString("hex");
  private readonly temporary: string;

  constructor(
    private readonly path: string,
    private readonly options: LockOptions,
  ) {
    this.deadline = Date.now() + options.timeoutMs;
    this.token = JSON.stringify({ ...identity(), nonce: this.nonce, time: Date.now() } satisfies Token);
    this.temporary = `${path}.${this.nonce}.tmp`;
    const fd = openSync(this.temporary, "wx", 0o644);
    try {
      writeSync(fd, this.token);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Removes the token file (the lock, if taken, is a second link to it). */
  dispose(): void {
    unlinkSync(this.temporary);
  }

  remainingMs(): number {
    return Math.max(0, this.deadline - Date.now());
  }

  /** Takes the lock if it is free or stale; undefined if a live holder has it; EBUSY once the deadline has passed. */
  once(): HeldLock | undefined {
    for (;;) {
      if (this.link()) return this.held();
      const holder = readHolder(this.path);
      if (holder === undefined) continue; // released between our link and our read
      if (!stale(holder, this.options.staleMs)) {
        if (Date.now() >= this.deadline)
          throw new TraitsError(
            "EBUSY",
            `cannot lock ${this.path} within ${this.options.timeoutMs} ms: ${describeHolder(holder)}`,
          );
        return undefined;
      }
      pauseAt("lock.takeover");
      this.takeOver(holder);
    }
  }

  /** Links our token file to the lock's name (its time set to now: the lock's age starts here); false if a lock exists. */
  private link(): boolean {
    const now = new Date();
    utimesSync(this.temporary, now, now);
    try {
      linkSync(this.temporary, this.path);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST") return false;
      if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP")
        throw new TraitsError(
          "EOPNOTSUPP",
          `cannot lock ${this.path}: its filesystem does not support hard links (${code})`,
        );
      throw error;
    }
  }

  /** Moves a stale lock aside; removes it if it is the one judged stale, else puts it back. */
  private takeOver(judged: Holder): void {
    const aside = `${this.path}.${this.nonce}.stale`;
    try {
      renameSync(this.path, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return; // another process moved it first
      throw error;
    }
    try {
      if (readOr(aside) === judged.text) return;
      // The lock changed hands after we read it: give it back to its owner. If a third process locked
      // in the meantime, the owner's check before its save fails (EBUSY) and it saves nothing.
      linkSync(aside, this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    } finally {
      unlinkSync(aside);
    }
  }

  private held(): HeldLock {
    const { path, token } = this;
    return {
      check() {
        if (readOr(path) !== token)
          throw new TraitsError(
            "EBUSY",
            `lost the lock ${path} to another process (it judged this one stale): nothing was saved`,
          );
      },
      release() {
        pauseAt("lock.release");
        if (readOr(path) !== token) return;
        try {
          unlinkSync(path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error; // taken over as we released it
        }
      },
    };
  }
}

function readHolder(path: string): Holder | undefined {
  try {
    const text = readFileSync(path, "utf8"),
      ageMs = Date.now() - statSync(path).mtimeMs;
    return { text, token: parseToken(text), ageMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function parseToken(text: string): Token | undefined {
  try {
    const t = JSON.parse(text) as Token;
    return Number.isInteger(t.pid) && [t.start, t.host, t.boot, t.pidns, t.nonce].every((s) => typeof s === "string")
      ? t
      : undefined;
  } catch {
    return undefined;
  }
}

/** True if a lock's holder is gone: provably on this machine (a process gone, an earlier boot), else by the lock's age. */
function stale(holder: Holder, staleMs: number): boolean {
  const t = holder.token,
    self = identity();
  if (t && t.host === self.host && t.pidns === self.pidns) return t.boot !== self.boot || !running(t.pid, t.start);
  return holder.ageMs > staleMs;
}

/** True if process `pid` runs and is the one that started at `start` (when both start times are known). */
function running(pid: number, start: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  const now = processStart(pid);
  return !(start && now && now !== start);
}

function describeHolder(holder: Holder): string {
  const t = holder.token;
  const who = t
    ? `process ${t.pid} on ${t.host}`
    : `an unrecognized lock (${JSON.stringify(holder.text.slice(0, 40))})`;
  return `held by ${who} for ${Math.round(holder.ageMs)} ms`;
}

/** A process's start time (clock ticks since boot, field 22 of /proc/<pid>/stat), or "" where unknown. */
function processStart(pid: number): string {
  const stat = readOr(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
}

function readOr(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function linkOr(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return "";
  }
}
