// The shape of src/: no import cycle, and data flowing one way between the concept folders
// (pool -> store -> core, the registry beside the store), as README's Layout section shows.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "..", "src");

/** Folders each folder may import from (besides itself). */
const MAY_IMPORT: Record<string, string[]> = {
  core: [],
  registry: ["core"],
  store: ["core", "registry"],
  pool: ["core", "store", "registry"],
  schema: ["core", "store", "pool", "registry"],
  workers: ["core", "store", "pool", "registry"],
  capture: ["core", "store", "pool", "registry"],
  xdp: ["core", "store", "pool", "registry", "capture", "workers"],
  export: ["core", "store", "pool", "registry", "capture"],
  cli: ["core", "store", "pool", "registry", "workers", "capture", "xdp", "schema", "export"],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Each source file's relative imports (values and types alike), as source paths. */
const graph = new Map(
  sources(SRC).map((file) => {
    const text = readFileSync(file, "utf8");
    const targets = [...text.matchAll(/^(?:import|export)\b[^;]*?from\s+"(\.{1,2}\/[^"]+)\.js";/gms)].map((m) =>
      resolve(dirname(file), `${m[1]}.ts`),
    );
    return [file, targets] as const;
  }),
);
const name = (file: string) => relative(SRC, file);
const folder = (file: string) => (name(file).includes("/") ? name(file).split("/")[0]! : "");

it("src/ has no import cycle", () => {
  const state = new Map<string, "open" | "done">(),
    cycles: string[] = [];
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "open") {
      cycles.push([...path.slice(path.indexOf(file)), file].map(name).join(" -> "));
      return;
    }
    state.set(file, "open");
    for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    state.set(file, "done");
  };
  for (const file of graph.keys()) visit(file, []);
  expect(cycles).toEqual([]);
});

it("every import goes down the layers", () => {
  const wrong: string[] = [];
  for (const [file, targets] of graph) {
    const from = folder(file);
    if (from === "") continue; // the entry points re-export every folder
    expect(Object.keys(MAY_IMPORT), `${name(file)} is in a folder the layering does not know`).toContain(from);
    for (const target of targets) {
      const to = folder(target);
      if (to !== from && !MAY_IMPORT[from]!.includes(to)) wrong.push(`${name(file)} imports ${name(target)}`);
    }
  }
  expect(wrong).toEqual([]);
});
