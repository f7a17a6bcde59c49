/**
 * `packet-traits/capture`: reading pcap and pcapng record by record (CaptureReader over any
 * ByteSource, e.g. bytesSource(bytes)), the options that carry a packet's trait store and a
 * section's key names, writing test captures (writePcap), and the Toeplitz RSS hash a NIC computes.
 * Runs in browsers too.
 */
export * from "./capture/capture.js";
export { RSS_DEFAULT_KEY, RssType, rxHash, toeplitz } from "./capture/rss.js";
