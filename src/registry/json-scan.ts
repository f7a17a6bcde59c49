/**
 * Duplicate-field detection for registry config files: JSON.parse keeps the last of two equal field
 * names silently, and a later save would then drop the others; this scan finds them first.
 */

/** Nesting deeper than any valid config; the scan gives up there (fromJSON refuses such a config anyway). */
const MAX_DEPTH = 16;

/**
 * The path of the first field that appears twice in one object of `text` (e.g. "keys.packet_id",
 * "version"), or undefined if there is none. `text` must be valid JSON (call it after JSON.parse).
 */
export function duplicateField(text: string): string | undefined {
  let i = 0;
  const space = (): void => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const string = (): string => {
    const start = i++;
    while (text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string, depth: number): string | undefined => {
    if (depth > MAX_DEPTH) throw TOO_DEEP;
    space();
    const open = text[i];
    if (open === "{" || open === "[") {
      const close = open === "{" ? "}" : "]",
        seen = new Set<string>();
      i++;
      space();
      if (text[i] === close) return void i++;
      for (let n = 0; ; n++) {
        let at = `${path}[${n}]`;
        if (open === "{") {
          space();
          const field = string();
          const label = /^[\w.-]+$/.test(field) ? field : JSON.stringify(field);
          at = path ? `${path}.${label}` : label;
          if (seen.has(field)) return at;
          seen.add(field);
          space();
          i++; // the colon
        }
        const found = value(at, depth + 1);
        if (found !== undefined) return found;
        space();
        if (text[i++] === close) return undefined;
      }
    }
    if (open === '"') string();
    else while (i < text.length && !",}] \t\n\r".includes(text[i]!)) i++; // a number, true, false or null
    return undefined;
  };
  try {
    return value("", 0);
  } catch (error) {
    if (error === TOO_DEEP) return undefined;
    throw error;
  }
}

const TOO_DEEP = Symbol("too deep");
