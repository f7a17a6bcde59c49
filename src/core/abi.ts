/**
 * The memory layouts shared with the AssemblyScript core, mirrored from assembly/abi.ts (the one
 * declaration) as const enums, which V8 sees as literals. test/core/abi.test.ts compares every
 * member with the built module's exported globals. Offsets are in bytes.
 */

/** A pool control block: u32 words the batch loops read once per call. */
export const enum PoolControl {
  BASE = 0,
  FRAME_SIZE = 4,
  COUNT = 8,
  HEADS = 12,
  PROFILE = 16,
  /** Per-frame store capacities; the store ends at the head (assembly/abi.ts POOL_METAS). */
  METAS = 20,
  BYTES = 24,
}

/** A field list for setMany: the caller writes M, KEYS and LENS; the core derives the rest. */
export const enum FieldList {
  HIGH = 0,
  LOW = 8,
  M = 16,
  DISTINCT = 20,
  VALUE_BYTES = 24,
  KEYS = 32,
  LENS = 96,
  OFFSETS = 160,
  BYTES = 288,
}

/** A scratch area: 64 u64 value slots, then a field list or decode's keys and lengths. */
export const enum Scratch {
  VALUES = 0,
  FIELDS = 512,
  DECODE_KEYS = 512,
  DECODE_LENS = 576,
  BYTES = 800,
}

/** The negative errnos the codec returns. */
export const enum CoreErrno {
  ENOENT = -2,
  ENOMEM = -12,
  EBUSY = -16,
  EINVAL = -22,
  ENOSPC = -28,
  EBADMSG = -74,
}
