/**
 * The native side of the kernel bridge, through koffi (an optional dependency): libc's syscall()
 * for bpf(), and libbpf (libbpf.so.1) to load ELF objects. Loaded on first use.
 */
import { createRequire } from "node:module";
import { BpfError } from "./errors.js";

/** The little of koffi the bridge uses (typed here, so that building needs no koffi). */
interface Koffi {
  load(path: string): { func(signature: string): (...args: unknown[]) => unknown };
  address(value: ArrayBuffer | ArrayBufferView): bigint;
  errno(): number;
}

/** A libbpf object or program: an opaque pointer. */
export type Pointer = object;

/** The native calls of the bridge. Pointers to bytes are passed as Uint8Arrays. */
export interface Native {
  /** Address of a view's first byte (stable: views of ArrayBuffers and WebAssembly memories do not move). */
  address(view: ArrayBufferView): bigint;
  /** The calling thread's errno after the last native call. */
  errno(): number;
  /** bpf(cmd, attr, size): the raw system call; -1 and errno on failure. */
  bpf(cmd: number, attr: Uint8Array): number;
  /** libbpf's functions of the same names (with the bpf_object__ and bpf_program__ prefixes). */
  openFile(path: string): Pointer | null;
  load(obj: Pointer): number;
  nextProgram(obj: Pointer, prev: Pointer | null): Pointer | null;
  programName(prog: Pointer): string;
  programFd(prog: Pointer): number;
  setLogBuf(prog: Pointer, buf: Uint8Array, size: number): number;
  close(obj: Pointer): void;
}

const SYS_BPF: Record<string, number> = { x64: 321, arm64: 280, riscv64: 280, loong64: 280, ia32: 357, arm: 386, s390x: 351, ppc64: 361 };

let native: Native | undefined;

/** The native calls; throws BpfError ENOSYS (not Linux, no koffi, no libbpf) with a one-line reason. */
export function getNative(): Native {
  return (native ??= openNative());
}

function openNative(): Native {
  const nr = SYS_BPF[process.arch];
  if (process.platform !== "linux" || nr === undefined) throw new BpfError(38, `the kernel bridge needs Linux (bpf() system call), not ${process.platform}/${process.arch}`);
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)("koffi") as Koffi;
  } catch {
    throw new BpfError(38, "the kernel bridge needs the optional dependency koffi: npm install koffi");
  }
  const libc = koffi.load("libc.so.6");
  let libbpf: ReturnType<Koffi["load"]>;
  try {
    libbpf = koffi.load("libbpf.so.1");
  } catch {
    throw new BpfError(38, "the kernel bridge needs libbpf.so.1 (Debian/Ubuntu: apt-get install libbpf1)");
  }
  const syscall = libc.func("long syscall(long number, ...)");
  const f = {
    setPrint: libbpf.func("void *libbpf_set_print(void *fn)"),
    openFile: libbpf.func("void *bpf_object__open_file(const char *path, void *opts)"),
    load: libbpf.func("int bpf_object__load(void *obj)"),
    nextProgram: libbpf.func("void *bpf_object__next_program(void *obj, void *prev)"),
    programName: libbpf.func("const char *bpf_program__name(void *prog)"),
    programFd: libbpf.func("int bpf_program__fd(void *prog)"),
    setLogBuf: libbpf.func("int bpf_program__set_log_buf(void *prog, void *buf, size_t size)"),
    close: libbpf.func("void bpf_object__close(void *obj)"),
  };
  f.setPrint(null); // errors are reported as BpfError, with the verifier's log where there is one
  return {
    address: (view) => koffi.address(view),
    errno: () => koffi.errno(),
    bpf: (cmd, attr) => Number(syscall(nr, "int", cmd, "void *", attr, "uint", attr.byteLength)),
    openFile: (path) => f.openFile(path, null) as Pointer | null,
    load: (obj) => f.load(obj) as number,
    nextProgram: (obj, prev) => f.nextProgram(obj, prev) as Pointer | null,
    programName: (prog) => f.programName(prog) as string,
    programFd: (prog) => f.programFd(prog) as number,
    setLogBuf: (prog, buf, size) => f.setLogBuf(prog, buf, size) as number,
    close: (obj) => void f.close(obj),
  };
}
