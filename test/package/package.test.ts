// The package as a user gets it: the packed tarball installed into a fresh consumer project, used from
// ESM, CommonJS, strict Node-only TypeScript (no DOM lib), an esbuild bundle, Jest, Deno and Bun.
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "esbuild";
import { needs, onPath } from "../needs.js";
import { ROOT, makeConsumer, run } from "./consumer.js";

let dir = "";
beforeAll(() => {
  dir = makeConsumer();
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// What every runtime runs: a store, a pool batch call, the schema, the capture reader; prints the impl.
const BODY = `
const store = createStore(64);
store.set(3, 0x1234, 2).set(40, 5n);
const pool = new PacketPool({ count: 8 });
const rx = pool.burst(8).selectRange(0, 8);
const T = defineTraits({ packet_id: { type: "u64", key: 5 }, vlan: { type: "u16", key: 7 } });
const set = T.fields("packet_id", "vlan").batchSet(pool, rx, { values: { packet_id: 9n, vlan: 10 } });
const reader = new CaptureReader(bytesSource(writePcap(1, [{ timestampNs: 0n, data: new Uint8Array(60) }])), new Uint8Array(READER_BYTES));
let packets = 0;
for (let kind = reader.next(true); kind !== END; kind = reader.next(true)) if (kind === PACKET) packets++;
console.log(JSON.stringify({ impl: store.impl, pool: pool.impl, get: store.get(3), set, vlan: T.vlan.get(pool.traits(7)), packets, group: typeof WorkerGroup }));
`;
const EXPECTED = { impl: "wasm", pool: "wasm", get: 0x1234, set: 8, vlan: 10, packets: 1, group: "function" };
const ESM = `import { createStore, PacketPool, defineTraits } from "packet-traits";\nimport { CaptureReader, END, PACKET, READER_BYTES, bytesSource, writePcap } from "packet-traits/capture";\nimport { WorkerGroup } from "packet-traits/workers";\n${BODY}`;
const CJS = `const { createStore, PacketPool, defineTraits } = require("packet-traits");\nconst { CaptureReader, END, PACKET, READER_BYTES, bytesSource, writePcap } = require("packet-traits/capture");\nconst { WorkerGroup } = require("packet-traits/workers");\n${BODY}`;

const result = (out: string) => JSON.parse(out.trim().split("\n").at(-1)!);

describe("from the packed tarball", () => {
  it("ships dist, README, LICENSE and CHANGELOG, and no source maps", () => {
    const files = JSON.parse(run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], ROOT))[0].files.map(
      (f: { path: string }) => f.path,
    );
    expect(files).toEqual(
      expect.arrayContaining([
        "LICENSE",
        "CHANGELOG.md",
        "README.md",
        "dist/index.js",
        "dist/cjs/index.js",
        "dist/web/browser.js",
      ]),
    );
    expect(files.filter((f: string) => f.endsWith(".map"))).toEqual([]);
  });

  it("ESM: import, on the WASM core", () => {
    writeFileSync(join(dir, "esm.mjs"), ESM);
    expect(result(run("node", ["esm.mjs"], dir))).toEqual(EXPECTED);
  });

  it("CommonJS: require, on the WASM core", () => {
    writeFileSync(join(dir, "cjs.cjs"), CJS);
    expect(result(run("node", ["cjs.cjs"], dir))).toEqual(EXPECTED);
  });

  it("CommonJS: a WorkerGroup runs an ES module handler in the workers of the CommonJS build", () => {
    writeFileSync(
      join(dir, "handler.mjs"),
      "export function burst({ pool, burst, worker, args }) { return pool.batchSet(burst, 9, 4, args.t + worker); }\n",
    );
    writeFileSync(
      join(dir, "workers.cjs"),
      `const { PacketPool } = require("packet-traits");\nconst { WorkerGroup } = require("packet-traits/workers");\n(async () => {\n  const pool = new PacketPool({ count: 64, memory: new WebAssembly.Memory({ initial: 1, maximum: 1024, shared: true }) });\n  const group = new WorkerGroup(pool, { workers: 2, handler: require("node:url").pathToFileURL(__dirname + "/handler.mjs") });\n  console.log(JSON.stringify([await group.run({ op: "handler", args: { t: 5 } }), pool.traits(0).get(9), pool.traits(63).get(9), pool.impl]));\n  await group.close();\n})();\n`,
    );
    expect(result(run("node", ["workers.cjs"], dir))).toEqual([64, 5, 6, "wasm"]);
  });

  it("strict Node-only TypeScript (no DOM lib, skipLibCheck false), ESM and CommonJS files, node16", () => {
    const ts = join(dir, "ts");
    mkdirSync(ts, { recursive: true });
    writeFileSync(
      join(ts, "esm.mts"),
      `import { createStore, PacketPool, TraitStore, type BurstLayout, type StoreKey } from "packet-traits";\nimport type { BurstContext } from "packet-traits/workers";\nimport { CaptureReader } from "packet-traits/capture";\nconst pool = new PacketPool({ count: 4 });\nconst layout: BurstLayout = pool.burst(4).layout();\nconst memory = pool.memory;\nconst view: TraitStore = TraitStore.at(memory, 0, 64, { impl: "js" });\nconst key: StoreKey = "packet_id";\nexport const out: unknown[] = [createStore(64).get(3), layout.capacity, view.impl, key, CaptureReader, (ctx: BurstContext) => ctx.worker];\n`,
    );
    writeFileSync(
      join(ts, "cjs.cts"),
      `import { createStore, defineTraits } from "packet-traits";\nimport { WorkerGroup } from "packet-traits/workers";\nconst T = defineTraits({ vlan: { type: "u16", key: 7 } });\nconst vlan: number | undefined = T.vlan.get(createStore(64));\nexport = [vlan, WorkerGroup];\n`,
    );
    writeFileSync(
      join(ts, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: "es2022",
          lib: ["es2022"],
          types: ["node"],
          typeRoots: [join(ROOT, "node_modules", "@types")],
          module: "node16",
          moduleResolution: "node16",
          skipLibCheck: false,
        },
        files: ["esm.mts", "cjs.cts"],
      }),
    );
    expect(() => run("node", [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "."], ts)).not.toThrow();
  });

  it.each([
    ["bundler", "esnext"],
    ["node16", "node16"],
    ["node10", "commonjs"],
  ])(
    "TypeScript without @types/node or the DOM lib (lib es2022, skipLibCheck false), moduleResolution %s: every entry compiles",
    (resolution, module) => {
      // Before: Symbol.dispose (lib esnext or @types/node) and URL (DOM or Node) in the declarations;
      // under node10, packet-traits/capture, /workers and /xdp did not resolve at all (/parquet came later, with its stub).
      const ts = join(dir, `portable-${resolution}`);
      mkdirSync(ts, { recursive: true });
      writeFileSync(
        join(ts, "main.ts"),
        `import { createStore, PacketPool, TraitStore, defineTraits, type StoreKey } from "packet-traits";\nimport { CaptureReader, READER_BYTES } from "packet-traits/capture";\nimport { WorkerGroup, type BurstContext } from "packet-traits/workers";\nimport { BpfObject, XdpProgram } from "packet-traits/xdp";\nimport { exportCapture } from "packet-traits/parquet";\nconst store: TraitStore = createStore(64);\nconst key: StoreKey = "packet_id";\nconst T = defineTraits({ vlan: { type: "u16", key: 7 } });\nconst vlan: number | undefined = T.vlan.get(store);\nstore[Symbol.dispose]();\nexport const out: unknown[] = [vlan, key, new PacketPool({ count: 1 }), new CaptureReader({ read: () => 0 }, new Uint8Array(READER_BYTES)), WorkerGroup, (ctx: BurstContext) => ctx.worker, BpfObject, XdpProgram, exportCapture];\n`,
      );
      writeFileSync(
        join(ts, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            target: "es2022",
            lib: ["es2022"],
            types: [],
            module,
            moduleResolution: resolution,
            ignoreDeprecations: "6.0", // node10 is deprecated in TypeScript 6, still used by older toolchains
            skipLibCheck: false,
          },
          files: ["main.ts"],
        }),
      );
      expect(() => run("node", [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "."], ts)).not.toThrow();
    },
  );

  it("packet-traits/xdp gives the paths of the shipped BPF objects, from import and require alike", () => {
    const names = ["EXAMPLE_PROGRAM", "ORACLE_PROGRAM", "RECEIVE_PROGRAM"],
      print = `console.log(JSON.stringify([${names.map((n) => `x.${n}`).join(", ")}]))`;
    writeFileSync(join(dir, "paths.mjs"), `import * as x from "packet-traits/xdp";\n${print};\n`);
    writeFileSync(join(dir, "paths.cjs"), `const x = require("packet-traits/xdp");\n${print};\n`);
    const bpf = join(dir, "node_modules", "packet-traits", "bpf"),
      want = ["example", "oracle", "receive"].map((name) => join(bpf, `${name}.bpf.o`));
    // Before: no EXAMPLE_PROGRAM, and require's RECEIVE_PROGRAM pointed into dist/ (dist/bpf/receive.bpf.o).
    expect(result(run("node", ["paths.mjs"], dir))).toEqual(want);
    expect(result(run("node", ["paths.cjs"], dir))).toEqual(want);
    for (const file of want) expect(readFileSync(file).subarray(0, 4)).toEqual(Buffer.from("\x7fELF", "latin1"));
  });

  it("ships no test hook, and no link to a repository that does not exist", () => {
    const pkg = join(dir, "node_modules", "packet-traits");
    const code = readdirSync(pkg, { recursive: true })
      .map(String)
      .filter((f) => /\.(c?js|mjs|d\.ts)$/.test(f));
    expect(code.length).toBeGreaterThan(50);
    // Before: dist/registry/pauses.js read PACKET_TRAITS_TEST_PAUSES (test/registry/paused.ts has it now).
    expect(code.filter((f) => readFileSync(join(pkg, f), "utf8").includes("PACKET_TRAITS_TEST"))).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8"));
    expect(["repository", "bugs", "homepage"].filter((field) => field in manifest)).toEqual([]);
  });

  it.each(["esm", "cjs"] as const)("an esbuild bundle for Node (%s) keeps the WASM core", async (format) => {
    const entry = join(dir, format === "esm" ? "esm.mjs" : "cjs.cjs"),
      outfile = join(dir, `bundle.${format === "esm" ? "mjs" : "cjs"}`);
    writeFileSync(entry, format === "esm" ? ESM : CJS);
    await build({
      entryPoints: [entry],
      bundle: true,
      platform: "node",
      format,
      outfile,
      logLevel: "silent",
      absWorkingDir: dir,
    });
    expect(result(run("node", [outfile], dir, { PACKET_TRAITS_IMPL: "wasm" }))).toEqual(EXPECTED);
  });

  it("an esbuild bundle for the browser resolves the browser build: no node: modules", async () => {
    writeFileSync(
      join(dir, "web.mjs"),
      `import { createStore } from "packet-traits";\nimport { CaptureReader } from "packet-traits/capture";\nconsole.log(createStore(64).impl, typeof CaptureReader);\n`,
    );
    const { outputFiles } = await build({
      entryPoints: [join(dir, "web.mjs")],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
      absWorkingDir: dir,
    });
    expect(outputFiles[0]!.text).not.toMatch(/["']node:/);
  });

  it("Jest 30 loads it (CommonJS)", () => {
    writeFileSync(
      join(dir, "store.test.cjs"),
      `const { createStore } = require("packet-traits");\ntest("store", () => { const s = createStore(64); s.set(3, 7, 2); expect([s.impl, s.get(3)]).toEqual(["wasm", 7]); });\n`,
    );
    const out = run(
      "node",
      [
        join(ROOT, "node_modules", "jest", "bin", "jest.js"),
        "--rootDir",
        dir,
        "--ci",
        "--testMatch",
        "**/store.test.cjs",
        "--no-watchman",
      ],
      dir,
    );
    expect(out).toBe(""); // jest reports on stderr; a failure throws
  });
});

// Deno and Bun as found on PATH: nothing is downloaded during the tests. .ci/run installs both from
// their npm packages (prebuilt binaries) before the tests; elsewhere a missing one is skipped, saying so.
const deno = onPath("deno"),
  bun = onPath("bun");

describe("Deno and Bun", () => {
  it.runIf(needs(deno, "Deno: no deno on PATH (npm install -g deno@2; .ci/run installs it)"))(
    "Deno runs it from npm, with no permissions (no --allow-read, no --allow-env)",
    () => {
      writeFileSync(join(dir, "esm.mjs"), ESM);
      expect(result(run("deno", ["run", "--no-prompt", "esm.mjs"], dir, { NO_COLOR: "1" }))).toEqual(EXPECTED);
    },
  );

  it.runIf(needs(bun, "Bun: no bun on PATH (npm install -g bun@1; .ci/run installs it)"))(
    "Bun runs it, ESM and CommonJS",
    () => {
      writeFileSync(join(dir, "esm.mjs"), ESM);
      writeFileSync(join(dir, "cjs.cjs"), CJS);
      expect(result(run("bun", ["esm.mjs"], dir))).toEqual(EXPECTED);
      expect(result(run("bun", ["cjs.cjs"], dir))).toEqual(EXPECTED);
    },
  );
});

it("every package npm ci installs accepts the Node versions the package declares (no EBADENGINE)", () => {
  // Before: puppeteer-core 25 and @puppeteer/browsers 3 asked for Node 22.12, and npm ci warned on Node 20.
  const semver = createRequire(import.meta.url)("semver") as {
    minVersion(range: string): { version: string };
    satisfies(version: string, range: string): boolean;
  };
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
      packages: Record<string, { engines?: { node?: string } }>;
    },
    oldest = semver.minVersion(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).engines.node).version;
  const refusing = Object.entries(lock.packages)
    .filter(([path, { engines }]) => path !== "" && engines?.node && !semver.satisfies(oldest, engines.node))
    .map(([path, { engines }]) => `${path}: node ${engines!.node}`);
  expect(oldest).toBe("20.19.0");
  expect(refusing).toEqual([]);
});

it("publint and @arethetypeswrong/cli (its default profile: node10 too) find nothing", () => {
  expect(run("node", [join(ROOT, "node_modules", "publint", "src", "cli.js"), "--strict"], ROOT)).toMatch(/All good/);
  // The tarball the consumer project installed (attw --pack would pack into the repository and leave it there if killed).
  const tarball = join(dir, readdirSync(dir).find((f) => f.endsWith(".tgz"))!);
  expect(() =>
    run("node", [join(ROOT, "node_modules", "@arethetypeswrong", "cli", "dist", "index.js"), tarball], ROOT),
  ).not.toThrow();
  expect(readFileSync(join(ROOT, "LICENSE"), "utf8")).toMatch(/MIT License/);
}, 120_000);
