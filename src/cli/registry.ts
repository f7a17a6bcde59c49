/** `packet-traits registry`: the key registry file (init, add, rm, ls). */
import { existsSync } from "node:fs";
import { TraitsError } from "../core/errors.js";
import { toProfile } from "../core/options.js";
import { KeyRegistry } from "../registry/registry.js";
import { UsageError, integer, parse, print, type Io } from "./args.js";

/** The usage text of `registry`. */
export const REGISTRY_USAGE = `usage: packet-traits registry init --file FILE [--profile v1|flags]
       packet-traits registry add NAME SIZE --file FILE [--key K] [--description TEXT]
       packet-traits registry rm NAME --file FILE
       packet-traits registry ls --file FILE [--json]

Manages a key registry file (see docs/REGISTRY.md); add and rm take the file's lock.`;

const OPTIONS = {
  file: { type: "string" },
  profile: { type: "string" },
  key: { type: "string" },
  description: { type: "string" },
  json: { type: "boolean" },
} as const;

/** Runs `registry ACTION`; returns the exit code. */
export function registry(argv: string[], io: Io): number {
  const p = parse(argv, OPTIONS, REGISTRY_USAGE, io);
  if (!p) return 0;
  const { values: v } = p,
    [action, ...positionals] = p.positionals;
  const file = v.file;
  if (!file) throw new UsageError(`registry ${action ?? ""} needs --file FILE`);
  const profile = v.profile === undefined ? undefined : toProfile(v.profile);
  switch (action) {
    case "init": {
      if (existsSync(file)) throw new TraitsError("EEXIST", `${file} already exists`);
      new KeyRegistry(profile ? { profile } : {}).save(file);
      print(io.stdout, `created ${file}\n`);
      return 0;
    }
    case "add": {
      const [name, size] = positionals;
      if (name === undefined || size === undefined || positionals.length > 2)
        throw new UsageError("registry add takes NAME SIZE");
      const chosen = KeyRegistry.registerInFile(file, name, integer(size, "SIZE", 0, 8), {
        ...(v.key !== undefined && { key: integer(v.key, "--key", 0, 63) }),
        ...(v.description !== undefined && { description: v.description }),
        ...(profile && { profile }),
      });
      print(io.stdout, `${name} = key ${chosen}\n`);
      return 0;
    }
    case "rm": {
      const [name] = positionals;
      if (name === undefined || positionals.length > 1) throw new UsageError("registry rm takes NAME");
      KeyRegistry.update(file, (r) => r.unregister(name));
      print(io.stdout, `removed ${name}\n`);
      return 0;
    }
    case "ls": {
      const r = KeyRegistry.load(file);
      print(io.stdout, `${v.json ? JSON.stringify(r.toJSON(), null, 2) : r.dump()}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown registry action ${JSON.stringify(action ?? "")} (init, add, rm, ls)`);
  }
}
