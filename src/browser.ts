/**
 * packet-traits, the portable part: what runs in every JavaScript runtime with WebAssembly (browsers,
 * Node, Deno, Bun). The "browser" export condition resolves here (bundled, with the module bytes
 * inside); the Node entry (index.ts) adds the worker threads.
 */
export { Errno, TraitsError, errnoName, type ErrnoName } from "./core/errors.js";
export type { Impl } from "./core/contract.js";
export type { Profile } from "./core/options.js";
export type { Key } from "./store/values.js";
export { TraitStore, createStore, type StoreOptions, type StoreKey, type TraitValue } from "./store/store.js";
export { defaultMemory } from "./core/memory.js";
export { useMemory } from "./core/select.js";
export { PacketPool, type PoolOptions, type PoolLayout, type Field, type SetManyOptions } from "./pool/pool.js";
export { Burst, DecodeBuffer, type BurstLayout } from "./pool/burst.js";
export { KeyRegistry, type KeyEntry, type KeyLookup, type RegistryConfig } from "./registry/registry.js";
export { SharedKeyRegistry } from "./registry/shared-registry.js";
export { HardwareKey, type HardwarePlacement } from "./store/hardware.js";
export {
  defineTraits,
  Trait,
  TraitSet,
  type TraitSchema,
  type TraitType,
  type TraitSpec,
  type TraitDeclarations,
  type TraitInputs,
  type TraitValues,
  type TraitValueOf,
  type TraitInputOf,
  type TypeOfSpec,
  type SchemaOptions,
} from "./schema/schema.js";
