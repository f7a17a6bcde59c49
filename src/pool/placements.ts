/**
 * Placements: where a pool frame's store is (at the frame start, or as XDP's metadata area right
 * before the packet) and where its hardware keys are (a hints area, application keys 59..63, or off),
 * and how a frame's traits travel to a frame of another placement (copyTraits, transfer): checked
 * first, so that they arrive faithfully or nothing changes.
 */
import { Errno, TraitsError } from "../core/errors.js";
import { describe, type Profile } from "../core/options.js";
import type { TraitStore } from "../store/store.js";
import {
  HARDWARE_FIRST_APP_KEY,
  HINTS_BYTES,
  HardwareKey,
  appLength,
  type HardwarePlacement,
} from "../store/hardware.js";
import { strictCheck, type KeyLookup } from "../registry/registry.js";

/** Where a pool frame's store is: at the frame start ("frame") or right before the packet data ("metadata"). */
export type StorePlacement = "frame" | "metadata";

/** Checks a store placement option (default "frame"); throws EINVAL. */
export function toStorePlacement(value: unknown): StorePlacement {
  if (value === undefined || value === "frame" || value === "metadata") return value ?? "frame";
  throw new TraitsError("EINVAL", `placement must be "frame" or "metadata", not ${describe(value)}`);
}

/** What moving traits between frames needs of a pool (FramePool has it). */
export interface PlacedFrames {
  readonly memory: WebAssembly.Memory;
  readonly frameSize: number;
  readonly profile: Profile;
  readonly registry: KeyLookup | undefined;
  readonly hardwareKeys: HardwarePlacement;
  traits(frame: number): TraitStore;
  storeStart(frame: number): number;
  frameBytes(frame: number): Uint8Array;
}

/** A hardware key's value on its way to another frame. */
interface HardwareValue {
  key: number;
  len: number;
  lo: number;
  hi: number;
}

/** The hardware keys a copy between placements moves, and whether they leave application keys 59..63 (placement "keys"). */
export interface HardwarePlan {
  values: HardwareValue[];
  fromKeys: boolean;
}

/** Copies the first `size` bytes of a frame's store to the start of another frame's store (memmove: they may overlap). */
export function copyStore(src: PlacedFrames, frame: number, dst: PlacedFrames, dstFrame: number, size: number): void {
  const from = src.storeStart(frame),
    to = dst.storeStart(dstFrame);
  if (dst.memory === src.memory) new Uint8Array(src.memory.buffer).copyWithin(to, from, from + size);
  else new Uint8Array(dst.memory.buffer, to, size).set(new Uint8Array(src.memory.buffer, from, size));
}

/** Copies the hints area (hardware keys, placement "struct") to a frame of a pool with the same placement. */
export function copyHints(src: PlacedFrames, frame: number, dst: PlacedFrames, dstFrame: number): void {
  if (dst.hardwareKeys !== "struct" || src.hardwareKeys !== "struct") return;
  dst
    .frameBytes(dstFrame)
    .set(src.frameBytes(frame).subarray(src.frameSize - HINTS_BYTES), dst.frameSize - HINTS_BYTES);
}

/**
 * What carrying `frame`'s traits (of `src`) to `dstFrame` of `dst` (`room` bytes for its store) takes:
 * the hardware keys to move into dst's placement, or undefined when the store bytes and hints copy as
 * they are (same placement). Throws, before anything changes, if they cannot all arrive faithfully:
 * EOPNOTSUPP (dst has hardware keys off), EBUSY (dst keeps hardware keys in application keys 59..63,
 * which the frame uses for its own values), ENOSPC (no room), EBADMSG (a corrupt store, or a hardware
 * key's application key holding another length), EPERM or EINVAL (dst's registry does not allow a key).
 */
export function hardwarePlan(
  src: PlacedFrames,
  frame: number,
  dst: PlacedFrames,
  dstFrame: number,
  room: number,
): HardwarePlan | undefined {
  const from = src.traits(frame),
    size = from.size;
  const fail = (code: "ENOSPC" | "EBUSY" | "EOPNOTSUPP", why: string): never => {
    throw new TraitsError(code, `traits of frame ${frame} cannot go to frame ${dstFrame}: ${why}`);
  };
  if (size > room)
    throw new TraitsError(
      "ENOSPC",
      `traits of frame ${frame} take ${size} bytes; frame ${dstFrame} has room for ${room}`,
    );
  if (dst.hardwareKeys === src.hardwareKeys) {
    checkAllowed(
      dst,
      from.keys().map((key) => [key, from.getBytes(key)!.length] as const),
      frame,
      dstFrame,
    );
    return undefined;
  }
  const plan: HardwarePlan = { values: [], fromKeys: src.hardwareKeys === "keys" },
    value = new Uint32Array(2);
  let bytes = size;
  for (const key of Object.values(HardwareKey)) {
    const len = from.tryGet(key, value);
    if (len === Errno.ENOENT) continue;
    if (len < 0) from.get(key); // throws what is wrong
    plan.values.push({ key, len, lo: value[0]!, hi: value[1]! });
    const stored = appLength(key - HardwareKey.RX_HASH, src.profile);
    if (plan.fromKeys) bytes -= stored; // leaves the store: dst keeps it elsewhere
    if (dst.hardwareKeys === "keys") bytes += stored;
  }
  if (dst.hardwareKeys === "off" && plan.values.length > 0)
    fail("EOPNOTSUPP", `it has hardware keys off, and the frame has ${plan.values.length}`);
  if (dst.hardwareKeys === "keys") {
    for (let app = HARDWARE_FIRST_APP_KEY; app < 64; app++)
      if (from.has(app))
        fail(
          "EBUSY",
          `it keeps hardware keys in application keys 59..63, and the frame uses key ${app} for its own value`,
        );
  }
  if (bytes > room) fail("ENOSPC", `they take ${bytes} bytes there; it has room for ${room}`);
  const moved = plan.fromKeys
    ? new Set(plan.values.map(({ key }) => HARDWARE_FIRST_APP_KEY + key - HardwareKey.RX_HASH))
    : new Set<number>();
  const kept = from
    .keys()
    .filter((key) => !moved.has(key))
    .map((key) => [key, from.getBytes(key)!.length] as const);
  const added =
    dst.hardwareKeys === "keys"
      ? plan.values.map(
          ({ key }) =>
            [
              HARDWARE_FIRST_APP_KEY + key - HardwareKey.RX_HASH,
              appLength(key - HardwareKey.RX_HASH, src.profile),
            ] as const,
        )
      : [];
  checkAllowed(dst, [...kept, ...added], frame, dstFrame);
  return plan;
}

/** Throws EPERM or EINVAL (nothing changed yet) if a strict pool's registry does not allow every [key, length] its frame would hold. */
function checkAllowed(
  dst: PlacedFrames,
  entries: ReadonlyArray<readonly [number, number]>,
  frame: number,
  dstFrame: number,
): void {
  for (const [key, len] of entries) {
    const rc = strictCheck(dst.registry, key, len);
    if (rc === Errno.EPERM)
      throw new TraitsError(
        "EPERM",
        `traits of frame ${frame} cannot go to frame ${dstFrame}: key ${key} is not registered, and the pool is strict`,
      );
    if (rc < 0)
      throw new TraitsError(
        "EINVAL",
        `traits of frame ${frame} cannot go to frame ${dstFrame}: key ${key} holds ${len} bytes, registered with ${dst.registry!.sizeOfKey(key)}`,
      );
  }
}

/** Moves the hardware keys of a plan into `frame` of `dst`, whose store was just copied in, in dst's placement. */
export function applyHardware(dst: PlacedFrames, frame: number, plan: HardwarePlan | undefined): void {
  if (plan === undefined) return;
  const to = dst.traits(frame);
  if (plan.fromKeys)
    for (const { key } of plan.values) to.tryDelete(HARDWARE_FIRST_APP_KEY + key - HardwareKey.RX_HASH);
  if (dst.hardwareKeys === "struct") dst.frameBytes(frame).fill(0, dst.frameSize - HINTS_BYTES);
  for (const { key, len, lo, hi } of plan.values) to.trySet(key, lo, hi, len);
}
