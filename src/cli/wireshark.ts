/** `packet-traits wireshark`: where the shipped Wireshark plugin is, for tshark -X lua_script: and for installing it. */
import { fileURLToPath } from "node:url";
import { UsageError, parse, print, type Io } from "./args.js";

/** The usage text of `wireshark`. */
export const WIRESHARK_USAGE = `usage: packet-traits wireshark --plugin-path

Prints the path of the Wireshark/tshark Lua plugin shipped in the package (wireshark/traits.lua), e.g.
  tshark -r out.pcapng -X lua_script:"$(packet-traits wireshark --plugin-path)" -Y 'traits.packet_id == 3'
  cp "$(packet-traits wireshark --plugin-path)" ~/.local/lib/wireshark/plugins/`;

/** The plugin's path: wireshark/ at the package root (this module runs bundled in dist/cli/bin.js). */
export const PLUGIN_PATH = fileURLToPath(new URL("../../wireshark/traits.lua", import.meta.url));

/** Runs `wireshark`; returns the exit code. */
export function wireshark(argv: string[], io: Io): number {
  const p = parse(argv, { "plugin-path": { type: "boolean" } }, WIRESHARK_USAGE, io);
  if (!p) return 0;
  if (p.positionals.length > 0 || !p.values["plugin-path"]) throw new UsageError("wireshark takes --plugin-path");
  print(io.stdout, `${PLUGIN_PATH}\n`);
  return 0;
}
