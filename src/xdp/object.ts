/** BpfObject: an ELF object of BPF programs, loaded into the kernel with libbpf. */
import { existsSync } from "node:fs";
import { BpfError, PRIVILEGES } from "./errors.js";
import { getNative, type Native, type Pointer } from "./ffi.js";

/** Bytes kept for each program's verifier log, of which an error quotes the last line. */
const LOG_SIZE = 1 << 16;
/** BPF_F_XDP_DEV_BOUND_ONLY (include/uapi/linux/bpf.h; Debian 12's headers lack it). */
const BPF_F_XDP_DEV_BOUND_ONLY = 1 << 6;

/** Options of BpfObject.load. */
export interface BpfLoadOptions {
  /** Binds every program to this interface before loading (device-bound XDP: the rx-metadata kfuncs load only so). */
  ifindex?: number;
}

/** Why a device-bound load fails with EOPNOTSUPP and no verifier line: the device's driver has no XDP rx-metadata kfuncs. */
const DEVICE_BOUND =
  "the device cannot take a device-bound program (its driver has no XDP rx-metadata kfuncs, as lo and most virtual devices; veth and NICs such as ice, mlx5 and igc have them)";

/**
 * The programs of one BPF object file, loaded (verified) into the kernel. Their file descriptors
 * live until close(), which also frees the object's maps: call it in a `finally`.
 */
export class BpfObject {
  private obj: Pointer | null;
  private readonly fds = new Map<string, number>();
  private readonly sections = new Map<string, string>();

  private constructor(
    private readonly native: Native,
    obj: Pointer,
    readonly path: string,
  ) {
    this.obj = obj;
  }

  /**
   * Opens and loads the object at `path` (its programs, maps and BTF; CO-RE relocations as libbpf does).
   * Throws BpfError: ENOENT (no such file), EPERM (bpf() not permitted), ENOSYS (not Linux, no
   * koffi, no libbpf), EACCES or EINVAL (the verifier refused a program: the message ends with the
   * last line of its log), or what libbpf reports for a malformed object.
   */
  static load(path: string, { ifindex }: BpfLoadOptions = {}): BpfObject {
    if (!existsSync(path)) throw new BpfError(2, `no BPF object at ${path}`);
    const native = getNative();
    const obj = native.openFile(path);
    if (obj === null) {
      const errno = native.errno(); // libbpf's own codes (4000 on) say what is wrong with the file: EINVAL
      throw new BpfError(
        errno >= 4000 ? 22 : errno,
        `libbpf cannot open ${path} as a BPF object${errno >= 4000 ? ` (libbpf error ${errno})` : ""}`,
      );
    }
    const logs = new Map<string, Uint8Array>();
    for (let prog = native.nextProgram(obj, null); prog !== null; prog = native.nextProgram(obj, prog)) {
      const log = new Uint8Array(LOG_SIZE);
      logs.set(native.programName(prog), log);
      native.setLogBuf(prog, log, LOG_SIZE);
      if (ifindex !== undefined) {
        native.setIfindex(prog, ifindex);
        native.setFlags(prog, BPF_F_XDP_DEV_BOUND_ONLY);
      }
    }
    const rc = native.load(obj);
    if (rc < 0) {
      native.close(obj);
      const why =
        rc === -1
          ? PRIVILEGES
          : ([...logs].map(([name, log]) => lastLine(name, log)).find((line) => line !== undefined) ??
            (rc === -95 && ifindex !== undefined ? DEVICE_BOUND : undefined));
      throw new BpfError(rc, `loading ${path} failed${why ? `: ${why}` : ""}`);
    }
    const object = new BpfObject(native, obj, path);
    for (let prog = native.nextProgram(obj, null); prog !== null; prog = native.nextProgram(obj, prog)) {
      object.fds.set(native.programName(prog), native.programFd(prog));
      object.sections.set(native.programName(prog), native.sectionName(prog));
    }
    return object;
  }

  /** Names of the object's programs (their C function names). */
  get programs(): string[] {
    return [...this.fds.keys()];
  }

  /**
   * File descriptor of the program `name`, or of the only program if no name is given.
   * Throws BpfError EBADF after close(), ENOENT for an unknown name, EINVAL if no name is given and
   * the object holds several programs.
   */
  programFd(name?: string): number {
    if (this.obj === null) throw new BpfError(9, `${this.path} is closed`);
    if (name === undefined) {
      if (this.fds.size !== 1)
        throw new BpfError(22, `${this.path} holds ${this.fds.size} programs (${this.programs.join(", ")}): name one`);
      return this.fds.values().next().value!;
    }
    const fd = this.fds.get(name);
    if (fd === undefined)
      throw new BpfError(2, `${this.path} has no program ${name} (it has ${this.programs.join(", ") || "none"})`);
    return fd;
  }

  /**
   * True if the program `name` (default: the only one) takes packets in several buffers: its section
   * is "xdp.frags" (or "xdp.frags/..."), for which libbpf loads it with BPF_F_XDP_HAS_FRAGS. Throws as
   * programFd.
   */
  hasFrags(name?: string): boolean {
    this.programFd(name);
    return /^xdp\.frags(\/|$)/.test(this.sections.get(name ?? this.programs[0]!) ?? "");
  }

  /** File descriptor of the map `name`. Throws BpfError EBADF after close(), ENOENT for an unknown name. */
  mapFd(name: string): number {
    if (this.obj === null) throw new BpfError(9, `${this.path} is closed`);
    const fd = this.native.findMapFd(this.obj, name);
    if (fd < 0) throw new BpfError(2, `${this.path} has no map ${name}`);
    return fd;
  }

  /**
   * @internal Attaches the program `name` (default: the only one) to interface `ifindex` through a
   * BPF link, and returns the link: bpf_link__destroy detaches it, and so does the end of the process.
   * Throws BpfError with the kernel's errno (EBUSY: the interface has an XDP program already).
   */
  attachXdp(ifindex: number, name?: string): Pointer {
    this.programFd(name);
    const prog = this.native.findProgram(this.obj!, name ?? this.programs[0]!);
    const link = prog && this.native.attachXdp(prog, ifindex);
    if (!link) {
      const errno = this.native.errno();
      throw new BpfError(
        errno,
        `attaching ${this.path} to interface ${ifindex} failed${errno === 16 || errno === 17 ? " (the interface has an XDP program already)" : errno === 1 ? `: ${PRIVILEGES}` : ""}`,
      );
    }
    return link;
  }

  /** Unloads the programs and maps (closes every fd). Safe to call twice. */
  close(): void {
    if (this.obj === null) return;
    this.native.close(this.obj);
    this.obj = null;
    this.fds.clear();
    this.sections.clear();
  }
}

/** "program NAME: <the log's last non-empty line>", or undefined for an empty log. */
function lastLine(name: string, log: Uint8Array): string | undefined {
  const end = log.indexOf(0);
  const lines = Buffer.from(log.subarray(0, end < 0 ? log.length : end))
    .toString("utf8")
    .split("\n")
    .map((line) => line.trim());
  const last = lines
    .filter(
      (line) =>
        line &&
        !line.startsWith("processed ") &&
        !line.startsWith("verification time") &&
        !line.startsWith("stack depth"),
    )
    .pop();
  return last === undefined ? undefined : `program ${name}: ${last}`;
}
