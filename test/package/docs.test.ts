// Runnable docs: every code block of README.md and docs/*.md, run as written against the packed
// package installed in a fresh consumer project, in order, in one folder per document (which sees the
// consumer's node_modules, as a user's project does: `node_modules/packet-traits/...` paths hold).
// - js blocks run as ES modules as written, on this Node (so they must be plain JavaScript of the
//   versions in engines); ts blocks run with their types stripped (esbuild); json blocks must parse.
// - A block whose info string names a file (```json keys.json, ```js my-handler.mjs, ```c mark.bpf.c)
//   is that file: written into the document's folder for the blocks after it. A BPF program (.bpf.c)
//   is also compiled with clang against the shipped bpf/traits.bpf.h and loaded into the kernel.
// - sh and console blocks: each `$ command` runs in bash (the package's bin on PATH, HOME the
//   document's folder) and must exit 0; the lines after it are what it prints, stdout and stderr
//   together as a terminal shows them (a line `...` ends the comparison early). A failing command is
//   shown as `$ command; echo "exit $?"`.
// - text blocks are not code (layouts, hex dumps). tshark's warning when run as root is left out of
//   what commands print.
// - Words of the info string name what a block needs: bpf (bpf() permitted: root, libbpf, koffi),
//   netns (bpf and network namespaces: the block runs in one with a veth pair eth0/eth1), tshark,
//   clang. Where one is missing the block is skipped, saying so, except under CI=true.
// - norun: the README's first block only (the clone's own commands; .ci/run runs them).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { transformSync } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { needs, onPath, onPathAt } from "../needs.js";
import { ROOT, makeConsumer, run } from "./consumer.js";

interface Block {
  lang: string;
  file: string | undefined;
  flags: string[];
  code: string;
  line: number;
}

/** The fenced blocks of a markdown file. */
function blocks(path: string): Block[] {
  const out: Block[] = [],
    lines = readFileSync(path, "utf8").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    while (++i < lines.length && !lines[i]!.startsWith("```"));
    const words = open[2]!.split(/\s+/).filter(Boolean);
    out.push({
      lang: open[1]!,
      file: words.find((w) => w.includes(".")),
      flags: words.filter((w) => !w.includes(".")),
      code: lines.slice(start + 1, i).join("\n"),
      line: start + 1,
    });
  }
  return out;
}

const DOCS = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];
const ROOT_WARNING = 'Running as user "root" and group "root". This could be dangerous.';
const NEEDS = ["bpf", "netns", "tshark", "clang"] as const;
const notRun: string[] = [];
let consumer = "";
/** Why each need is missing on this machine ("" when it is there). */
const missing: Record<(typeof NEEDS)[number], string> = { bpf: "", netns: "", tshark: "", clang: "" };

beforeAll(() => {
  consumer = makeConsumer();
  const bpf = spawnSync(
    "node",
    ["-e", 'const x = require("packet-traits/xdp"); x.BpfObject.load(x.EXAMPLE_PROGRAM).close()'],
    { cwd: consumer, encoding: "utf8" },
  );
  if (bpf.status !== 0) missing.bpf = `bpf() not usable here: ${bpf.stderr.trim().split("\n").at(-1)}`;
  missing.netns =
    missing.bpf || (process.getuid?.() === 0 && onPathAt("ip") ? "" : "network namespaces need root and ip");
  if (!onPath("tshark")) missing.tshark = "no tshark on PATH (apt-get install tshark)";
  if (!onPath("clang")) missing.clang = "no clang on PATH (apt-get install clang libbpf-dev)";
}, 120_000);
afterAll(() => rmSync(consumer, { recursive: true, force: true }));

/** Runs `file` with node in a new network namespace holding a veth pair eth0/eth1 (both up); removes it after. */
function inNetns(file: string, dir: string): void {
  const ns = `ptdocs${process.pid}`,
    ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
  ip("netns", "add", ns);
  try {
    ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1");
    for (const dev of ["eth0", "eth1", "lo"]) ip("-n", ns, "link", "set", dev, "up");
    run("ip", ["netns", "exec", ns, "node", file], dir);
  } finally {
    spawnSync("ip", ["netns", "del", ns]);
  }
}

describe.each(DOCS)("%s", (doc) => {
  const all = blocks(join(ROOT, doc));

  it("every block is tagged: ts, js, json, sh or console, c (a BPF program), text", () => {
    expect(
      all
        .filter((b) => !["ts", "js", "json", "sh", "console", "text", "c"].includes(b.lang))
        .map((b) => `line ${b.line}: "${b.lang}"`),
    ).toEqual([]);
    expect(
      all
        .filter((b) => b.lang === "c" && !b.file?.endsWith(".bpf.c"))
        .map((b) => `line ${b.line}: a c block names its .bpf.c file`),
    ).toEqual([]);
  });

  it("every code block runs as written", () => {
    const dir = join(consumer, doc.replace(/\W/g, "_"));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "package.json"), '{ "type": "module" }');
    symlinkSync(join(consumer, "node_modules"), join(dir, "node_modules"));
    const { PACKET_TRAITS_IMPL: _, ...inherited } = process.env,
      env = { ...inherited, PATH: `${join(consumer, "node_modules", ".bin")}:${process.env.PATH}`, HOME: dir };
    for (const [n, block] of all.entries()) {
      const where = `${doc} line ${block.line}`;
      if (block.lang === "text") continue;
      if (block.flags.includes("norun")) {
        notRun.push(where);
        continue;
      }
      const lacking = block.flags.filter((f) => f in missing && missing[f as keyof typeof missing] !== "");
      if (block.file?.endsWith(".bpf.c")) lacking.push(...(["clang", "bpf"] as const).filter((f) => missing[f]));
      if (
        lacking.length > 0 &&
        !needs(false, `${where}: ${lacking.map((f) => missing[f as keyof typeof missing]).join("; ")}`)
      )
        continue;
      if (block.file) {
        writeFileSync(join(dir, block.file), `${block.code}\n`);
        if (block.file.endsWith(".bpf.c")) {
          const object = block.file.replace(/\.c$/, ".o");
          run(
            "clang",
            [
              "-target",
              "bpf",
              "-O2",
              "-g",
              "-Wall",
              "-Werror",
              "-I",
              join(dir, "node_modules", "packet-traits", "bpf"),
              "-I",
              `/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`,
              "-c",
              block.file,
              "-o",
              object,
            ],
            dir,
          );
          run("node", ["-e", `require("packet-traits/xdp").BpfObject.load(${JSON.stringify(object)}).close()`], dir);
        }
        continue;
      }
      if (block.lang === "json") {
        expect(() => JSON.parse(block.code), where).not.toThrow();
      } else if (block.lang === "sh" || block.lang === "console") {
        for (const step of block.code.split(/^\$ /m).slice(1)) {
          const [command, ...expected] = step.split("\n");
          const r = spawnSync("bash", ["-c", `exec 2>&1\n${command}`], {
            cwd: dir,
            encoding: "utf8",
            env,
            timeout: 120_000,
          });
          // tshark's warning when run as root is the machine's, not the document's
          const output = r.stdout.split("\n").filter((l) => l !== ROOT_WARNING);
          expect(`exit ${r.status}`, `${where}: $ ${command}\n${r.stdout}`).toBe("exit 0");
          const shown = expected.filter((l, i) => l !== "" || i < expected.length - 1),
            cut = shown.indexOf("...");
          const want = cut < 0 ? shown : shown.slice(0, cut),
            got = output.slice(0, cut < 0 ? output.length : cut).map((l) => l.trimEnd());
          if (cut < 0) while (got.at(-1) === "") got.pop();
          expect(got, `${where}: $ ${command}`).toEqual(want.map((l) => l.trimEnd()));
        }
      } else if (block.lang === "ts" || block.lang === "js") {
        const file = join(dir, `block-${n}.mjs`);
        writeFileSync(
          file,
          block.lang === "js"
            ? block.code
            : transformSync(block.code, { loader: "ts", format: "esm", target: "es2022" }).code,
        );
        try {
          if (block.flags.includes("netns")) inNetns(file, dir);
          else run("node", [file], dir);
        } catch (error) {
          throw new Error(`${where}: ${(error as { stderr?: string }).stderr ?? error}`);
        }
      }
    }
    // CLI.md's examples build the tests' sample capture
    if (doc === "docs/CLI.md")
      expect(readFileSync(join(dir, "in.pcap"))).toEqual(readFileSync(join(ROOT, "test", "fixtures", "sample.pcap")));
  }, 300_000);
});

it("runs every block but the README's first (the clone's own commands, which .ci/run runs)", () => {
  expect(notRun).toEqual(["README.md line 3"]);
});
