/** Command-line parsing shared by the commands: node:util's parseArgs, usage errors, integers. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { FileError, writeAll } from "../capture/io.js";

/** A usage error: one line on stderr with a hint, exit code 2. */
export class UsageError extends Error {}

/** The descriptors a command reads and writes (tests pass files). */
export interface Io {
  stdin: number;
  stdout: number;
  stderr: number;
}

/** Writes text to a descriptor (1: stdout, 2: stderr); throws FileError. */
export function print(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  try {
    writeAll(fd, bytes, 0, bytes.length);
  } catch (error) {
    throw FileError.from(error, `cannot write ${fd === 2 ? "stderr" : "stdout"}`);
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses a command's arguments (--opt value, --opt=value, short flags, -h/--help added). Returns
 * undefined after printing `usage` to stdout for --help; throws UsageError for an unknown option or a
 * missing value.
 */
export function parse<O extends Options>(argv: string[], options: O, usage: string, io: Io) {
  let parsed;
  try {
    parsed = parseArgs({
      args: negativeValues(argv, options),
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    const code = (error as { code?: string }).code,
      option = /'(-[^' ]+)/.exec((error as Error).message)?.[1];
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new UsageError(`unknown option ${option}`);
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") throw new UsageError(`${option} needs a value`);
    throw new UsageError((error as Error).message);
  }
  if ((parsed.values as Record<string, unknown>).help) {
    print(io.stdout, `${usage}\n`);
    return undefined;
  }
  return parsed as {
    values: {
      [K in keyof O]?: O[K] extends { multiple: true } ? string[] : O[K] extends { type: "boolean" } ? boolean : string;
    };
    positionals: string[];
  };
}

/**
 * parseArgs reads "-1" in "-c -1" as an option, and then says -c needs a value. A value that looks
 * like a negative number is the option's value: "-c -1" becomes "--count=-1", so that the option's own
 * check says what is wrong with it (out of range).
 */
function negativeValues(argv: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") return [...out, ...argv.slice(i)];
    const name = arg.startsWith("--")
      ? arg.slice(2)
      : /^-[^-]$/.test(arg)
        ? Object.keys(options).find((key) => options[key]!.short === arg[1])
        : undefined;
    const next = argv[i + 1];
    if (name !== undefined && options[name]?.type === "string" && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/** A decimal or 0x-hex integer in [min, max]; throws UsageError naming `what`. */
export function integer(text: string, what: string, min: number, max: number): number {
  const n = /^(0x[0-9a-f]+|\d+)$/i.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`${what} must be an integer in ${min}..${max}, not ${JSON.stringify(text)}`);
  return n;
}
