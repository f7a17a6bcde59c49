// The benchmark's "c" implementation: bench/c/traits-ref.c built with the system compiler into a temp
// dir and called through koffi, one call per pass over a ring, with the ring's WebAssembly memory
// passed as a pointer (koffi hands C the address of a typed array's contents: no copy, checked below).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fillAnnotate } from "./burst-ops.js";

const SOURCE = new URL("./c/traits-ref.c", import.meta.url).pathname;

/**
 * Builds and loads the C reference. Returns its functions (each taking the memory as a Uint8Array, then
 * the arguments of traits-ref.c), or `{ skipped }` with the reason when there is no `cc` or no koffi.
 * `march` is the compiler's -march: this CPU by default; bench/callgrind.js builds for x86-64-v3 (AVX2,
 * popcnt, BMI), as valgrind has no AVX-512.
 */
export async function loadNative({ march = "native" } = {}) {
  let koffi;
  try {
    koffi = (await import("koffi")).default;
  } catch {
    return { skipped: "koffi is not installed" };
  }
  const dir = mkdtempSync(join(tmpdir(), "traits-ref-"));
  try {
    const lib = join(dir, "traits-ref.so");
    const cc = spawnSync("cc", ["-O2", `-march=${march}`, "-shared", "-fPIC", "-o", lib, SOURCE], { encoding: "utf8" });
    if (cc.error) return { skipped: `no C compiler (cc: ${cc.error.message})` };
    if (cc.status !== 0) return { skipped: `cc failed: ${cc.stderr.trim().split("\n")[0]}` };
    const so = koffi.load(lib);
    const u32 = (names) => names.map((n) => `uint32_t ${n}`).join(", ");
    const fn = (name, args) => so.func(`int ${name}(void *mem, ${u32(args)})`);
    const native = {
      floor: fn("tr_floor", ["base", "count", "size"]),
      get: fn("tr_get", ["base", "count", "size", "key", "out"]),
      set: fn("tr_set", ["base", "count", "size", "heads", "key", "len", "lo", "hi"]),
      insertDelete: fn("tr_insert_delete", ["base", "count", "size", "heads", "key", "len", "lo"]),
      decode: fn("tr_decode", ["base", "count", "size", "keys", "lens", "values", "room"]),
      annotate: fn("tr_annotate", ["base", "count", "size", "heads", "vals"]),
    };
    // C writes a byte of the memory and reads its neighbour: both must be the memory itself, not a copy.
    const probe = fn("tr_probe", ["at", "byte"]),
      mem = new Uint8Array(new WebAssembly.Memory({ initial: 1 }).buffer);
    mem[101] = 0x5a;
    if (probe(mem, 100, 0xa5) !== 0x5a || mem[100] !== 0xa5)
      return { skipped: "koffi did not pass the WebAssembly memory by address" };
    return native;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The C loops over a PacketPool's frames (the store at each frame start, its capacity the head): one
 * call per pass over the ring (annotate: one per burst, after JS filled the burst's value slots, as
 * the batch side does). The reference interface of bench/workloads.js, as PlainRing (bench/plain.js).
 */
export class NativeRing {
  /** `ring`: the Ring (bench/workloads.js) whose pool and bursts it runs on. */
  constructor(ring, native) {
    this.native = native;
    this.ring = ring;
    this.layout = ring.pool.layout();
    // Outputs in the pool's memory (views made on use: later allocations may grow it, detaching views).
    this.out = ring.pool.burst(ring.size, { slots: 1 });
    this.decodeBuffer = ring.pool.decodeBuffer(64 * 256);
  }

  /** The memory, as C takes it (a view of its current buffer). */
  get mem() {
    return new Uint8Array(this.layout.memory.buffer);
  }

  /** The memory floor: one 8-byte read of every frame's header. Returns the frames read. */
  floor() {
    const { base, count, frameSize } = this.layout;
    return this.native.floor(this.mem, base, count, frameSize);
  }

  /** Gets `key` of every frame into values (u32 pairs, frame f at 2f; 0 if absent). */
  get(key) {
    const { base, count, frameSize } = this.layout;
    return this.native.get(this.mem, base, count, frameSize, key, this.out.values().byteOffset);
  }

  /** The values of the last get (u32 pairs, frame f at 2f). */
  get values() {
    return this.out.values();
  }

  /** The keys of the last decode (a view of the whole room, as the lengths and values below). */
  get keys() {
    return new Uint8Array(this.layout.memory.buffer, this.decodeBuffer.keysAt, this.decodeBuffer.room);
  }
  /** The lengths of the last decode. */
  get lens() {
    return new Uint8Array(this.layout.memory.buffer, this.decodeBuffer.lensAt, this.decodeBuffer.room);
  }
  /** The values of the last decode, u32 pairs. */
  get decoded() {
    return new Uint32Array(this.layout.memory.buffer, this.decodeBuffer.valuesAt, 2 * this.decodeBuffer.room);
  }

  /** Sets `key` of every frame to `len` bytes of (hi:lo). */
  set(key, len, lo, hi) {
    const { base, count, frameSize, heads } = this.layout;
    return this.native.set(this.mem, base, count, frameSize, heads, key, len, lo, hi);
  }

  /** Inserts `key` (`len` bytes of lo) into every frame, then deletes it: two operations a frame. */
  insertDelete(key, len, lo) {
    const { base, count, frameSize, heads } = this.layout;
    return this.native.insertDelete(this.mem, base, count, frameSize, heads, key, len, lo);
  }

  /** Decodes frames first .. first + n - 1 into keys, lens, decoded (u32 pairs). Returns the entries. */
  decode(first = 0, n = this.layout.count) {
    const { base, frameSize } = this.layout,
      d = this.decodeBuffer;
    return this.native.decode(this.mem, base + first * frameSize, n, frameSize, d.keysAt, d.lensAt, d.valuesAt, d.room);
  }

  /** Decodes every frame (one call); returns the entries. */
  decodeAll() {
    return this.decode();
  }

  /** Annotates every frame, burst by burst: JS fills the burst's value slots from packet ids id.., then one C call. */
  annotate(id) {
    const { base, frameSize, heads } = this.layout,
      mem = this.mem;
    let ok = 0;
    for (const b of this.ring.bursts) {
      fillAnnotate(b.values(), b.length, id);
      id += b.length;
      ok += this.native.annotate(mem, base + b.first * frameSize, b.length, frameSize, heads + 4 * b.first, b.vals);
    }
    return ok;
  }
}
