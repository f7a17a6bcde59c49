// The kernel bridge's errors: one line each, with the errno's name; fds closed. Skipped, saying
// why, where bpf() is not permitted; with CI=true that fails instead.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BpfError, BpfObject, testRun } from "packet-traits/xdp";

const ORACLE = join(import.meta.dirname, "../../bpf/oracle.bpf.o");
const EXAMPLE = join(import.meta.dirname, "../../bpf/example.bpf.o");

let reason = "";
try {
  BpfObject.load(ORACLE).close();
} catch (error) {
  if (!(error instanceof BpfError)) throw error;
  reason = error.message;
}
const skip = reason !== "" && process.env.CI !== "true";

/** Expects `fn` to throw a one-line BpfError with `code` and a message matching `message`. */
function expectBpfError(fn: () => unknown, code: string, message: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, `expected ${code}`).toBeInstanceOf(BpfError);
  expect((error as BpfError).code).toBe(code);
  expect((error as BpfError).message).toMatch(message);
  expect((error as BpfError).message).not.toContain("\n");
}

describe("kernel bridge, without the kernel", () => {
  it("names a missing object ENOENT", () => {
    expectBpfError(() => BpfObject.load("/nonexistent/prog.o"), "ENOENT", /no BPF object at \/nonexistent\/prog\.o/);
  });
});

describe.skipIf(skip)(`kernel bridge${skip ? ` skipped: ${reason}` : ""}`, () => {
  it("loads the oracle, names its program, refuses unknown names, and closes twice", () => {
    const object = BpfObject.load(ORACLE);
    try {
      expect(object.programs).toEqual(["traits_oracle"]);
      expect(object.programFd("traits_oracle")).toBe(object.programFd());
      expectBpfError(() => object.programFd("nope"), "ENOENT", /has no program nope \(it has traits_oracle\)/);
    } finally {
      object.close();
    }
    object.close();
    expectBpfError(() => object.programFd(), "EBADF", /is closed/);
  });

  it("calls a file that is not a BPF object EINVAL", () => {
    expectBpfError(
      () => BpfObject.load(join(import.meta.dirname, "bridge.test.ts")),
      "EINVAL",
      /cannot open .* as a BPF object/,
    );
  });

  it("reports test-run errors: EINVAL (a packet below 14 bytes), ENOSPC (dataOut too short), EBADF", () => {
    const object = BpfObject.load(ORACLE);
    try {
      const fd = object.programFd();
      expectBpfError(() => testRun(fd, { dataIn: new Uint8Array(4) }), "EINVAL", /refused the arguments/);
      expectBpfError(
        () => testRun(fd, { dataIn: new Uint8Array(100), dataOut: new Uint8Array(10) }),
        "ENOSPC",
        /too short \(100 data bytes/,
      );
      expect(testRun(fd, { dataIn: new Uint8Array(100), repeat: 3 }).retval).toBe(0); // a malformed oracle packet: XDP_ABORTED
    } finally {
      object.close();
    }
    expectBpfError(() => testRun(2 ** 30, { dataIn: new Uint8Array(100) }), "EBADF", /test run of program fd/);
  });

  it("runs on views into a WebAssembly memory, before and after it grows", () => {
    const object = BpfObject.load(EXAMPLE),
      memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    try {
      const fd = object.programFd(),
        frame = new Uint8Array(64);
      frame.set([0x08, 0x06], 12); // an ARP frame: no hash, no VLAN tag
      for (const [id, grow] of [
        [0, false],
        [1, true],
      ] as const) {
        if (grow) memory.grow(2);
        const dataIn = new Uint8Array(memory.buffer, 1000, frame.length),
          dataOut = new Uint8Array(memory.buffer, 2048, 40 + frame.length);
        dataIn.set(frame);
        expect(testRun(fd, { dataIn, dataOut }).retval).toBe(2);
        expect(Buffer.from(dataOut.subarray(40)).equals(frame)).toBe(true);
        // keys 0 (8 bytes: the packet id), 59 and 60 (4 bytes each: no hash, no type)
        expect(Buffer.from(dataOut.subarray(0, 32)).toString("hex")).toBe(
          `010000000000001801000000000000000${id}${"00".repeat(15)}`,
        );
      }
    } finally {
      object.close();
    }
  });
});
