/**
 * PacketPool: packet frames in one WebAssembly.Memory, laid out like XDP buffers (frames.ts), with
 * batch operations over many frames per call (their arrays: burst.ts), in AssemblyScript or JS.
 */
import type { Core } from "../core/contract.js";
import { FieldList, Scratch } from "../core/abi.js";
import { Errno, TraitsError } from "../core/errors.js";
import { checkInteger, describe } from "../core/options.js";
import { checkLength, toKey, toPair, wideKey, type Key } from "../store/values.js";
import type { TraitStore } from "../store/store.js";
import { Burst, DecodeBuffer } from "./burst.js";
import { hardwareIndex } from "../store/hardware.js";
import { strictCheck, type KeyLookup } from "../registry/registry.js";
import { FramePool, PoolView, type PoolLayout, type PoolOptions } from "./frames.js";

export type { PoolLayout, PoolOptions } from "./frames.js";

const pair = new Uint32Array(2);

/** Options of batchSetMany. */
export interface SetManyOptions {
  /** One value per field for every frame (validated once); without it, field j takes each frame's value slot j. */
  values?: ReadonlyArray<number | bigint>;
  /** Empty each store first (fresh rx metadata); default false. */
  replace?: boolean;
}

/** A field of a multi-key set: its key and length. */
export interface Field {
  key: Key;
  len: number;
}

/**
 * A pool of packet frames in WebAssembly memory, each with a trait store at its start, and batch
 * operations over many frames per call. Views it returns (`data`, `frameBytes`, a Burst's arrays)
 * are recreated after memory grows: take them again rather than keeping them across anything that
 * allocates (a new pool, burst or store in the same memory).
 */
export class PacketPool extends FramePool {
  /** Creates a pool of empty frames; throws EINVAL for bad options, ENOMEM if the memory cannot hold it. */
  constructor(options: PoolOptions);
  /** @internal */
  constructor(options: PoolOptions, view: PoolView);
  constructor(options: PoolOptions, view?: PoolView) {
    super(options, view!);
    // Frozen: a caller cannot change the frame layout that the pool's methods and stores rely on.
    Object.freeze(this);
    if (view) return;
    const all = Burst.allocate(this, this.count, 1);
    this.batchInit(all.selectRange(0, this.count));
    all.release();
  }

  /**
   * @internal A view of a pool laid out by another thread in a shared memory, on `core`, with its own
   * scratch of Scratch.BYTES bytes (core/abi.ts) at `scratch`: allocates and initialises nothing.
   */
  static attach(layout: PoolLayout, core: Core, scratch: number, registry?: KeyLookup): PacketPool {
    return new PacketPool({ count: layout.count }, new PoolView(layout, core, scratch, registry));
  }

  /**
   * A Burst for up to `capacity` frames of this pool, with `slots` u64 value slots per frame
   * (default 2: room for a 16-byte value). Its arrays live in this pool's memory.
   */
  burst(capacity: number, { slots = 2 }: { slots?: number } = {}): Burst {
    this.allocating("burst");
    checkInteger(capacity, "burst capacity", 1, 2 ** 24);
    checkInteger(slots, "slots", 1, 64);
    return Burst.allocate(this, capacity, slots);
  }

  /** Checks that a burst is this pool's and returns its descriptor address (0 for a range). */
  private select(burst: Burst): number {
    if (!(burst instanceof Burst) || burst.pool !== this)
      throw new TraitsError("EINVAL", "the burst belongs to another pool");
    burst.checkLive();
    return burst.ranged ? 0 : burst.desc;
  }

  /** Gets `key` from every selected frame into value slot 0 of the burst; status = length or errno. Returns the count of successes. */
  batchGet(burst: Burst, key: Key): number {
    const desc = this.select(burst),
      h = hardwareIndex(key);
    if (h >= 0)
      return this.eachFrame(
        burst,
        (store, i, values) => store.tryGet(key, values.subarray(2 * i * burst.slots)),
        (rc) => rc >= 0,
      );
    return this.core.batchGet(
      this.control,
      desc,
      burst.first,
      burst.length,
      toKey(key),
      burst.vals,
      burst.stride,
      burst.stat,
    );
  }

  /**
   * Runs a single-store call on every selected frame (the path of hardware keys in batches: they are
   * fixed fields, not store entries); its result is the frame's status. Returns how many satisfy `ok`.
   */
  private eachFrame(
    burst: Burst,
    call: (store: TraitStore, i: number, values: Uint32Array) => number,
    ok: (rc: number) => boolean,
  ): number {
    const frames = burst.ranged ? undefined : burst.frames(),
      status = burst.status(),
      values = burst.values();
    let count = 0;
    for (let i = 0; i < burst.length; i++) {
      const frame = frames ? frames[i]! : burst.first + i;
      const rc = frame < this.count ? call(this.traits(frame), i, values) : Errno.EINVAL;
      status[i] = rc;
      if (ok(rc)) count++;
    }
    return count;
  }

  /** Throws what a strict pool's registry says of setting key `k` (0..63) with `len` bytes: EPERM or EINVAL. */
  private checkStrict(k: number, len: number): void {
    const rc = strictCheck(this.registry, k, len);
    if (rc === 0) return;
    if (rc === Errno.EPERM) throw new TraitsError("EPERM", `key ${k} is not registered, and this pool is strict`);
    throw new TraitsError(
      "EINVAL",
      `key ${k} (${this.registry!.lookupKey(k)?.name}) is registered with size ${this.registry!.sizeOfKey(k)}, not ${len}`,
    );
  }

  /**
   * Sets `key` to `len` bytes on every selected frame: to `value` if given (validated once), else to
   * each frame's value slot 0 (a value that does not fit gets EINVAL in its status). Returns the count of successes.
   */
  batchSet(burst: Burst, key: Key, len: number, value?: number | bigint): number {
    const desc = this.select(burst),
      h = hardwareIndex(key);
    if (h >= 0) {
      if (value !== undefined) toPair(value, len, pair);
      return this.eachFrame(
        burst,
        (store, i, values) => {
          const at = 2 * i * burst.slots;
          return value === undefined
            ? store.trySet(key, values[at]!, values[at + 1]!, len)
            : store.trySet(key, pair[0]!, pair[1]!, len);
        },
        (rc) => rc === 0,
      );
    }
    const k = toKey(key);
    checkLength(len, this.profile);
    this.checkStrict(k, len);
    let values = burst.vals,
      stride = burst.stride;
    if (value !== undefined) {
      values = this.scratch;
      stride = 0;
      const w = this.wordsTo(values + 8);
      toPair(value, len, pair);
      w[values >>> 2] = pair[0]!;
      w[(values >>> 2) + 1] = pair[1]!;
    }
    return this.core.batchSet(this.control, desc, burst.first, burst.length, k, len, values, stride, burst.stat);
  }

  /**
   * Sets several keys on every selected frame in one pass, all or nothing per frame: field j takes
   * `values[j]` if given (validated once), else each frame's value slot j. With `replace`, each store
   * is emptied first (fresh rx metadata, one pass over the frames). A frame's status is 0 or the first
   * error that the same sets one by one (after a clear, with replace) would meet. Returns the count of
   * successes. Throws EINVAL for bad fields or values, EPERM/EINVAL in a strict pool.
   */
  batchSetMany(burst: Burst, fields: readonly Field[], options?: SetManyOptions): number;
  /** @deprecated The 0.1 form: pass `{ values, replace }` as the third argument. */
  batchSetMany(
    burst: Burst,
    fields: readonly Field[],
    values: ReadonlyArray<number | bigint> | undefined,
    options?: { replace?: boolean },
  ): number;
  batchSetMany(
    burst: Burst,
    fields: readonly Field[],
    third?: SetManyOptions | ReadonlyArray<number | bigint>,
    fourth?: { replace?: boolean },
  ): number {
    const { values, replace = false } =
      third === undefined || Array.isArray(third)
        ? { values: third as ReadonlyArray<number | bigint> | undefined, ...fourth }
        : (third as SetManyOptions);
    const desc = this.select(burst);
    if (!Array.isArray(fields) || fields.length === 0 || fields.length > burst.slots)
      throw new TraitsError("EINVAL", `fields must be an array of 1 to ${burst.slots} (the burst's slots) {key, len}`);
    if (values !== undefined && (!Array.isArray(values) || values.length !== fields.length))
      throw new TraitsError("EINVAL", `values must be an array of ${fields.length} values, one per field`);
    const scratch = this.scratch,
      list = scratch + Scratch.FIELDS;
    const w = this.words(),
      bytes = new Uint8Array(w.buffer);
    fields.forEach((field, j) => {
      if (typeof field !== "object" || field === null)
        throw new TraitsError("EINVAL", `fields[${j}] must be {key, len}, not ${describe(field)}`);
      if (hardwareIndex(field.key) >= 0)
        throw new TraitsError(
          "EINVAL",
          `fields[${j}]: hardware keys are fixed fields, not store entries; set them with batchSet`,
        );
      bytes[list + FieldList.KEYS + j] = toKey(field.key);
      bytes[list + FieldList.LENS + j] = checkLength(field.len, this.profile);
      this.checkStrict(bytes[list + FieldList.KEYS + j]!, field.len);
      if (values) toPair(values[j], field.len, w.subarray((scratch >>> 2) + 2 * j, (scratch >>> 2) + 2 * j + 2));
    });
    w[(list + FieldList.M) >>> 2] = fields.length;
    const [from, stride] = values ? [scratch, 0] : [burst.vals, burst.stride];
    return this.core.batchSetMany(
      this.control,
      desc,
      burst.first,
      burst.length,
      list,
      from,
      stride,
      replace ? 1 : 0,
      burst.stat,
    );
  }

  /** Removes `key` from every selected frame; status 0 or errno. Returns the count of successes. */
  batchDelete(burst: Burst, key: Key): number {
    const desc = this.select(burst);
    if (hardwareIndex(key) >= 0)
      return this.eachFrame(
        burst,
        (store) => store.tryDelete(key),
        (rc) => rc === 0,
      );
    return this.core.batchDel(this.control, desc, burst.first, burst.length, toKey(key), burst.stat);
  }

  /** Tests `key` on every selected frame; status 1, 0 or errno. Returns how many frames hold it. */
  batchHas(burst: Burst, key: Key): number {
    const desc = this.select(burst);
    if (hardwareIndex(key) >= 0)
      return this.eachFrame(
        burst,
        (store) => store.tryHas(key),
        (rc) => rc === 1,
      );
    return this.core.batchHas(this.control, desc, burst.first, burst.length, toKey(key), burst.stat);
  }

  /** Empties the store of every selected frame; status 0 or errno. Returns the count of successes. */
  batchInit(burst: Burst): number {
    return this.core.batchInit(this.control, this.select(burst), burst.first, burst.length, burst.stat);
  }

  /**
   * Reads the 16-byte value kept in keys `key` and `key + 1` (8 bytes each) of every selected frame into
   * value slots 0-1; status 16, ENOENT if neither key is present, EBADMSG if only one is or either is not
   * 8 bytes. Returns the count of successes.
   */
  batchGetWide(burst: Burst, key: Key): number {
    const k = wideKey(key),
      desc = this.select(burst);
    if (burst.slots < 2) throw new TraitsError("EINVAL", "a 16-byte value needs a burst with 2 slots");
    return this.core.batchGetWide(
      this.control,
      desc,
      burst.first,
      burst.length,
      k,
      burst.vals,
      burst.stride,
      burst.stat,
    );
  }

  /** Sets keys `key` and `key + 1` as one 16-byte value on every selected frame, from `value` or value slots 0-1; both or neither. Returns the count of successes. */
  batchSetWide(burst: Burst, key: Key, value?: Uint8Array): number {
    const k = wideKey(key);
    if (value !== undefined && (!(value instanceof Uint8Array) || value.length !== 16))
      throw new TraitsError("EINVAL", `a 16-byte value must be a Uint8Array of 16 bytes, not ${describe(value)}`);
    const fields = [
      { key: k, len: 8 },
      { key: k + 1, len: 8 },
    ];
    return this.batchSetMany(burst, fields, {
      values: value && [value.subarray(0, 8), value.subarray(8)].map(toBigInt),
    });
  }

  /**
   * Decodes every selected frame's store into `out`: its entries appended in frame order, each frame's
   * entry count (or an errno; ENOSPC when `out` is full) in the burst's status. Returns the number of entries.
   */
  batchDecode(burst: Burst, out: DecodeBuffer): number {
    const desc = this.select(burst);
    if (!(out instanceof DecodeBuffer) || out.memory !== this.memory)
      throw new TraitsError("EINVAL", "out must be a DecodeBuffer of this pool's memory");
    return out.filled(
      this.core.batchDecode(
        this.control,
        desc,
        burst.first,
        burst.length,
        out.keysAt,
        out.lensAt,
        out.valuesAt,
        out.room,
        burst.stat,
      ),
    );
  }

  /** A DecodeBuffer with room for `room` entries in this pool's memory. */
  decodeBuffer(room: number): DecodeBuffer {
    this.allocating("decodeBuffer");
    return DecodeBuffer.allocate(this.memory, checkInteger(room, "room", 1, 2 ** 24));
  }
}

/** Little-endian bytes (8) to a bigint. */
function toBigInt(bytes: Uint8Array): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
}
