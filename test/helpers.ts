// Shared test fixtures: stores of both implementations placed between guard bytes.
import { expect } from "vitest";
import { Errno, TraitStore, TraitsError, useMemory, type Impl, type Profile } from "packet-traits";

export const IMPLS: Impl[] = ["wasm", "js"];
export const GUARD = 64;

/** A store of `cap` bytes at an 8-aligned offset inside a larger buffer whose other bytes are a known pattern. */
export interface Guarded {
  store: TraitStore;
  /** The whole buffer around the store. */
  all(): Uint8Array;
  /** Throws if any byte outside the store changed. */
  checkGuards(): void;
}

/** Places a store of `cap` bytes (initial bytes `init`) between guard bytes, in WASM memory or an ArrayBuffer. */
export function guardedStore(impl: Impl, profile: Profile, cap: number, init?: Uint8Array): Guarded {
  const start = GUARD,
    total = start + cap + GUARD;
  let store: TraitStore, all: () => Uint8Array;
  if (impl === "wasm") {
    const memory = new WebAssembly.Memory({ initial: 1 });
    useMemory(memory, { scratch: 65536 - 1024 }); // the core's scratch, far from the store and its guards
    store = TraitStore.at(memory, start, cap, { profile, impl });
    all = () => new Uint8Array(memory.buffer, 0, total);
  } else {
    const buffer = new ArrayBuffer(total);
    store = TraitStore.over(new Uint8Array(buffer, start, cap), { profile, impl });
    all = () => new Uint8Array(buffer);
  }
  const bytes = all();
  for (let i = 0; i < total; i++) bytes[i] = (i * 37 + 11) & 0xff;
  if (init) bytes.set(init, start);
  const expected = bytes.slice();
  return {
    store,
    all,
    checkGuards() {
      const now = all();
      for (let i = 0; i < total; i++) {
        if ((i < start || i >= start + cap) && now[i] !== expected[i])
          throw new Error(`guard byte ${i - start} (relative to the store) changed`);
      }
    },
  };
}

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
export const unhex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "hex"));

/** Expects `fn` to throw a TraitsError with `code` (and its errno) and a message matching `message`. */
export function expectError(fn: () => unknown, code: string, message?: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, `expected ${code}`).toBeInstanceOf(TraitsError);
  expect((error as TraitsError).code).toBe(code);
  expect((error as TraitsError).errno).toBe(Errno[code as keyof typeof Errno]);
  if (message) expect((error as TraitsError).message).toMatch(message);
}
