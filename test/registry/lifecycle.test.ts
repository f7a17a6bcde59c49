// Nothing lost, nothing corrupted, nothing hung (issue 12, items 5-7 and 9): registry files behind
// symbolic links, their mode, duplicate fields and control characters, the lock file's ownership
// under injected pauses, and the SharedKeyRegistry lock word of a thread that died holding it.
import { execFile, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { KeyRegistry } from "packet-traits";
import { expectError } from "../helpers.js";
import { pausedPackage } from "./paused.js";

const dir = mkdtempSync(join(tmpdir(), "traits-lifecycle-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** Where child processes run: "packet-traits" there is the package with the registry's pauses (see paused.ts). */
const paused = pausedPackage();
afterAll(() => paused.remove());
let files = 0;
/** A fresh file name in the test directory. */
const fresh = (name: string) => join(dir, `${files++}-${name}`);

/** A lock token as the library writes it, for process `pid` on this machine (fields overridable). */
function token(pid: number, override: Record<string, unknown> = {}): string {
  let start = "";
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]!;
  } catch {
    // the process is gone
  }
  const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(),
    pidns = readlinkSync("/proc/self/ns/pid");
  return JSON.stringify({
    pid,
    start,
    host: hostname(),
    boot,
    pidns,
    nonce: `test${pid}`,
    time: Date.now(),
    ...override,
  });
}

/** The pid of a process that has exited. */
const deadPid = () =>
  Number(spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" }).stdout.trim());

/** Files beside `file` that a save or a lock may leave behind. */
const leftovers = (file: string) => readdirSync(join(file, "..")).filter((f) => /\.(tmp|stale|lock)$/.test(f));

describe("registry files behind symbolic links, and their mode", () => {
  it("a symlinked config is updated where it lives: the link stays a link, and both paths take one lock", () => {
    const real = join(fresh("real"), "keys.json"),
      link = fresh("link.json");
    mkdirSync(join(real, ".."));
    new KeyRegistry().save(real);
    symlinkSync(real, link);
    expect(KeyRegistry.registerInFile(link, "via_link", 8)).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(KeyRegistry.load(real).lookup("via_link")?.key).toBe(0);
    KeyRegistry.load(link).save(link); // save() follows the link too
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    // A process holding the real path's lock holds the link's too.
    writeFileSync(`${real}.lock`, token(process.pid));
    expectError(() => KeyRegistry.registerInFile(link, "blocked", 4, { timeoutMs: 0 }), "EBUSY", /keys\.json\.lock/);
    unlinkSync(`${real}.lock`);
    expect(existsSync(`${link}.lock`)).toBe(false);
    // A link to a file that does not exist yet: the file is created at the link's target.
    const target = fresh("later.json"),
      dangling = fresh("dangling.json");
    symlinkSync(target, dangling);
    expect(KeyRegistry.registerInFile(dangling, "first", 2)).toBe(0);
    expect([lstatSync(dangling).isSymbolicLink(), KeyRegistry.load(target).lookup("first")?.key]).toEqual([true, 0]);
  });

  it("keeps the config's mode; a read-only config is refused and left as it was", () => {
    const file = fresh("mode.json");
    new KeyRegistry().save(file);
    chmodSync(file, 0o640);
    KeyRegistry.registerInFile(file, "kept", 8);
    expect(statSync(file).mode & 0o7777).toBe(0o640);
    chmodSync(file, 0o444);
    const before = readFileSync(file, "utf8");
    expectError(
      () => KeyRegistry.registerInFile(file, "refused", 4),
      "EPERM",
      /mode\.json is read-only \(mode 0444\): nothing was saved/,
    );
    expectError(() => KeyRegistry.load(file).save(file), "EPERM", /read-only/);
    expect([readFileSync(file, "utf8"), statSync(file).mode & 0o7777]).toEqual([before, 0o444]);
    expect(leftovers(file)).toEqual([]);
  });
});

describe("config text: duplicate fields and control characters", () => {
  const config = (keys: string, top = "") => `{ "version": 1, "profile": "v1", ${top}"keys": { ${keys} } }`;
  it.each([
    [`{ "version": 1, "version": 1, "profile": "v1", "keys": {} }`, "version"],
    [config(`"a": { "key": 1, "size": 8 }`, `"keys": { "b": { "key": 2, "size": 8 } }, `), "keys"],
    [config(`"a": { "key": 1, "size": 8 }, "a": { "key": 2, "size": 4 }`), "keys.a"],
    [config(`"a": { "key": 1, "size": 8, "key": 2 }`), "keys.a.key"],
    [config(`"a": { "key": 1, "size": 8 }, "\\u0061": { "key": 2, "size": 8 }`), "keys.a"],
    [config(`"b": { "key": 1, "size": 8, "description": "x", "description": "y" }`), "keys.b.description"],
    [config(`"": { "key": 1, "size": 8 }, "": { "key": 2, "size": 8 }`), `keys.""`],
  ])("refuses %s naming the field given twice", (text, path) => {
    expectError(
      () => KeyRegistry.parse(text),
      "EINVAL",
      new RegExp(`^EINVAL: ${path.replace(/\./g, "\\.")}: given twice`),
    );
  });

  it("finds no duplicate in any JSON without one (fast-check: the scan follows strings, escapes, nesting and spacing)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer({ min: 0, max: 3 }), (value, indent) => {
        const text = JSON.stringify({ version: 1, profile: "v1", keys: {}, extra: value }, null, indent);
        expectError(() => KeyRegistry.parse(text), "EINVAL", /^EINVAL: extra: unknown field/);
      }),
      { numRuns: 500 },
    );
  });

  it("a registry add over a file with a duplicate key names the file and changes nothing", () => {
    const file = fresh("dup.json"),
      text = config(`"a": { "key": 1, "size": 8 }, "a": { "key": 2, "size": 4 }`);
    writeFileSync(file, text);
    expectError(() => KeyRegistry.registerInFile(file, "b", 4), "EINVAL", /dup\.json: keys\.a: given twice/);
    expect(readFileSync(file, "utf8")).toBe(text);
    expect(
      KeyRegistry.parse(
        config(`"a": { "key": 1, "size": 8 }, "b": { "key": 2, "size": 8, "description": "a, \\"b\\": {}" }`),
      ).entries(),
    ).toHaveLength(2);
  });

  it("refuses control characters, ANSI escapes and bidirectional overrides in descriptions", () => {
    for (const bad of [
      "red \u001b[31mALERT\u001b[0m",
      "two\nlines",
      "tab\there",
      "csi \u009b31m",
      "\u202eevil",
      "nul\u0000",
      "del\u007f",
    ]) {
      expectError(
        () => new KeyRegistry().register("a", 8, { description: bad }),
        "EINVAL",
        /description: control character U\+[0-9A-F]{4} at index \d+/,
      );
      expectError(
        () => KeyRegistry.fromJSON({ version: 1, profile: "v1", keys: { a: { key: 1, size: 8, description: bad } } }),
        "EINVAL",
        /^EINVAL: keys\.a\.description: control character/,
      );
    }
    const ok = new KeyRegistry();
    ok.register("a", 8, { description: 'µs — ünïcode, "quotes" and 日本語' });
    expect(ok.dump()).toContain("(µs — ünïcode");
  });
});

/** Runs registerInFile in a child process with test pauses; resolves to its key or its error. */
function registerInChild(
  file: string,
  name: string,
  pauses: string,
  options: Record<string, unknown> = {},
): Promise<{ name: string; key?: number; error?: { name: string; code?: string; message: string } }> {
  const script = `
    const { KeyRegistry } = require("packet-traits");
    try {
      console.log(JSON.stringify({ key: KeyRegistry.registerInFile(${JSON.stringify(file)}, ${JSON.stringify(name)}, 4, ${JSON.stringify({ timeoutMs: 20_000, ...options })}) }));
    } catch (e) {
      console.log(JSON.stringify({ error: { name: e.name, code: e.code, message: e.message } }));
    }`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["-e", script],
      { cwd: paused.dir, env: { ...process.env, PACKET_TRAITS_TEST_PAUSES: pauses }, timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${name}: ${error.message}\n${stderr}`));
        resolve({ name, ...JSON.parse(stdout) });
      },
    );
  });
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every child told it registered a name finds it in the file at that key; every failure is a TraitsError. */
function expectNothingLost(file: string, results: Awaited<ReturnType<typeof registerInChild>>[]): void {
  const registry = KeyRegistry.load(file);
  for (const result of results) {
    if (result.error) expect(result.error.name, `${result.name}: ${result.error.message}`).toBe("TraitsError");
    else expect(registry.lookup(result.name)?.key, `${result.name} was told key ${result.key}`).toBe(result.key);
  }
  expect(leftovers(file)).toEqual([]);
}

describe("the registry file's lock, with pauses injected at its racy points", { timeout: 30_000 }, () => {
  it("a holder that stalls after taking the lock keeps it: no one is told a key that is missing from the file", async () => {
    const file = fresh("stall.json");
    const first = registerInChild(file, "first", "lock.acquired=1500");
    await delay(300);
    const second = registerInChild(file, "second", "lock.save=1000");
    const results = await Promise.all([first, second]);
    expectNothingLost(file, results);
    expect(results.map((r) => r.key).sort()).toEqual([0, 1]);
  });

  it("two processes taking over one stale lock: the later one gives back the lock it did not judge stale", async () => {
    const file = fresh("takeover.json");
    writeFileSync(`${file}.lock`, token(deadPid()));
    utimesSync(`${file}.lock`, new Date(0), new Date(0));
    const slow = registerInChild(file, "slow", "lock.takeover=800");
    await delay(300);
    const fast = registerInChild(file, "fast", "lock.acquired=1500");
    const results = await Promise.all([slow, fast]);
    expectNothingLost(file, results);
    expect(results.map((r) => r.key).sort()).toEqual([0, 1]);
  });

  it("takes over a lock whose holder is gone, from an earlier boot, unreadable and old, or on another host and old", () => {
    const cases: Array<[string, string, number]> = [
      ["dead.json", token(deadPid()), 0],
      ["reboot.json", token(1, { boot: "00000000-0000-0000-0000-000000000000" }), 0],
      ["reused.json", token(1, { start: "1" }), 0], // pid 1 runs, but it is not the process that took the lock
      ["legacy.json", "1", 3_600_000], // a pid alone (no token): judged by its age
      ["remote.json", token(1, { host: "another-host" }), 3_600_000],
    ];
    for (const [name, content, ageMs] of cases) {
      const file = fresh(name);
      writeFileSync(`${file}.lock`, content);
      const then = new Date(Date.now() - ageMs);
      utimesSync(`${file}.lock`, then, then);
      expect(KeyRegistry.registerInFile(file, "after", 8, { timeoutMs: 2000 }), name).toBe(0);
      expect(leftovers(file), name).toEqual([]);
    }
  });

  it("waits for a live holder, and for a remote one until it is staleMs old; timeoutMs 0 tries once", () => {
    const file = fresh("held.json");
    writeFileSync(`${file}.lock`, token(process.pid));
    const started = Date.now();
    expectError(() => KeyRegistry.registerInFile(file, "x", 8, { timeoutMs: 0 }), "EBUSY", /held by process \d+ on /);
    expect(Date.now() - started).toBeLessThan(1000);
    expectError(
      () => KeyRegistry.update(file, (r) => r.register("x", 8), { timeoutMs: 50 }),
      "EBUSY",
      /within 50 ms: held by process/,
    );
    expectError(
      () => KeyRegistry.registerInFile(file, "x", 8, { timeoutMs: -1 }),
      "EINVAL",
      /timeoutMs must be an integer/,
    );
    writeFileSync(`${file}.lock`, token(1, { host: "another-host" }));
    expectError(
      () => KeyRegistry.registerInFile(file, "x", 8, { timeoutMs: 50 }),
      "EBUSY",
      /process 1 on another-host/,
    );
    expect(KeyRegistry.registerInFile(file, "x", 8, { timeoutMs: 2000, staleMs: 200 })).toBe(0);
  });

  it("registerInFileAsync waits without blocking the event loop", async () => {
    const file = fresh("async.json");
    writeFileSync(`${file}.lock`, token(process.pid));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    setTimeout(() => unlinkSync(`${file}.lock`), 300);
    const key = await KeyRegistry.registerInFileAsync(file, "patient", 4);
    clearInterval(timer);
    expect(key).toBe(0);
    expect(ticks).toBeGreaterThan(10);
    await expect(KeyRegistry.updateAsync(file, (r) => r.lookup("patient")?.key)).resolves.toBe(0);
  });
});

describe("SharedKeyRegistry: a thread that dies holding the lock word", () => {
  it("bounds the wait (EBUSY naming the thread), and recover() frees the lock and undoes the half-done registration", () => {
    const script = `
      import { Worker } from "node:worker_threads";
      import { SharedKeyRegistry } from "packet-traits";
      const registry = SharedKeyRegistry.create();
      registry.register("first", 4);
      const worker = new Worker(\`
        const { workerData, parentPort } = require("node:worker_threads");
        const { SharedKeyRegistry } = require("packet-traits");
        parentPort.postMessage("registering");
        SharedKeyRegistry.from(workerData).register("stuck", 8);\`,
        { eval: true, execArgv: [], workerData: registry.buffer, env: { ...process.env, PACKET_TRAITS_TEST_PAUSES: "shared.claim=60000" } });
      await new Promise((resolve) => worker.once("message", resolve));
      await new Promise((resolve) => setTimeout(resolve, 300)); // it is asleep holding the lock
      const thread = worker.threadId;
      await worker.terminate();
      const started = Date.now();
      let error;
      try { registry.register("after", 4); } catch (e) { error = e; }
      const waited = Date.now() - started;
      const recovered = registry.recover(thread), again = registry.recover(thread);
      console.log(JSON.stringify({ thread, code: error?.code, message: error?.message, waited, recovered, again, after: registry.register("after", 4), entries: registry.entries() }));`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: paused.dir,
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(r.signal, `the process hung: ${r.stderr}`).toBeNull();
    const out = JSON.parse(r.stdout);
    expect(out.code).toBe("EBUSY");
    expect(out.message).toMatch(
      new RegExp(`held by thread ${out.thread} for over 1000 ms; .*recover\\(${out.thread}\\)`),
    );
    expect(out.waited).toBeLessThan(5000);
    expect([out.recovered, out.again, out.after]).toEqual([true, false, 1]);
    expect(out.entries).toEqual([
      { name: "first", key: 0, size: 4 },
      { name: "after", key: 1, size: 4 },
    ]);
  });
});
