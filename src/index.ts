/**
 * packet-traits: per-packet metadata in the XDP "traits" key-value format,
 * with an AssemblyScript/WebAssembly core and a pure-JS twin of the same semantics.
 */
export { Errno, TraitsError, errnoName, type ErrnoName } from "./errors.js";
export type { Impl } from "./core.js";
export type { Key, Profile } from "./args.js";
export { TraitStore, createStore, type StoreOptions, type TraitValue } from "./store.js";
export { defaultMemory } from "./memory.js";
export { PacketPool, type PoolOptions, type Field } from "./pool.js";
export { Burst, DecodeBuffer } from "./burst.js";
export { KeyRegistry, type KeyEntry, type KeyLookup, type RegistryConfig } from "./registry.js";
export { SharedKeyRegistry } from "./shared-registry.js";
export { HardwareKey, type HardwarePlacement } from "./hardware.js";
export { WorkerGroup, type WorkerGroupOptions, type WorkerTask } from "./workers.js";
export type { PoolLayout } from "./pool.js";
