/** Our names option (in each section header): the keys a capture's stores hold, by name, and their profile. */
import { PROFILE_SIZES, toProfile, type Profile } from "../core/options.js";

/** A key as the SHB's names option carries it. */
export interface KeyName {
  name: string;
  key: number;
  size: number;
}

/** The value of our names option: "traits-keys PROFILE NAME=KEY:LEN ..." (UTF-8, after the PEN). */
export function keysText(profile: Profile, keys: readonly KeyName[]): string {
  return `traits-keys ${profile} ${[...keys]
    .sort((x, y) => x.key - y.key)
    .map((k) => `${k.name}=${k.key}:${k.size}`)
    .join(" ")}`.trimEnd();
}

/** Parses our names option's text; undefined if it is not one. */
export function parseKeysText(text: string): { profile: Profile; keys: KeyName[] } | undefined {
  const [tag, profile, ...specs] = text.split(" ");
  if (tag !== "traits-keys" || (profile !== "v1" && profile !== "flags")) return undefined;
  const keys: KeyName[] = [];
  for (const spec of specs) {
    const m = /^([a-z][a-z0-9_.-]{0,62})=(\d+):(\d+)$/.exec(spec);
    if (!m || Number(m[2]) > 63 || !PROFILE_SIZES[toProfile(profile)].includes(Number(m[3]))) return undefined;
    keys.push({ name: m[1]!, key: Number(m[2]), size: Number(m[3]) });
  }
  return { profile, keys };
}
