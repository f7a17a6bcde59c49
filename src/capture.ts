/**
 * `packet-traits/capture`: reading pcap and pcapng, writing pcapng whose packets carry their trait
 * store in a custom option, and the Toeplitz RSS hash a NIC computes. Runs in browsers too.
 */
export * from "./capture/capture.js";
export * from "./capture/rss.js";
