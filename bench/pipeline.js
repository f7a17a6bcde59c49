// The capture pipeline against Wireshark's converter, side by side in one run:
// `packet-traits pcap annotate in.pcap out.pcapng` and `editcap -F pcapng in.pcap out.pcapng` on a
// capture of 64-byte Ethernet/IPv4/UDP packets this script makes. Alternating runs; medians.
// Then the Parquet export of the annotated capture: `packet-traits pcap export` against
// `tshark -T fields` writing the same packet columns as text, and against annotate.
// Usage: npm run bench -- --pipeline [--packets 1000000,10000000] [--export-packets 1000000]
//          [--reader-packets 1000000] [--runs 5]   (a list "0" skips its table)
//        node bench/pipeline.js --make N FILE|-    (only writes the capture)
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const CLI = join(import.meta.dirname, "..", "dist", "cli", "bin.js");

/** Writes a classic µs pcap of `count` 64-byte Ethernet/IPv4/UDP packets (sources vary) to fd, in 640 KiB chunks. */
function makeCapture(fd, count) {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20);
  writeSync(fd, header);
  const chunk = Buffer.alloc(80 * 8192);
  for (let i = 0; i < count; ) {
    const n = Math.min(8192, count - i);
    for (let j = 0; j < n; j++, i++) {
      const at = j * 80,
        p = at + 16;
      chunk.writeUInt32LE(1_700_000_000 + Math.floor(i / 1e6), at);
      chunk.writeUInt32LE(i % 1e6, at + 4);
      chunk.writeUInt32LE(64, at + 8);
      chunk.writeUInt32LE(64, at + 12);
      chunk.fill(0, p, p + 64);
      chunk.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0], p);
      chunk.set(
        [0x45, 0, 0, 50, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, (i >> 16) & 255, (i >> 8) & 255, i & 255, 10, 0, 0, 1],
        p + 14,
      );
      chunk.writeUInt16BE(1024 + (i & 0x7fff), p + 34);
      chunk.writeUInt16BE(4789, p + 36);
      chunk.writeUInt16BE(30, p + 38);
    }
    for (let at = 0; at < n * 80; ) at += writeSync(fd, chunk, at, n * 80 - at);
  }
}

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(2);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b),
    m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const has = (command) => spawnSync(command, ["--version"], { stdio: "ignore" }).status === 0;

/** Runs a command under /usr/bin/time: wall seconds and peak RSS in MB (or undefined without /usr/bin/time). */
function timed(argv, timeTool) {
  if (!timeTool) {
    const start = process.hrtime.bigint(),
      r = spawnSync(argv[0], argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
    if (r.status !== 0) fail(`${argv.join(" ")}: ${r.stderr}`);
    return { seconds: Number(process.hrtime.bigint() - start) / 1e9, rssMB: undefined };
  }
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M %U %S", ...argv], {
    encoding: "utf8",
    stdio: ["ignore", "ignore", "pipe"],
  });
  if (r.status !== 0) fail(`${argv.join(" ")}: ${r.stderr}`);
  const [seconds, kb, user, sys] = r.stderr.trim().split("\n").at(-1).split(" ").map(Number);
  return { seconds, rssMB: kb / 1024, cpu: user + sys };
}

function parse(argv) {
  const options = {
    packets: [1_000_000, 10_000_000],
    exportPackets: [1_000_000],
    readerPackets: [1_000_000],
    runs: 5,
    make: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i],
      value = () => argv[++i] ?? fail(`${flag} needs a value`);
    const int = (text) => {
      const n = Number(text);
      if (!Number.isInteger(n) || n < 1) fail(`${flag} needs integers >= 1, not ${text}`);
      return n;
    };
    if (flag === "--pipeline") continue;
    else if (flag === "--packets") {
      const list = value();
      options.packets = list === "0" ? [] : list.split(",").map(int);
    } else if (flag === "--export-packets") {
      const list = value();
      options.exportPackets = list === "0" ? [] : list.split(",").map(int);
    } else if (flag === "--reader-packets") {
      const list = value();
      options.readerPackets = list === "0" ? [] : list.split(",").map(int);
    } else if (flag === "--runs") options.runs = int(value());
    else if (flag === "--make") options.make = { count: int(value()), file: value() };
    else if (flag === "--help" || flag === "-h") {
      console.log(
        "npm run bench -- --pipeline [--packets 1000000,10000000 (0: none)] [--export-packets 1000000 (0: none)] [--reader-packets 1000000 (0: none)] [--runs 5]; node bench/pipeline.js --make N FILE|-",
      );
      process.exit(0);
    } else fail(`unknown option ${flag} (see --help)`);
  }
  return options;
}

/** The packet columns of pcap export, as tshark fields (traits aside: tshark reads them only with the plugin and --comment). */
const TSHARK_FIELDS = [
  "frame.time_epoch",
  "frame.interface_id",
  "frame.interface_queue",
  "frame.cap_len",
  "frame.len",
  "frame.verdict.ebpf_xdp",
  "ip.src",
  "ip.dst",
  "ipv6.src",
  "ipv6.dst",
  "ip.proto",
  "ipv6.nxt",
  "tcp.srcport",
  "udp.srcport",
  "tcp.dstport",
  "udp.dstport",
];

/**
 * pcap export of an annotated capture (packet columns, flow and traits to Parquet) against tshark
 * -T fields (the packet columns and flow as text) and pcap annotate of the same packets: alternating
 * runs, medians, peak RSS of each.
 */
function exportTable(dir, timeTool) {
  const tshark = has("tshark");
  if (!tshark) console.log("\ntshark is not installed: export without its reference (apt-get install tshark)");
  console.log(
    `\nParquet export of the annotated capture (${TSHARK_FIELDS.length} packet columns; export adds 5 trait columns), ${options.runs} alternating runs, medians:\n`,
  );
  console.log(
    "| packets | export s | tshark -T fields s | annotate s | tshark/export | export/annotate | export CPU s | annotate CPU s | export peak RSS MB | tshark peak RSS MB | annotate peak RSS MB |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const count of options.exportPackets) {
    const input = join(dir, `export-${count}.pcap`),
      annotated = join(dir, `export-${count}.pcapng`),
      fd = openSync(input, "w");
    makeCapture(fd, count);
    closeSync(fd);
    timed([process.execPath, CLI, "pcap", "annotate", input, annotated], false);
    const argv = {
      export: [process.execPath, CLI, "pcap", "export", annotated, join(dir, "out.parquet")],
      tshark: [
        "tshark",
        "-r",
        annotated,
        "-T",
        "fields",
        "-E",
        "occurrence=f",
        ...TSHARK_FIELDS.flatMap((f) => ["-e", f]),
      ],
      annotate: [process.execPath, CLI, "pcap", "annotate", input, join(dir, "out.pcapng")],
    };
    const runs = { export: [], tshark: [], annotate: [] };
    for (let run = 0; run < options.runs; run++)
      for (const tool of tshark ? ["export", "tshark", "annotate"] : ["export", "annotate"]) {
        rmSync(join(dir, "out.parquet"), { force: true });
        rmSync(join(dir, "out.pcapng"), { force: true });
        runs[tool].push(timed(argv[tool], timeTool));
      }
    const m = (tool) => median(runs[tool].map((r) => r.seconds));
    const rss = (tool) =>
      timeTool && runs[tool].length ? Math.max(...runs[tool].map((r) => r.rssMB)).toFixed(0) : "-";
    // CPU seconds (user + system, all threads): what the export costs whatever the machine's load.
    const cpu = (tool) => (timeTool ? median(runs[tool].map((r) => r.cpu)).toFixed(2) : "-");
    const [e, t, a] = [m("export"), tshark ? m("tshark") : NaN, m("annotate")];
    console.log(
      `| ${count.toLocaleString("en")} | ${e.toFixed(2)} | ${tshark ? t.toFixed(2) : "-"} | ${a.toFixed(2)} | ${tshark ? (t / e).toFixed(1) : "-"} | ${(e / a).toFixed(2)} | ${cpu("export")} | ${cpu("annotate")} | ${rss("export")} | ${rss("tshark")} | ${rss("annotate")} |`,
    );
    rmSync(input);
    rmSync(annotated);
  }
}

/**
 * The stream API against the synchronous reader, in this process: the same loop over each packet of
 * an annotated capture file (its index, lengths, interface, first data byte and rx_hash trait) with
 * CaptureReader (the hot-loop API), readCapture's for await (one await a packet) and its batches()
 * (one await a chunk); alternating runs, medians. Then annotate with and without its comment (what
 * the comment costs: time and size).
 */
async function readerTable(dir, timeTool) {
  const { CaptureReader, READER_BYTES, PACKET, END, TRAITS_OPTION, bytesSource, readCapture } = await import(
    "../dist/capture.js"
  );
  const { TraitStore } = await import("../dist/index.js");
  const { readSync, closeSync: close } = await import("node:fs");
  const RX_HASH = 59;
  // The synchronous loop as a careful user writes it: one reused store view over a copy of the option (it is 4-aligned in the buffer).
  /** @param {string | Uint8Array} source */
  const syncLoop = (source) => {
    const fd = typeof source === "string" ? openSync(source, "r") : -1,
      reader = new CaptureReader(
        typeof source !== "string"
          ? bytesSource(source)
          : { read: (into, at, length) => readSync(fd, into, at, length, null) },
        new Uint8Array(READER_BYTES),
      ),
      scratch = new Uint8Array(65536),
      store = TraitStore.over(scratch.subarray(0, 16), { impl: "js" });
    let sum = 0;
    for (let kind = reader.next(true); kind !== END; kind = reader.next(true)) {
      if (kind !== PACKET) continue;
      const data = reader.bytes.subarray(reader.dataAt, reader.dataAt + reader.captured); // the view readCapture gives
      sum += reader.packet + reader.captured + reader.original + reader.interfaceId + data[0];
      const found = reader.ourOption(TRAITS_OPTION);
      if (found) {
        scratch.set(found);
        if (store.retarget(0, found.length).has(RX_HASH)) sum += 1;
      }
    }
    if (fd >= 0) close(fd);
    return sum;
  };
  /** @param {string | Uint8Array} file */
  const asyncLoop = async (file) => {
    let sum = 0;
    for await (const p of readCapture(file)) {
      sum += p.index + p.capturedLength + p.originalLength + p.interfaceId + p.data[0];
      if (p.traits?.has(RX_HASH)) sum += 1;
    }
    return sum;
  };
  /** @param {string | Uint8Array} file */
  const batchLoop = async (file) => {
    let sum = 0;
    for await (const batch of readCapture(file).batches())
      for (const p of batch) {
        sum += p.index + p.capturedLength + p.originalLength + p.interfaceId + p.data[0];
        if (p.traits?.has(RX_HASH)) sum += 1;
      }
    return sum;
  };
  console.log(
    `\nReading an annotated capture in this process (from its file, and from its bytes in memory): the same loop per packet, ${options.runs} alternating runs, medians (ns a packet; ratio to CaptureReader):\n`,
  );
  console.log(
    "| packets | source | CaptureReader (sync) | readCapture for await | ratio | readCapture batches() | ratio |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const count of options.readerPackets) {
    const input = join(dir, `reader-${count}.pcap`),
      annotated = join(dir, `reader-${count}.pcapng`),
      fd = openSync(input, "w");
    makeCapture(fd, count);
    closeSync(fd);
    timed([process.execPath, CLI, "pcap", "annotate", input, annotated], false);
    for (const [label, source] of [
      ["file", annotated],
      ["memory", readFileSync(annotated)],
    ]) {
      const runs = { sync: [], each: [], batches: [] },
        sums = new Set();
      for (let run = 0; run <= options.runs; run++) {
        /** @type {Array<[string, (source: string | Uint8Array) => unknown]>} */
        const loops = [
          ["sync", syncLoop],
          ["each", asyncLoop],
          ["batches", batchLoop],
        ];
        for (const [name, loop] of loops) {
          const start = process.hrtime.bigint();
          sums.add(await loop(source));
          if (run > 0) runs[name].push(Number(process.hrtime.bigint() - start) / count); // run 0 warms up
        }
      }
      if (sums.size !== 1) fail(`the loops disagree: ${[...sums].join(", ")}`);
      const [s, e, b] = ["sync", "each", "batches"].map((name) => median(runs[name]));
      console.log(
        `| ${count.toLocaleString("en")} | ${label} | ${s.toFixed(0)} | ${e.toFixed(0)} | ${(e / s).toFixed(2)} | ${b.toFixed(0)} | ${(b / s).toFixed(2)} |`,
      );
    }
    const times = { comment: [], none: [] },
      out = join(dir, "comment.pcapng");
    const sizes = {};
    for (let run = 0; run < options.runs; run++)
      for (const variant of ["comment", "none"]) {
        rmSync(out, { force: true });
        times[variant].push(
          timed(
            [process.execPath, CLI, "pcap", "annotate", input, out, ...(variant === "none" ? ["--no-comment"] : [])],
            timeTool,
          ),
        );
        sizes[variant] = statSync(out).size;
      }
    const [c, n] = ["comment", "none"].map((v) => median(times[v].map((r) => r.seconds)));
    console.log(
      `\nannotate of ${count.toLocaleString("en")} packets with its comment (the default) ${c.toFixed(2)} s, ${(sizes.comment / 1e6).toFixed(0)} MB; --no-comment ${n.toFixed(2)} s, ${(sizes.none / 1e6).toFixed(0)} MB (medians)`,
    );
    rmSync(input);
    rmSync(annotated);
  }
}

const options = parse(process.argv.slice(2));
if (options.make) {
  const fd = options.make.file === "-" ? 1 : openSync(options.make.file, "w");
  try {
    makeCapture(fd, options.make.count);
  } catch (error) {
    if (error.code !== "EPIPE") throw error;
  }
  if (fd !== 1) closeSync(fd);
} else {
  const editcap = has("editcap"),
    timeTool = spawnSync("/usr/bin/time", ["true"], { stdio: "ignore" }).status === 0;
  if (!editcap) console.log("editcap is not installed: no ratio (apt-get install tshark)");
  if (!timeTool) console.log("/usr/bin/time is not installed: no peak RSS (apt-get install time)");
  const dir = mkdtempSync(join(tmpdir(), "traits-pipeline-"));
  try {
    console.log(
      `capture pipeline: ${options.runs} alternating runs each, medians; output to a new file each run (replacing one costs a forced writeback on ext4)\n`,
    );
    const startup = [];
    const tiny = join(dir, "one.pcap"),
      fd = openSync(tiny, "w");
    makeCapture(fd, 1);
    closeSync(fd);
    for (let run = 0; run < options.runs; run++) {
      startup.push(
        timed([process.execPath, "-e", "0"], false).seconds,
        timed([process.execPath, CLI, "pcap", "annotate", tiny, join(dir, "one.pcapng")], false).seconds,
      );
    }
    const nodeAlone = median(startup.filter((_, i) => i % 2 === 0)),
      oneAnnotate = median(startup.filter((_, i) => i % 2 === 1));
    console.log(
      `startup: node -e 0 ${(nodeAlone * 1000).toFixed(0)} ms; annotate of 1 packet ${(oneAnnotate * 1000).toFixed(0)} ms\n`,
    );
    if (options.packets.length > 0) {
      console.log(
        "| packets | input MB | editcap s | annotate s | ratio | packets/s | MB/s | annotate peak RSS MB | editcap peak RSS MB |",
      );
      console.log("|---|---|---|---|---|---|---|---|---|");
    }
    for (const count of options.packets) {
      const input = join(dir, `in-${count}.pcap`),
        out = join(dir, "out.pcapng"),
        fd = openSync(input, "w");
      makeCapture(fd, count);
      closeSync(fd);
      const mb = statSync(input).size / 1e6,
        runs = { editcap: [], annotate: [] };
      for (let run = 0; run < options.runs; run++) {
        for (const tool of editcap ? ["editcap", "annotate"] : ["annotate"]) {
          rmSync(out, { force: true });
          const argv =
            tool === "editcap"
              ? ["editcap", "-F", "pcapng", input, out]
              : [process.execPath, CLI, "pcap", "annotate", input, out];
          runs[tool].push(timed(argv, timeTool));
        }
      }
      const a = median(runs.annotate.map((r) => r.seconds)),
        e = editcap ? median(runs.editcap.map((r) => r.seconds)) : NaN;
      const rss = (list) => (timeTool ? Math.max(...list.map((r) => r.rssMB)).toFixed(0) : "-");
      console.log(
        `| ${count.toLocaleString("en")} | ${mb.toFixed(0)} | ${editcap ? e.toFixed(2) : "-"} | ${a.toFixed(2)} | ${editcap ? (a / e).toFixed(2) : "-"} | ${(count / a / 1e6).toFixed(2)} M | ${(mb / a).toFixed(0)} | ${rss(runs.annotate)} | ${editcap ? rss(runs.editcap) : "-"} |`,
      );
      rmSync(input);
    }
    if (options.exportPackets.length > 0) exportTable(dir, timeTool);
    if (options.readerPackets.length > 0) await readerTable(dir, timeTool);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
