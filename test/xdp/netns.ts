// A veth pair between two network namespaces that the caller made and must remove (remove() in a
// finally: deleting the namespaces deletes the pair and the XDP program on it). All traffic stays
// between the two ends. Used by test/xdp/xsk.test.ts and test/xdp/capture.test.ts.
import { execFileSync, spawnSync } from "node:child_process";

export interface VethPair {
  /** Namespace and interface of the receiving end (10.99.<n>.1) and of the sending end (10.99.<n>.2). */
  rxNs: string;
  rxDev: string;
  txNs: string;
  txDev: string;
  rxIp: string;
  /** Deletes both namespaces (and with them the pair); safe to call twice. */
  remove(): void;
}

/** Runs `ip ARGS`; throws with ip's one-line error. */
function ip(...args: string[]): string {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.error) throw new Error(`ip not found: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.trim().split("\n")[0]}`);
  return r.stdout;
}

/** Makes the namespaces and the pair, addresses them and gives the sender a static neighbour entry (the receiver's XDP program takes ARP too). */
export function vethPair(tag: string): VethPair {
  const id = `${process.pid % 100000}${tag}`, n = (process.pid % 200) + 20;
  const pair: VethPair = {
    rxNs: `ptrx${id}`, rxDev: `ptr${id}`, txNs: `pttx${id}`, txDev: `ptt${id}`, rxIp: `10.99.${n}.1`,
    remove() {
      for (const ns of [pair.rxNs, pair.txNs]) spawnSync("ip", ["netns", "del", ns]);
    },
  };
  try {
    ip("netns", "add", pair.rxNs);
    ip("netns", "add", pair.txNs);
    for (const ns of [pair.rxNs, pair.txNs]) { // no IPv6 neighbour discovery or MLD: the only packets are the test's
      const r = spawnSync("ip", ["netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`sysctl in ${ns}: ${(r.stderr || r.error?.message || "").trim().split("\n")[0]}`);
    }
    ip("link", "add", pair.rxDev, "netns", pair.rxNs, "type", "veth", "peer", "name", pair.txDev, "netns", pair.txNs);
    ip("-n", pair.rxNs, "addr", "add", `${pair.rxIp}/24`, "dev", pair.rxDev);
    ip("-n", pair.txNs, "addr", "add", `10.99.${n}.2/24`, "dev", pair.txDev);
    ip("-n", pair.rxNs, "link", "set", pair.rxDev, "up");
    ip("-n", pair.txNs, "link", "set", pair.txDev, "up");
    const mac = (JSON.parse(ip("-n", pair.rxNs, "-j", "link", "show", pair.rxDev)) as Array<{ address: string }>)[0]!.address;
    ip("-n", pair.txNs, "neigh", "add", pair.rxIp, "lladdr", mac, "dev", pair.txDev);
  } catch (error) {
    pair.remove();
    throw error;
  }
  return pair;
}

/** Sends `count` UDP datagrams from the sending end to the receiver's ports base..base+flows-1 (round robin); payload i is "packet <i>" padded to `size` bytes. */
export function send(pair: VethPair, count: number, flows: number, size = 32, base = 9000): void {
  const script = `const s=require("dgram").createSocket("udp4");let i=0;const next=()=>{if(i===${count})return s.close();const p=Buffer.alloc(${size},0x2e);p.write("packet "+i);s.send(p,${base}+(i%${flows}),"${pair.rxIp}",()=>{i++;next()})};next();`;
  execFileSync("ip", ["netns", "exec", pair.txNs, process.execPath, "-e", script], { stdio: ["ignore", "ignore", "pipe"] });
}
