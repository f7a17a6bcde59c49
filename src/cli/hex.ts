/** Hex text as the CLI and the fuzzer read it. */
import { TraitsError } from "../core/errors.js";

/** Parses hex text (whitespace and a 0x prefix allowed). Throws EINVAL naming the bad character. */
export function parseHex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "").replace(/^0x/i, "");
  const bad = clean.search(/[^0-9a-fA-F]/);
  if (bad >= 0) throw new TraitsError("EINVAL", `bad hex: ${JSON.stringify(clean[bad])} at character ${bad}`);
  if (clean.length % 2) throw new TraitsError("EINVAL", `bad hex: odd number of digits (${clean.length})`);
  return new Uint8Array(Buffer.from(clean, "hex"));
}
