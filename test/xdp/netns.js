// A veth pair between two network namespaces that the caller made and must remove (remove() in a
// finally: deleting the namespaces deletes the pair and the XDP program on it). All traffic stays
// between the two ends. Used by test/xdp/xsk.test.ts, test/xdp/capture.test.ts and bench/xdp.js
// (plain JavaScript for the benchmark's sake).
import { execFileSync, spawnSync } from "node:child_process";

/**
 * @typedef {object} VethPair
 * @property {string} rxNs namespace of the receiving end (10.99.<n>.1)
 * @property {string} rxDev its interface
 * @property {string} txNs namespace of the sending end (10.99.<n>.2)
 * @property {string} txDev its interface
 * @property {string} rxIp the receiving end's address
 * @property {string} rxMac the receiving end's MAC address
 * @property {() => void} remove deletes both namespaces (and with them the pair); safe to call twice
 */

/**
 * Runs `ip ARGS`; throws with ip's one-line error.
 * @param {...string} args
 * @returns {string}
 */
function ip(...args) {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.error) throw new Error(`ip not found: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.trim().split("\n")[0]}`);
  return r.stdout;
}

/**
 * Makes the namespaces and the pair, addresses them and gives the sender a static neighbour entry (the receiver's XDP program takes ARP too).
 * @param {string} tag a letter that tells this pair from others of the same process
 * @param {number} [queues] rx and tx queues of each end (veth's numrxqueues/numtxqueues; default 1): the sender's
 *   flows spread over its tx queues by hash, and each tx queue feeds the rx queue of the same number
 * @returns {VethPair}
 */
export function vethPair(tag, queues = 1) {
  const id = `${process.pid % 100000}${tag}`,
    n = (process.pid % 200) + 20;
  /** @type {VethPair} */
  const pair = {
    rxNs: `ptrx${id}`,
    rxDev: `ptr${id}`,
    txNs: `pttx${id}`,
    txDev: `ptt${id}`,
    rxIp: `10.99.${n}.1`,
    rxMac: "",
    remove() {
      for (const ns of [pair.rxNs, pair.txNs]) spawnSync("ip", ["netns", "del", ns]);
    },
  };
  try {
    ip("netns", "add", pair.rxNs);
    ip("netns", "add", pair.txNs);
    for (const ns of [pair.rxNs, pair.txNs]) {
      // no IPv6 neighbour discovery or MLD: the only packets are the test's
      const r = spawnSync(
        "ip",
        [
          "netns",
          "exec",
          ns,
          "sysctl",
          "-qw",
          "net.ipv6.conf.all.disable_ipv6=1",
          "net.ipv6.conf.default.disable_ipv6=1",
        ],
        { encoding: "utf8" },
      );
      if (r.status !== 0)
        throw new Error(`sysctl in ${ns}: ${(r.stderr || r.error?.message || "").trim().split("\n")[0]}`);
    }
    const q = ["numtxqueues", String(queues), "numrxqueues", String(queues)];
    ip(
      "link",
      "add",
      pair.rxDev,
      ...q,
      "netns",
      pair.rxNs,
      "type",
      "veth",
      "peer",
      "name",
      pair.txDev,
      ...q,
      "netns",
      pair.txNs,
    );
    ip("-n", pair.rxNs, "addr", "add", `${pair.rxIp}/24`, "dev", pair.rxDev);
    ip("-n", pair.txNs, "addr", "add", `10.99.${n}.2/24`, "dev", pair.txDev);
    ip("-n", pair.rxNs, "link", "set", pair.rxDev, "up");
    ip("-n", pair.txNs, "link", "set", pair.txDev, "up");
    pair.rxMac = JSON.parse(ip("-n", pair.rxNs, "-j", "link", "show", pair.rxDev))[0].address;
    ip("-n", pair.txNs, "neigh", "add", pair.rxIp, "lladdr", pair.rxMac, "dev", pair.txDev);
  } catch (error) {
    pair.remove();
    throw error;
  }
  return pair;
}

/**
 * Sends `count` UDP datagrams from the sending end to the receiver's ports base..base+flows-1 (round robin); payload i is "packet <i>" padded to `size` bytes.
 * @param {VethPair} pair
 * @param {number} count
 * @param {number} flows
 */
export function send(pair, count, flows, size = 32, base = 9000) {
  const script = `const s=require("dgram").createSocket("udp4");let i=0;const next=()=>{if(i===${count})return s.close();const p=Buffer.alloc(${size},0x2e);p.write("packet "+i);s.send(p,${base}+(i%${flows}),"${pair.rxIp}",()=>{i++;next()})};next();`;
  execFileSync("ip", ["netns", "exec", pair.txNs, process.execPath, "-e", script], {
    stdio: ["ignore", "ignore", "pipe"],
  });
}

/**
 * The processes a test file starts in its namespaces: `track(child)` holds one until it closes;
 * `killAll()` (for afterEach) kills those still running and resolves once they have closed, so that
 * none outlives a failed test or keeps its program attached.
 * @returns {{ track(child: import("node:child_process").ChildProcess): void; killAll(): Promise<unknown[]> }}
 */
export function children() {
  /** @type {Set<import("node:child_process").ChildProcess>} */
  const running = new Set();
  return {
    track(child) {
      running.add(child);
      child.on("close", () => running.delete(child));
    },
    killAll() {
      return Promise.all(
        [...running].map((child) => {
          const closed = new Promise((resolve) => child.once("close", resolve));
          child.kill("SIGKILL");
          return closed;
        }),
      );
    },
  };
}
