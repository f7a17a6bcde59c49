/**
 * Allocation of stores and scratch space inside WebAssembly memories.
 *
 * Each memory gets one Arena. In a memory the library created it starts at
 * byte 64; in a caller's memory it starts at the memory's size when the arena
 * was first asked for, so bytes the caller already had are never handed out.
 */
import { TraitsError } from "./errors.js";

const PAGE = 65536;

/** A bump allocator with per-size free lists over one WebAssembly.Memory; grows the memory as needed. */
export class Arena {
  private top: number;
  private readonly free = new Map<number, number[]>();

  constructor(readonly memory: WebAssembly.Memory, base: number) {
    this.top = base;
  }

  /** Returns the address of `size` bytes aligned to `align` (a power of two). Throws ENOMEM if the memory cannot grow. */
  alloc(size: number, align = 8): number {
    const reused = this.free.get(size)?.find((at) => at % align === 0);
    if (reused !== undefined) {
      const list = this.free.get(size)!;
      list.splice(list.indexOf(reused), 1);
      return reused;
    }
    const at = Math.ceil(this.top / align) * align;
    const end = at + size;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      try {
        this.memory.grow(Math.ceil((end - have) / PAGE));
      } catch {
        throw new TraitsError("ENOMEM", `cannot grow WebAssembly memory to ${end} bytes (its maximum is reached)`);
      }
    }
    this.top = end;
    return at;
  }

  /** Gives back `size` bytes at `at`, from an earlier alloc(size). */
  release(at: number, size: number): void {
    const list = this.free.get(size);
    if (list) list.push(at);
    else this.free.set(size, [at]);
  }
}

const arenas = new WeakMap<WebAssembly.Memory, Arena>();
let ownMemory: WebAssembly.Memory | undefined;

/** The arena of a memory, created on first use. */
export function arenaOf(memory: WebAssembly.Memory): Arena {
  let arena = arenas.get(memory);
  if (!arena) {
    arena = new Arena(memory, memory === ownMemory ? 64 : memory.buffer.byteLength);
    arenas.set(memory, arena);
  }
  return arena;
}

/** The library's own WebAssembly.Memory, where createStore() places stores; created on first use. */
export function defaultMemory(): WebAssembly.Memory {
  ownMemory ??= new WebAssembly.Memory({ initial: 1 });
  return ownMemory;
}
