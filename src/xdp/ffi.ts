/**
 * The native side of the kernel bridge, through koffi (an optional dependency): libc's syscall()
 * for bpf(), and libbpf (libbpf.so.1) to load ELF objects. Loaded on first use.
 */
import { createRequire } from "node:module";
import { BpfError } from "./errors.js";

/** The little of koffi the bridge uses (typed here, so that building needs no koffi). */
interface Koffi {
  load(path: string): { func(signature: string): (...args: unknown[]) => unknown };
  address(value: unknown): bigint;
  errno(): number;
  view(pointer: unknown, length: number): ArrayBuffer;
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
  /** bpf_program__section_name: its ELF section ("xdp", "xdp.frags", ...), from which libbpf derives its type and flags. */
  sectionName(prog: Pointer): string;
  setLogBuf(prog: Pointer, buf: Uint8Array, size: number): number;
  close(obj: Pointer): void;
  /** libbpf: bind a program to a device before load (bpf_program__set_ifindex, __set_flags), its maps, and XDP attach. */
  setIfindex(prog: Pointer, ifindex: number): void;
  setFlags(prog: Pointer, flags: number): number;
  findMapFd(obj: Pointer, name: string): number;
  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags: number): number;
  mapLookup(fd: number, key: Uint8Array, value: Uint8Array): number;
  /** bpf_object__find_program_by_name, bpf_program__attach_xdp (a BPF link: closing its fd, even by exiting, detaches) and bpf_link__destroy. */
  findProgram(obj: Pointer, name: string): Pointer | null;
  attachXdp(prog: Pointer, ifindex: number): Pointer | null;
  destroyLink(link: Pointer): number;
  /** libc: the calls of an AF_XDP socket; -1 (or null) and errno on failure. */
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array): number;
  getsockopt(fd: number, level: number, name: number, value: Uint8Array, length: Uint32Array): number;
  bind(fd: number, address: Uint8Array): number;
  /** mmap of a socket's ring: the memory as an ArrayBuffer (null on failure), and munmap. */
  mmap(length: number, fd: number, offset: bigint): { buffer: ArrayBuffer; pointer: unknown } | null;
  munmap(pointer: unknown, length: number): number;
  closeFd(fd: number): number;
  /** sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0): kicks the kernel to transmit. */
  kick(fd: number): number;
  /** poll(fds, n, timeout): `fds` holds n struct pollfd (8 bytes each); blocks the calling thread up to `timeout` ms (-1: no limit). */
  poll(fds: Uint8Array, timeout: number): number;
  /** eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC): a descriptor a write(2) of 8 bytes makes readable, to wake a poll(). */
  eventfd(): number;
  ifIndex(name: string): number;
  /** sysconf(_SC_PAGESIZE). */
  pageSize(): number;
}

const SYS_BPF: Record<string, number> = {
  x64: 321,
  arm64: 280,
  riscv64: 280,
  loong64: 280,
  ia32: 357,
  arm: 386,
  s390x: 351,
  ppc64: 361,
};

let native: Native | undefined;

/** The native calls; throws BpfError ENOSYS (not Linux, no koffi, no libbpf) with a one-line reason. */
export function getNative(): Native {
  return (native ??= openNative());
}

function openNative(): Native {
  const nr = SYS_BPF[process.arch];
  if (process.platform !== "linux" || nr === undefined)
    throw new BpfError(
      38,
      `the kernel bridge needs Linux (bpf() system call), not ${process.platform}/${process.arch}`,
    );
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
    sectionName: libbpf.func("const char *bpf_program__section_name(void *prog)"),
    setLogBuf: libbpf.func("int bpf_program__set_log_buf(void *prog, void *buf, size_t size)"),
    close: libbpf.func("void bpf_object__close(void *obj)"),
    setIfindex: libbpf.func("void bpf_program__set_ifindex(void *prog, uint32_t ifindex)"),
    setFlags: libbpf.func("int bpf_program__set_flags(void *prog, uint32_t flags)"),
    findMapFd: libbpf.func("int bpf_object__find_map_fd_by_name(void *obj, const char *name)"),
    mapUpdate: libbpf.func("int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)"),
    mapLookup: libbpf.func("int bpf_map_lookup_elem(int fd, const void *key, void *value)"),
    findProgram: libbpf.func("void *bpf_object__find_program_by_name(void *obj, const char *name)"),
    attachXdp: libbpf.func("void *bpf_program__attach_xdp(void *prog, int ifindex)"),
    destroyLink: libbpf.func("int bpf_link__destroy(void *link)"),
    socket: libc.func("int socket(int domain, int type, int protocol)"),
    setsockopt: libc.func("int setsockopt(int fd, int level, int name, const void *value, uint32_t length)"),
    getsockopt: libc.func("int getsockopt(int fd, int level, int name, void *value, uint32_t *length)"),
    bind: libc.func("int bind(int fd, const void *address, uint32_t length)"),
    mmap: libc.func("void *mmap(void *address, size_t length, int prot, int flags, int fd, int64_t offset)"),
    munmap: libc.func("int munmap(void *address, size_t length)"),
    closeFd: libc.func("int close(int fd)"),
    sendto: libc.func(
      "intptr_t sendto(int fd, const void *buffer, size_t length, int flags, const void *address, uint32_t address_length)",
    ),
    poll: libc.func("int poll(void *fds, unsigned long n, int timeout)"),
    eventfd: libc.func("int eventfd(unsigned int value, int flags)"),
    ifIndex: libc.func("uint32_t if_nametoindex(const char *name)"),
    sysconf: libc.func("long sysconf(int name)"),
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
    sectionName: (prog) => f.sectionName(prog) as string,
    setLogBuf: (prog, buf, size) => f.setLogBuf(prog, buf, size) as number,
    close: (obj) => void f.close(obj),
    setIfindex: (prog, ifindex) => void f.setIfindex(prog, ifindex),
    setFlags: (prog, flags) => f.setFlags(prog, flags) as number,
    findMapFd: (obj, name) => f.findMapFd(obj, name) as number,
    mapUpdate: (fd, key, value, flags) => f.mapUpdate(fd, key, value, flags) as number,
    mapLookup: (fd, key, value) => f.mapLookup(fd, key, value) as number,
    findProgram: (obj, name) => f.findProgram(obj, name) as Pointer | null,
    attachXdp: (prog, ifindex) => f.attachXdp(prog, ifindex) as Pointer | null,
    destroyLink: (link) => f.destroyLink(link) as number,
    socket: (domain, type, protocol) => f.socket(domain, type, protocol) as number,
    setsockopt: (fd, level, name, value) => f.setsockopt(fd, level, name, value, value.byteLength) as number,
    getsockopt: (fd, level, name, value, length) => f.getsockopt(fd, level, name, value, length) as number,
    bind: (fd, address) => f.bind(fd, address, address.byteLength) as number,
    mmap: (length, fd, offset) => {
      const pointer = f.mmap(
        null,
        length,
        3 /* PROT_READ | PROT_WRITE */,
        0x8001 /* MAP_SHARED | MAP_POPULATE */,
        fd,
        offset,
      );
      if (pointer === null || koffi.address(pointer) === 0xffffffffffffffffn) return null;
      return { buffer: koffi.view(pointer, length), pointer };
    },
    munmap: (pointer, length) => f.munmap(pointer, length) as number,
    closeFd: (fd) => f.closeFd(fd) as number,
    kick: (fd) => Number(f.sendto(fd, null, 0, 0x40 /* MSG_DONTWAIT */, null, 0)),
    poll: (fds, timeout) => f.poll(fds, fds.byteLength >>> 3, timeout) as number,
    eventfd: () => f.eventfd(0, 0o4000 /* EFD_NONBLOCK */ | 0o2000000 /* EFD_CLOEXEC */) as number,
    ifIndex: (name) => f.ifIndex(name) as number,
    pageSize: () => Number(f.sysconf(30 /* _SC_PAGESIZE */)),
  };
}
