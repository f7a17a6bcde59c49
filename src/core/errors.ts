/** Negative Linux errno values returned by every non-throwing call, as in the C original. */
export const Errno = {
  EPERM: -1,
  ENOENT: -2,
  ENOMEM: -12,
  EBUSY: -16,
  EEXIST: -17,
  EINVAL: -22,
  ERANGE: -34,
  ENOSPC: -28,
  ENAMETOOLONG: -36,
  EBADMSG: -74,
  EMSGSIZE: -90,
  EOPNOTSUPP: -95,
  EOWNERDEAD: -130,
} as const;

/** Name of an errno code, e.g. "ENOSPC". */
export type ErrnoName = keyof typeof Errno;

const names = new Map<number, ErrnoName>(Object.entries(Errno).map(([name, errno]) => [errno, name as ErrnoName]));

/** Returns the name of a negative errno (e.g. -28 → "ENOSPC"), or `undefined` for any other number. */
export function errnoName(errno: number): ErrnoName | undefined {
  return names.get(errno);
}

/**
 * The error every throwing call raises: `.code` is the errno name ("ENOSPC"),
 * `.errno` the negative number (-28), and the message says what was wrong.
 */
export class TraitsError extends Error {
  /** Name of the error, e.g. "EBUSY". */
  readonly code: ErrnoName;
  /** The negative Linux errno, e.g. -16. */
  readonly errno: number;

  constructor(code: ErrnoName, message: string) {
    super(`${code}: ${message}`);
    this.name = "TraitsError";
    this.code = code;
    this.errno = Errno[code];
  }
}
