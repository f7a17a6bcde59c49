/** Errors of the kernel bridge: a Linux errno name and number, and a one-line message. */

const NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  7: "E2BIG",
  9: "EBADF",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  19: "ENODEV",
  22: "EINVAL",
  28: "ENOSPC",
  38: "ENOSYS",
  90: "EMSGSIZE",
  95: "EOPNOTSUPP",
  524: "ENOTSUPP",
};

/**
 * The error every call of the kernel bridge raises, shaped like TraitsError: `.code` is the errno
 * name ("EPERM"), `.errno` the negative number (-1), and the one-line message says what failed.
 */
export class BpfError extends Error {
  /** Name of the error, e.g. "EPERM" ("E<n>" for a number without a name here). */
  readonly code: string;
  /** The negative Linux errno, e.g. -1. */
  readonly errno: number;

  /** `errno` may be given positive (as C's errno) or negative (as the kernel returns it). */
  constructor(errno: number, message: string) {
    const n = Math.abs(errno),
      code = NAMES[n] ?? `E${n}`;
    super(`${code}: ${message}`);
    this.name = "BpfError";
    this.code = code;
    this.errno = -n;
  }
}

/** What bpf() needs, for the message of an EPERM. */
export const PRIVILEGES = "bpf() needs root, or CAP_BPF with CAP_NET_ADMIN for XDP programs";
