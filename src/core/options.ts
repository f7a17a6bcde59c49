/** Validation of the options every entry point shares: profile, impl, integers; and how arguments are described in errors. */
import { TraitsError } from "./errors.js";
import type { Impl } from "./contract.js";

/** Store profile: "v1" sizes are 2/4/8 bytes (2024 proposal); "flags" sizes are 0 (a flag)/4/8 (2025 revision). */
export type Profile = "v1" | "flags";

/** Profile name → the core's profile number. */
export const PROFILE_ID: Record<Profile, number> = { v1: 0, flags: 1 };

/** Value sizes of each profile, in size-code order. */
export const PROFILE_SIZES: Record<Profile, readonly number[]> = { v1: [2, 4, 8], flags: [0, 4, 8] };

/** Checks that a number is an integer in [min, max]; throws EINVAL naming `what`. */
export function checkInteger(value: unknown, what: string, min: number, max: number): number {
  if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max) return value;
  throw new TraitsError("EINVAL", `${what} must be an integer in ${min}..${max}, not ${describe(value)}`);
}

/** Resolves the `profile` option (default "v1"). */
export function toProfile(profile: unknown): Profile {
  if (profile === undefined) return "v1";
  if (profile === "v1" || profile === "flags") return profile;
  throw new TraitsError("EINVAL", `profile must be "v1" or "flags", not ${describe(profile)}`);
}

/** PACKET_TRAITS_IMPL, or undefined where it is unset or the environment cannot be read (a browser, Deno without --allow-env): never throws. */
export function envImpl(): string | undefined {
  try {
    return globalThis.process?.env?.PACKET_TRAITS_IMPL || undefined;
  } catch {
    return undefined;
  }
}

let warned = false;

/**
 * Resolves the `impl` option: unset, it is PACKET_TRAITS_IMPL if set, else "wasm". Where this
 * runtime has no WebAssembly, the default becomes "js", with one warning per process (a process
 * warning in Node, Deno and Bun, a console warning elsewhere). Throws EINVAL for another value, and
 * for "wasm" asked for (option or environment) where WebAssembly does not exist.
 */
export function toImpl(impl: unknown): Impl {
  const chosen = impl ?? envImpl(),
    from = impl === undefined ? "PACKET_TRAITS_IMPL" : "impl";
  if (chosen !== undefined && chosen !== "wasm" && chosen !== "js")
    throw new TraitsError("EINVAL", `${from} must be "wasm" or "js", not ${describe(chosen)}`);
  if (chosen === "js" || typeof WebAssembly === "object") return chosen ?? "wasm";
  if (chosen === "wasm")
    throw new TraitsError("EINVAL", `${from} is "wasm" but this JavaScript runtime has no WebAssembly`);
  if (!warned) {
    warned = true;
    const message =
      'packet-traits: this JavaScript runtime has no WebAssembly; running on the pure-JS core (about 3x slower). Set PACKET_TRAITS_IMPL=js or impl: "js" to choose it.';
    if (typeof globalThis.process?.emitWarning === "function")
      globalThis.process.emitWarning(message, { code: "PACKET_TRAITS_NO_WASM" });
    else console.warn(message);
  }
  return "js";
}

/** A short description of any argument for error messages. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function") return "a function";
  if (value === null || typeof value !== "object") return String(value);
  return value.constructor?.name ?? "an object";
}
