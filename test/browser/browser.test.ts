// The browser build in a real browser: headless Chromium (Debian's package; nothing downloads a
// browser) loads pages bundled from the package's browser entry and served from 127.0.0.1: the
// conformance vectors and batch calls on both implementations, the demo page decoding a capture
// written by `pcap annotate`, and a stream pipeline (fetch, annotate(), readCapture()). UPDATE_SCREENSHOT=1 writes the demo's screenshot to docs/demo.png.
// The browser is $CHROMIUM, else chromium (or chromium-browser) on PATH; without one the tests are
// skipped, saying so, except under CI=true (.ci/run installs Debian's chromium), where they fail.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "esbuild";
import puppeteer, { type Browser } from "puppeteer-core";
import { needs, onPathAt } from "../needs.js";

const ROOT = join(import.meta.dirname, "..", ".."),
  CHROMIUM = process.env.CHROMIUM || onPathAt("chromium", "chromium-browser"),
  run = needs(CHROMIUM !== undefined, "browser tests: no chromium on PATH and no $CHROMIUM (apt-get install chromium)");
let site = "";
const TYPES: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".jsonl": "application/json",
  ".pcapng": "application/octet-stream",
  ".pcap": "application/octet-stream",
};
let server: Server,
  browser: Browser,
  origin = "";

beforeAll(async () => {
  if (!run) return;
  site = mkdtempSync(join(tmpdir(), "packet-traits-browser-"));
  // The pages, bundled as a user's bundler would: "packet-traits" resolves to the browser build.
  await build({
    entryPoints: {
      "test/page": join(ROOT, "test/browser/page.ts"),
      "streams/streams": join(ROOT, "test/browser/streams.ts"),
      "demo/demo": join(ROOT, "demo/demo.ts"),
    },
    outdir: site,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    logLevel: "warning",
    absWorkingDir: ROOT,
  });
  writeFileSync(
    join(site, "test", "index.html"),
    '<!doctype html><meta charset="utf-8"><script type="module" src="./page.js"></script>',
  );
  copyFileSync(join(ROOT, "demo", "index.html"), join(site, "demo", "index.html"));
  writeFileSync(
    join(site, "streams", "index.html"),
    '<!doctype html><meta charset="utf-8"><script type="module" src="./streams.js"></script>',
  );
  mkdirSync(join(site, "capture"));
  execFileSync("node", [join(ROOT, "bench/pipeline.js"), "--make", "20000", join(site, "capture", "in.pcap")]);
  mkdirSync(join(site, "vectors"));
  for (const f of ["traits-v1.jsonl", "traits-flags.jsonl"])
    copyFileSync(join(ROOT, "test", "vectors", f), join(site, "vectors", f));
  server = createServer((req, res) => {
    const path = normalize(join(site, decodeURIComponent(new URL(req.url!, "http://x").pathname))),
      file = path.endsWith("/") ? join(path, "index.html") : path;
    if (!file.startsWith(site) || !existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  browser = await puppeteer.launch({
    executablePath: CHROMIUM ?? "chromium (not found on PATH)",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu"],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
  if (site) rmSync(site, { recursive: true, force: true });
});

describe.runIf(run)(`headless Chromium (${CHROMIUM ?? "not found"})`, () => {
  it("runs every conformance vector and a batch call on both implementations; WebAssembly by default", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${origin}/test/`);
    const result = await page.evaluate(() => (window as unknown as { result: Promise<unknown> }).result);
    expect(errors).toEqual([]);
    const batch = { set: 256, get: 256, status: [4], value: "deadbeef 1099511627776" };
    expect(result).toEqual({
      cases: 1400,
      wasm: { ops: expect.any(Number), failures: [] },
      js: { ops: expect.any(Number), failures: [] },
      batch: [
        { impl: "wasm", ...batch },
        { impl: "js", ...batch },
      ],
      defaultImpl: "wasm",
    });
    expect((result as { wasm: { ops: number } }).wasm.ops).toBeGreaterThan(10_000);
  });

  it("the demo page shows every packet's traits by name, decoded by the WASM core", async () => {
    const capture = join(site, "demo", "sample.pcapng");
    execFileSync(
      "node",
      [join(ROOT, "dist/cli/bin.js"), "pcap", "annotate", join(ROOT, "test/fixtures/sample.pcap"), capture],
      { stdio: "ignore" },
    );
    const page = await browser.newPage();
    await page.setViewport({ width: 1100, height: 440 });
    await page.goto(`${origin}/demo/`);
    await (await page.$("input#files"))!.uploadFile(capture);
    await page.waitForSelector("#status[data-impl]");
    const rows = await page.$$eval("#packets tbody tr", (trs) =>
      trs.map((tr) => [...tr.querySelectorAll("td.traits span")].map((span) => span.textContent).join(" ")),
    );
    expect(await page.$eval("#status", (s) => (s as HTMLElement).dataset.impl)).toBe("wasm");
    expect(rows).toHaveLength(5);
    expect(rows[0]).toMatch(/^packet_id=0 rx_hash=0x51ccc178 rss_hash_type=0x19 rx_timestamp=1700000000000000000/);
    expect(rows[3]).toMatch(/vlan_tci=0x2064 vlan_proto=0x8100/);
    const shot = join(site, "demo.png");
    await page.screenshot({ path: shot as `${string}.png` });
    if (process.env.UPDATE_SCREENSHOT === "1") copyFileSync(shot, join(ROOT, "docs", "demo.png"));
  });

  it("streams a fetched capture through annotate() into readCapture(): the bytes pcap annotate writes", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${origin}/streams/`);
    const result = (await page.evaluate(() => (window as unknown as { result: Promise<unknown> }).result)) as {
      count: number;
      packets: Array<[number, string, string]>;
      length: number;
      sha256: string;
      error: string;
    };
    expect(errors).toEqual([]);
    const expected = execFileSync(
      "node",
      [join(ROOT, "dist/cli/bin.js"), "pcap", "annotate", join(site, "capture", "in.pcap"), "-", "-c", "19000"],
      { maxBuffer: 2 ** 28 },
    );
    expect(result).toEqual({
      count: 19_000,
      packets: [0, 5000, 10000, 15000, 18999].map((i) => [
        i,
        String(1_700_000_000_000_000_000n + BigInt(i) * 1000n),
        expect.stringMatching(
          new RegExp(
            `^traits: packet_id=${i} rx_hash=0x[0-9a-f]+ rss_hash_type=0x29 rx_timestamp=\\d+ crc32:[0-9a-f]{8}$`,
          ),
        ),
      ]),
      length: expected.length,
      sha256: createHash("sha256").update(expected).digest("hex"),
      error: expect.stringMatching(/^EBADMSG: byte offset 0: /),
    });
  });
});
