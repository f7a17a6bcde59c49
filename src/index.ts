/**
 * packet-traits: per-packet metadata in the XDP "traits" key-value format,
 * with an AssemblyScript/WebAssembly core and a pure-JS twin of the same semantics.
 * This is the Node entry: the portable API (browser.ts) and the worker threads (also `packet-traits/workers`).
 */
export * from "./browser.js";
export * from "./workers.js";
