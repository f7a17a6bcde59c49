/**
 * XskProgram: the XDP program of one or more AF_XDP sockets on an interface, loaded bound to the
 * device (the rx-metadata kfuncs load only so), each socket in its XSKMAP `xsks` at its queue, and
 * attached once through a BPF link: one attach covers every queue.
 */
import { BpfError } from "./errors.js";
import { getNative, type Pointer } from "./ffi.js";
import { BpfObject } from "./object.js";

/** @internal The program of some AF_XDP sockets, attached; close() detaches and unloads it. */
export class XskProgram {
  private constructor(
    private object: BpfObject | undefined,
    private link: Pointer | null,
  ) {}

  /**
   * Loads the object at `path` bound to interface `ifindex` (named `device` in messages), puts each
   * socket's fd in its XSKMAP `xsks` at the socket's queue, and attaches the program through a BPF
   * link (the kernel detaches it if the process dies). Throws BpfError: what BpfObject.load throws,
   * ENOENT (no map `xsks`), E2BIG (a queue past the map's entries), EBUSY (the interface has an XDP
   * program already). On error nothing is left loaded or attached.
   */
  static attach(
    path: string,
    device: string,
    ifindex: number,
    sockets: ReadonlyArray<{ queue: number; fd: number }>,
  ): XskProgram {
    const native = getNative(),
      object = BpfObject.load(path, { ifindex });
    try {
      const map = object.mapFd("xsks"),
        key = new Uint8Array(4),
        value = new Uint8Array(4);
      for (const { queue, fd } of sockets) {
        new DataView(key.buffer).setUint32(0, queue, true);
        new DataView(value.buffer).setUint32(0, fd, true);
        if (native.mapUpdate(map, key, value, 0) < 0) {
          const errno = native.errno();
          throw new BpfError(
            errno,
            `putting the AF_XDP socket of ${device} queue ${queue} in the XSKMAP of ${path} failed${errno === 7 ? " (the queue is past the map's entries)" : ""}`,
          );
        }
      }
      return new XskProgram(object, object.attachXdp(ifindex));
    } catch (error) {
      object.close();
      throw error;
    }
  }

  /** Detaches the program and unloads it. Safe to call twice. */
  close(): void {
    if (this.link) getNative().destroyLink(this.link);
    this.link = null;
    this.object?.close();
    this.object = undefined;
  }
}
