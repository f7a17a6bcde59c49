/**
 * What a BPF object declares about the traits its programs write: the TRAITS_PROGRAM record of
 * bpf/traits.bpf.h, read from the object file's ".traits" ELF section (libbpf does not load it).
 */
import { readFileSync } from "node:fs";
import type { Profile } from "../core/options.js";
import { BpfError } from "./errors.js";

/** A TRAITS_PROGRAM declaration. */
export interface TraitsDeclaration {
  /** The profile of the stores the programs write. */
  profile: Profile;
  /** Bytes of the metadata area they make (a multiple of 4, at most 252); 0 if not declared. */
  metaLength: number;
}

const SECTION = ".traits",
  MAGIC = "traits1\0",
  RECORD = 16;

/**
 * The declaration of the BPF object at `path`, or undefined if it has none (no ".traits" section).
 * Throws BpfError ENOENT (no such file), EINVAL for a file that is not an ELF object or a ".traits"
 * section that is not one valid declaration.
 */
export function readDeclaration(path: string): TraitsDeclaration | undefined {
  let file: Buffer;
  try {
    file = readFileSync(path);
  } catch {
    throw new BpfError(2, `no BPF object at ${path}`);
  }
  const section = elfSection(file, SECTION, path);
  if (section === undefined) return undefined;
  const le = file[5] === 1,
    bad = (why: string) =>
      new BpfError(22, `${path}: its ${SECTION} section is not a TRAITS_PROGRAM declaration: ${why}`);
  if (section.length !== RECORD || section.toString("latin1", 0, 8) !== MAGIC)
    throw bad(
      `${section.length} bytes${section.length >= 8 ? ` starting "${section.toString("latin1", 0, 7)}"` : ""}, not one 16-byte record starting "traits1"`,
    );
  const profile = le ? section.readUInt32LE(8) : section.readUInt32BE(8),
    metaLength = le ? section.readUInt32LE(12) : section.readUInt32BE(12);
  if (profile > 1) throw bad(`profile ${profile} (TRAITS_V1 is 0, TRAITS_FLAGS 1)`);
  if (metaLength % 4 !== 0 || metaLength > 252)
    throw bad(`a ${metaLength}-byte metadata area (XDP's are multiples of 4, at most 252)`);
  return { profile: profile === 1 ? "flags" : "v1", metaLength };
}

/** The bytes of the ELF64 section `name` of `file`, or undefined if it has none; throws EINVAL for a file that is not ELF64. */
function elfSection(file: Buffer, name: string, path: string): Buffer | undefined {
  if (file.length < 64 || file.readUInt32BE(0) !== 0x7f454c46 || file[4] !== 2 || (file[5] !== 1 && file[5] !== 2))
    throw new BpfError(22, `${path} is not a 64-bit ELF object`);
  const le = file[5] === 1,
    u16 = (at: number) => (le ? file.readUInt16LE(at) : file.readUInt16BE(at)),
    u32 = (at: number) => (le ? file.readUInt32LE(at) : file.readUInt32BE(at)),
    u64 = (at: number) => Number(le ? file.readBigUInt64LE(at) : file.readBigUInt64BE(at));
  const table = u64(0x28),
    entry = u16(0x3a),
    count = u16(0x3c),
    names = u16(0x3e);
  const header = (i: number) => table + i * entry;
  if (entry < 64 || table + count * entry > file.length || names >= count)
    throw new BpfError(22, `${path}: its section table is outside the file`);
  const strings = u64(header(names) + 24);
  for (let i = 0; i < count; i++) {
    const at = header(i),
      start = strings + u32(at),
      end = file.indexOf(0, start);
    if (end < 0 || file.toString("latin1", start, end) !== name) continue;
    const offset = u64(at + 24),
      size = u64(at + 32);
    if (offset + size > file.length) throw new BpfError(22, `${path}: its ${name} section is outside the file`);
    return file.subarray(offset, offset + size);
  }
  return undefined;
}
