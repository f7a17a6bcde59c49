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
  /** Freed regions by size and alignment (size * 128 + align): a stack each, so reuse is O(1). */
  private readonly free = new Map<number, number[]>();

  constructor(
    readonly memory: WebAssembly.Memory,
    base: number,
  ) {
    this.top = base;
  }

  /** Returns the address of `size` bytes aligned to `align` (a power of two, at most 64). Throws ENOMEM if the memory cannot grow. */
  alloc(size: number, align = 8): number {
    const reused = this.free.get(size * 128 + align)?.pop();
    if (reused !== undefined) return reused;
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

  /** Gives back `size` bytes at `at`, from an earlier alloc(size, align). */
  release(at: number, size: number, align = 8): void {
    const key = size * 128 + align,
      list = this.free.get(key);
    if (list) list.push(at);
    else this.free.set(key, [at]);
  }
}

/** What the finalizer of a lease hands back: the lease itself must not be reachable from it. */
interface LeaseState {
  arena: Arena;
  at: number;
  size: number;
  released: boolean;
}

const unreachable = new FinalizationRegistry<LeaseState>((state) => releaseState(state));

function releaseState(state: LeaseState): boolean {
  if (state.released) return false;
  state.released = true;
  state.arena.release(state.at, state.size);
  return true;
}

/**
 * A region of an arena held by whatever may touch it (a store, the views it handed out). It goes
 * back to the arena when released explicitly, or, as a safety net, once nothing holds the lease:
 * never while a holder can still reach the bytes.
 */
export class Lease {
  readonly #state: LeaseState;

  /** Allocates `size` bytes (8-aligned) of `arena`. Throws ENOMEM as Arena.alloc. */
  constructor(arena: Arena, size: number) {
    this.#state = { arena, at: arena.alloc(size, 8), size, released: false };
    unreachable.register(this, this.#state, this);
  }

  /** Address of the region. */
  get at(): number {
    return this.#state.at;
  }

  /** True once released: the region may belong to another lease. */
  get released(): boolean {
    return this.#state.released;
  }

  /** Hands the region back now; returns false if it already was. */
  release(): boolean {
    unreachable.unregister(this);
    return releaseState(this.#state);
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
