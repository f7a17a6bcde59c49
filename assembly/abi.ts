// The memory layouts shared by this core and its TypeScript callers, declared once: src/core/abi.ts
// mirrors them as const enums (what V8 inlines), and test/core/abi.test.ts compares every value
// below with it through the built module's exported globals. Offsets are in bytes.

// A pool control block, written by the pool (src/pool/frames.ts) and read once per batch call:
// u32 words, so a batch loop reads the whole pool description with six loads.
/** Address of frame 0. */
export const POOL_BASE: usize = 0;
/** Bytes per frame. */
export const POOL_FRAME_SIZE: usize = 4;
/** Number of frames; a descriptor >= count gets EINVAL. */
export const POOL_COUNT: usize = 8;
/** Address of a u32 per frame: its data offset (head), where its store ends. */
export const POOL_HEADS: usize = 12;
/** Store profile: 0 (v1) or 1 (flags). */
export const POOL_PROFILE: usize = 16;
/**
 * Address of a u32 per frame: its store's capacity; the store is the `capacity` bytes right before
 * the head, at frame start + head - capacity. The metadata placement (XDP/AF_XDP: the store in the
 * metadata area before the packet) has an array of its own; the classic placement (the store at
 * the frame start, its capacity the head) points this at the heads, so both take the same path.
 */
export const POOL_METAS: usize = 20;
/** Bytes of a control block. */
export const POOL_CONTROL_BYTES: usize = 24;

// A field list for setMany: the caller writes m, keys and lengths; prepareFields (store.ts) derives
// the rest once per call, so that a batch applies the fields with one header write per frame.
/** u64: the fields' high words, as a header holding only them. */
export const FIELDS_HIGH: usize = 0;
/** u64: the fields' low words. */
export const FIELDS_LOW: usize = 8;
/** u32: number of fields, 1..64 (written by the caller). */
export const FIELDS_M: usize = 16;
/** u32: 1 if the keys are distinct (prepareFields). */
export const FIELDS_DISTINCT: usize = 20;
/** u32: bytes the fields' values take (prepareFields). */
export const FIELDS_VALUE_BYTES: usize = 24;
/** u8[64]: the keys (written by the caller). */
export const FIELDS_KEYS: usize = 32;
/** u8[64]: the lengths (written by the caller). */
export const FIELDS_LENS: usize = 96;
/** u16[64]: each field's offset from the store start in a store holding only the fields (prepareFields). */
export const FIELDS_OFFSETS: usize = 160;
/** Bytes of a field list. */
export const FIELDS_BYTES: usize = 288;

// The scratch area of a single-store caller (src/core/wasm.ts) and of a pool: 64 u64 value slots,
// then a field list (setMany) or decode's 64 keys and 64 lengths.
/** u64[64]: values in and out. */
export const SCRATCH_VALUES: usize = 0;
/** A field list (setMany). */
export const SCRATCH_FIELDS: usize = 512;
/** u8[64]: keys out of decode (the same bytes as the field list: never both in one call). */
export const SCRATCH_DECODE_KEYS: usize = 512;
/** u8[64]: lengths out of decode. */
export const SCRATCH_DECODE_LENS: usize = 576;
/** Bytes of a scratch area. */
export const SCRATCH_BYTES: usize = 800;

// Negative Linux errnos, as the C original returns them.
export const EINVAL: i32 = -22;
export const ENOENT: i32 = -2;
export const EBUSY: i32 = -16;
export const ENOSPC: i32 = -28;
export const ENOMEM: i32 = -12;
export const EBADMSG: i32 = -74;
