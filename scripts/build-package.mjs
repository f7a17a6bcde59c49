// Build step after tsc (npm run build): the parts of the package tsc does not make.
// 1. dist/**/*.d.ts: WebAssembly.Memory/Module -> core/wasm-types.js (no DOM lib needed by consumers).
// 2. dist/cjs/: a CommonJS copy of dist/ (esbuild, file by file) with its declarations, for `require`.
// 3. dist/web/: the browser entries bundled (the "browser" export condition), node:fs stubbed.
// 4. dist/cli/bin.js: the command line bundled into one module.
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build, transformSync } from "esbuild";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const files = (dir) => readdirSync(dir, { recursive: true }).map((f) => join(dir, String(f))).filter((f) => !f.includes(`${dist}/cjs`) && !f.includes(`${dist}/web`));

// 1. Declarations that need no DOM lib.
for (const file of files(dist).filter((f) => f.endsWith(".d.ts"))) {
  const text = readFileSync(file, "utf8");
  if (!text.includes("WebAssembly.")) continue;
  let types = relative(dirname(file), join(dist, "core", "wasm-types.js"));
  if (!types.startsWith(".")) types = `./${types}`;
  writeFileSync(file, text.replace(/WebAssembly\.(Memory|Module)\b/g, (_, name) => `import("${types}").Wasm${name}`));
}

// 1b. The Parquet encoder's worker thread (dist/export/encoder.js) with apache-arrow bundled in: it
// starts in 60 ms instead of 300 and takes 16 MB less than with apache-arrow's 300 modules (BENCHMARKS.md).
await build({
  entryPoints: [join(dist, "export", "encoder.js")],
  outfile: join(dist, "export", "encoder.js"),
  allowOverwrite: true,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["parquet-wasm"],
  legalComments: "eof",
  banner: { js: "// Bundles apache-arrow (Apache License 2.0, https://arrow.apache.org): see its LICENSE.txt and NOTICE.txt." },
  logLevel: "warning",
});

// 2. CommonJS: every module transformed, import.meta.url from __filename, dynamic import() kept (it loads ESM handlers).
rmSync(join(dist, "cjs"), { recursive: true, force: true });
for (const file of files(dist).filter((f) => f.endsWith(".js") || f.endsWith(".d.ts"))) {
  const out = join(dist, "cjs", relative(dist, file));
  mkdirSync(dirname(out), { recursive: true });
  if (file.endsWith(".d.ts")) {
    cpSync(file, out);
    continue;
  }
  const source = readFileSync(file, "utf8"), meta = source.includes("import.meta.url");
  const { code } = transformSync(source, {
    format: "cjs",
    platform: "node",
    target: "node20",
    supported: { "dynamic-import": true },
    define: meta ? { "import.meta.url": "__import_meta_url" } : {},
    banner: meta ? 'const __import_meta_url = require("node:url").pathToFileURL(__filename).href;' : "",
  });
  writeFileSync(out, code.replace(/^#!.*\n/, ""));
}
writeFileSync(join(dist, "cjs", "package.json"), '{ "type": "commonjs" }\n');

// 3. Browser bundles sharing one chunk (one TraitsError class). The registry's file and lock code
// imports node: modules; in the bundles each is a stub with the same export names: functions and
// classes throw saying what is missing, other values are Node's main-thread values (threadId 0, fs.constants).
rmSync(join(dist, "web"), { recursive: true, force: true });
const json = (value) => {
  try {
    return JSON.stringify(value);
  } catch {
    return "{}"; // e.g. node:path's posix and win32, which refer to themselves
  }
};
const stub = async (name) => {
  const real = await import(name), missing = `() => { throw new Error("packet-traits: ${name} is not available in a browser (registry files and locks need Node): use new KeyRegistry() and register(), or KeyRegistry.parse(text)"); }`;
  return Object.keys(real).filter((key) => key !== "default" && /^[a-zA-Z_$][\w$]*$/.test(key)).map((key) => {
    const value = real[key];
    return `export const ${key} = ${typeof value === "function" || value === undefined ? missing : json(value)};`;
  }).join("\n");
};
await build({
  entryPoints: { browser: join(dist, "browser.js"), capture: join(dist, "capture.js") },
  outdir: join(dist, "web"),
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  logLevel: "warning",
  plugins: [{
    name: "node-stubs",
    setup(b) {
      b.onResolve({ filter: /^node:/ }, ({ path }) => ({ path, namespace: "node-stub" }));
      b.onLoad({ filter: /.*/, namespace: "node-stub" }, async ({ path }) => ({ contents: await stub(path) }));
    },
  }],
});

// 4. The command line as one module (dist/cli/bin.js, the package's bin): node then resolves and
// compiles one file instead of about 25, which starts it about 60 ms sooner. It stays in dist/cli/,
// so that the paths it takes from import.meta.url (../../package.json, ../../bpf) hold.
await build({
  entryPoints: [join(dist, "cli", "bin.js")],
  outfile: join(dist, "cli", "bin.js"),
  allowOverwrite: true,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  logLevel: "warning",
});
