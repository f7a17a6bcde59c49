/**
 * The packet-traits command: decode stores by name, manage a key registry file, and annotate and
 * show captures. See docs/CLI.md. Exit codes: 0 success (also when a reader of stdout stops early);
 * 1 a runtime error (bad input, an fs error), one line on stderr; 2 a usage error, one line on
 * stderr (the usage itself without a command).
 */
import { readFileSync } from "node:fs";
import { TraitsError } from "../core/errors.js";
import { FileError } from "../capture/io.js";
import { StopError } from "./transform.js";
import { UsageError, print, type Io } from "./args.js";
import { decode } from "./decode.js";
import { registry } from "./registry.js";
import { ANNOTATE_USAGE, EXPORT_USAGE, PCAP_USAGE, SHOW_USAGE, annotate, exportParquet, show } from "./pcap.js";
import { XDP_USAGE, xdp } from "./xdp.js";
import { wireshark } from "./wireshark.js";

const USAGE = `usage: packet-traits [-h | --help] [--version] COMMAND [ARGS]

commands:
  decode [HEX] [--file F] ...            print a trait store's entries by name
  registry init|add|rm|ls --file FILE    manage a key registry file
  pcap annotate IN OUT ...               pcap/pcapng in, pcapng with each packet's traits out (- for stdin/stdout)
  pcap show FILE ...                     print each packet's traits
  pcap export IN OUT.parquet ...         each packet as a row of Parquet, for SQL engines (DuckDB, Spark...)
${XDP_USAGE}
  wireshark --plugin-path                print the path of the Wireshark plugin shipped in the package

"packet-traits COMMAND --help" describes a command. Exit codes: 0 success, 1 runtime error, 2 usage error.`;

const STD: Io = { stdin: 0, stdout: 1, stderr: 2 };

function version(): string {
  return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string })
    .version;
}

function pcap(argv: string[], io: Io): number | Promise<number> {
  const [action, ...rest] = argv;
  if (action === "annotate") return annotate(rest, io);
  if (action === "show") return show(rest, io);
  if (action === "export") return exportParquet(rest, io);
  if (action === "-h" || action === "--help") {
    print(
      io.stdout,
      `${PCAP_USAGE}\n\n${[ANNOTATE_USAGE, SHOW_USAGE, EXPORT_USAGE].map((usage) => usage.split("\n\n")[1]).join("\n\n")}\n`,
    );
    return 0;
  }
  throw new UsageError(`unknown pcap action ${JSON.stringify(action ?? "")} (annotate, show, export)`);
}

/**
 * Runs the command line with `argv` (no program name) on the descriptors `io`; returns the exit code,
 * or a promise of it for a command that runs on after its arguments are checked (pcap annotate, xdp
 * run). Never exits the process.
 */
export function main(argv: string[], io: Io = STD): number | Promise<number> {
  try {
    const [command, ...rest] = argv;
    switch (command) {
      case undefined:
        print(io.stderr, `${USAGE}\n`);
        return 2;
      case "-h":
      case "--help":
      case "help":
        print(io.stdout, `${USAGE}\n`);
        return 0;
      case "--version":
        print(io.stdout, `packet-traits ${version()}\n`);
        return 0;
      case "decode":
        return decode(rest, io);
      case "registry":
        return registry(rest, io);
      case "pcap":
        return settled(pcap(rest, io), io);
      case "xdp":
        return settled(xdp(rest, io), io);
      case "wireshark":
        return wireshark(rest, io);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (error) {
    return failure(error, io);
  }
}

/** The exit code of a command, or of the promise of one (its rejection handled as failure() does). */
const settled = (code: number | Promise<number>, io: Io): number | Promise<number> =>
  typeof code === "number" ? code : code.catch((error: unknown) => failure(error, io));

/** Reports `error` in one line on stderr and returns the exit code (see the top of this file); rethrows an unexpected error. */
function failure(error: unknown, io: Io): number {
  if (error instanceof UsageError) {
    print(io.stderr, `packet-traits: ${error.message} (see packet-traits --help)\n`);
    return 2;
  }
  // A reader that stops early (| head) ends the command quietly, as SIGPIPE ends C tools.
  if (error instanceof FileError && error.code === "EPIPE") return 0;
  // SIGINT, SIGTERM or SIGHUP: the exit code a shell gives for the signal.
  if (error instanceof StopError) {
    print(io.stderr, `packet-traits: ${error.message}\n`);
    return error.exitCode;
  }
  const known =
    error instanceof TraitsError
      ? error
      : FileError.from(error, `cannot access ${(error as NodeJS.ErrnoException).path ?? "a file"}`);
  if (known instanceof TraitsError || known instanceof FileError) {
    print(io.stderr, `packet-traits: ${known.message}\n`);
    return 1;
  }
  throw error;
}
