/**
 * packet-traits: per-packet metadata in the XDP "traits" key-value format,
 * with an AssemblyScript/WebAssembly core and a pure-JS twin of the same semantics.
 */
export { Errno, TraitsError, errnoName, type ErrnoName } from "./core/errors.js";
export type { Impl } from "./core/contract.js";
export type { Profile } from "./core/options.js";
export type { Key } from "./store/values.js";
export { TraitStore, createStore, type StoreOptions, type TraitValue } from "./store/store.js";
export { defaultMemory } from "./core/memory.js";
export { useMemory } from "./core/select.js";
export { PacketPool, type PoolOptions, type Field } from "./pool/pool.js";
export { Burst, DecodeBuffer } from "./pool/burst.js";
export { KeyRegistry, type KeyEntry, type KeyLookup, type RegistryConfig } from "./registry/registry.js";
export { SharedKeyRegistry } from "./registry/shared-registry.js";
export { HardwareKey, type HardwarePlacement } from "./store/hardware.js";
export { WorkerGroup, type WorkerGroupOptions, type WorkerTask } from "./workers/workers.js";
export type { PoolLayout } from "./pool/pool.js";
