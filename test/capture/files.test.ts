// No data loss: output goes through a temporary file renamed into place; on any error the target is
// untouched, no temporary file is left, and the user reads one line on stderr (exit code 1).
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  writeFileSync,
  ftruncateSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, SAMPLE, cli, needs, pcap, tempDir, udp } from "./helpers.js";

const dir = tempDir();
const root = process.getuid?.() === 0;
const mounts: string[] = [];

/** Mounts a tmpfs of `size` at a new directory (root only); returns it. */
function tmpfs(size: string, readOnly = false): string {
  const at = join(dir, `mnt-${mounts.length}`);
  mkdirSync(at);
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}${readOnly ? ",ro" : ""}`, "tmpfs", at], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`mount tmpfs: ${r.stderr}`);
  mounts.push(at);
  return at;
}
afterAll(() => mounts.forEach((at) => spawnSync("umount", [at])));

const capture = pcap(Array.from({ length: 3000 }, (_, i) => udp(i)));
const oneLine = (err: string): string[] => err.split("\n").filter(Boolean);
const canMount = root && spawnSync("mount", ["--version"], { stdio: "ignore" }).status === 0;

describe("no data loss", () => {
  it("annotate f f works through the rename", () => {
    const f = join(dir, "same.pcapng");
    writeFileSync(f, readFileSync(SAMPLE));
    expect(cli(["pcap", "annotate", f, f]).code).toBe(0);
    expect(cli(["pcap", "annotate", f, f, "--comment"]).code).toBe(0);
    expect(cli(["pcap", "show", f, "-c", "1"]).out).toMatch(/packet 0:\n.*\n {2}0 +packet_id/);
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  it.runIf(needs(canMount, "ENOSPC on a small tmpfs needs root (mount); run as root or with CI=true"))(
    "ENOSPC: the target is untouched, the input too (annotate f f), no temporary file left",
    () => {
      const full = tmpfs("160k");
      const input = join(full, "in.pcap"),
        target = join(full, "out.pcapng");
      writeFileSync(input, capture.subarray(0, 24 + 80 * 1249));
      writeFileSync(target, "precious");
      const r = cli(["pcap", "annotate", input, target]);
      expect(r.code).toBe(1);
      expect(oneLine(r.err)).toEqual([`packet-traits: ENOSPC: cannot write ${target}: no space left on device`]);
      expect(readFileSync(target, "utf8")).toBe("precious");
      const same = cli(["pcap", "annotate", input, input]);
      expect(`${same.code} ${same.err}`).toBe(
        `1 packet-traits: ENOSPC: cannot write ${input}: no space left on device\n`,
      );
      expect(readFileSync(input).equals(capture.subarray(0, 24 + 80 * 1249))).toBe(true);
      expect(readdirSync(full).sort()).toEqual(["in.pcap", "out.pcapng"]);
    },
  );

  it.runIf(needs(canMount, "a read-only directory needs root (mount); run as root or with CI=true"))(
    "a read-only directory: EROFS, one line",
    () => {
      const ro = tmpfs("64k", true);
      const r = cli(["pcap", "annotate", SAMPLE, join(ro, "out.pcapng")]);
      expect(`${r.code} ${r.err}`).toBe(
        `1 packet-traits: EROFS: cannot write ${join(ro, "out.pcapng")}: read-only file system\n`,
      );
    },
  );

  it("/dev/full: ENOSPC, one line", () => {
    const r = cli(["pcap", "annotate", SAMPLE, "/dev/full"]);
    expect(`${r.code} ${r.err}`).toBe("1 packet-traits: ENOSPC: cannot write /dev/full: no space left on device\n");
    const s = spawnSync(`node ${CLI} pcap show ${SAMPLE} > /dev/full`, { shell: true, encoding: "utf8" });
    expect(`${s.status} ${s.stderr}`).toBe("1 packet-traits: ENOSPC: cannot write stdout: no space left on device\n");
  });

  it("EACCES (a directory the user may not write), ENOTDIR, EISDIR, ENOENT: one line each, nothing left behind", () => {
    const locked = join(dir, "locked");
    mkdirSync(locked);
    chmodSync(locked, 0o555);
    // root may write anywhere: the command runs without the capability to override permissions then.
    const command = [process.execPath, CLI, "pcap", "annotate", SAMPLE, join(locked, "out.pcapng")];
    const argv = root ? ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", ...command] : command;
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
    expect(`${r.status} ${r.stderr}`).toBe(
      `1 packet-traits: EACCES: cannot write ${join(locked, "out.pcapng")}: permission denied\n`,
    );
    const notDir = join(dir, "plain");
    writeFileSync(notDir, "x");
    expect(cli(["pcap", "annotate", SAMPLE, join(notDir, "out.pcapng")]).err).toBe(
      `packet-traits: ENOTDIR: cannot write ${join(notDir, "out.pcapng")}: not a directory\n`,
    );
    expect(cli(["pcap", "annotate", dir, join(dir, "o.pcapng")]).err).toBe(
      `packet-traits: EISDIR: cannot read ${dir}: illegal operation on a directory\n`,
    );
    expect(cli(["pcap", "show", join(dir, "missing.pcap")]).err).toBe(
      `packet-traits: ENOENT: cannot read ${join(dir, "missing.pcap")}: no such file or directory\n`,
    );
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  it("an input over 2 GiB streams (here: refused at its first bad record, one line)", () => {
    const big = join(dir, "big.pcap"),
      fd = openSync(big, "w");
    try {
      const head = pcap([udp(1)]),
        bad = Buffer.alloc(16);
      bad.writeUInt32LE(2_000_000, 4); // sub-second field out of range
      writeSync(fd, Buffer.concat([head, bad]));
      ftruncateSync(fd, 2 ** 31 + 2 ** 20); // sparse
    } finally {
      closeSync(fd);
    }
    for (const args of [
      ["pcap", "annotate", big, join(dir, "big-out.pcapng")],
      ["pcap", "show", big],
    ]) {
      const r = cli(args);
      expect(`${r.code} ${r.err}`).toMatch(
        /^1 packet-traits: EBADMSG: byte offset 108: packet 1: sub-second timestamp 2000000 is out of range\n$/,
      );
    }
    expect(existsSync(join(dir, "big-out.pcapng"))).toBe(false);
  });
});
