/**
 * `packet-traits/capture`: captures as streams (readCapture: an async iterable of packets from a
 * file, a Node or web stream, a Blob or bytes; annotate: `pcap annotate` as a web TransformStream,
 * annotateTransform as a Node Transform), writing pcapng (PcapngWriter) and test pcaps (writePcap),
 * reading record by record in hot loops (CaptureReader over any ByteSource, e.g. bytesSource(bytes)),
 * the options that carry a packet's trait store and a section's key names, and the Toeplitz RSS
 * hash a NIC computes. Runs in browsers too, but for file paths, toFile() and annotateTransform().
 */
export * from "./capture/capture.js";
export { RSS_DEFAULT_KEY, RssType, rxHash, toeplitz } from "./capture/rss.js";
export {
  readCapture,
  annotate,
  annotateTransform,
  CaptureStream,
  CapturePacket,
  type CaptureSource,
} from "./capture/streams.js";
export { annotateOptions, type AnnotateSettings } from "./capture/annotate.js";
export {
  PcapngWriter,
  type PcapngWriterOptions,
  type PcapngInterface,
  type PcapngPacket,
  type PcapngOption,
} from "./capture/pcapng-writer.js";
