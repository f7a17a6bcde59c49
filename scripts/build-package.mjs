// Build step after tsc (npm run build): the parts of the package tsc does not make.
// 1. dist/**/*.d.ts: WebAssembly.Memory/Module -> core/wasm-types.js (no DOM lib needed by consumers).
// 2. dist/cjs/: a CommonJS copy of dist/ (esbuild, file by file) with its declarations, for `require`.
// 3. dist/web/: the browser entries bundled (the "browser" export condition), node:fs stubbed.
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as fs from "node:fs";
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

// 3. Browser bundles sharing one chunk (one TraitsError class), node:fs a stub that says what is missing.
const fsNames = Object.keys(fs).filter((name) => /^[a-zA-Z_$][\w$]*$/.test(name) && name !== "default");
rmSync(join(dist, "web"), { recursive: true, force: true });
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
    name: "no-node-fs",
    setup(b) {
      b.onResolve({ filter: /^node:fs$/ }, () => ({ path: "node:fs", namespace: "stub" }));
      b.onLoad({ filter: /.*/, namespace: "stub" }, () => ({
        contents: `const missing = () => { throw new Error("packet-traits: files need Node's file system (KeyRegistry.load/save/update); in a browser, use new KeyRegistry() and register(), or KeyRegistry.parse(text)"); };\n` +
          fsNames.map((name) => `export const ${name} = missing;`).join("\n"),
      }));
    },
  }],
});
