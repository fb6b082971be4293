/**
 * A small, bounded reader of the full symbol table of a shared library: ELF64 `.symtab`
 * (Linux) and Mach-O `LC_SYMTAB`, thin or universal (macOS). It exists because webgpu's
 * dawn.node keeps its wgpu* entry points hidden (not in the dynamic symbol table), yet still
 * lists them in the static one. Every offset read from the file is checked against its size;
 * a malformed file raises SymbolTableError naming the problem.
 */

export class SymbolTableError extends Error {}

/** Link-time addresses of the defined symbols among `names`, as written in the file. */
export type SymbolAddresses = Map<string, bigint>;

/** CPU architectures in Node's naming (process.arch) that the readers pick slices for. */
export type Arch = "x64" | "arm64";

const ELF_MACHINE: Record<Arch, number> = { x64: 62, arm64: 183 };
const MACHO_CPU: Record<Arch, number> = { x64: 0x01000007, arm64: 0x0100000c };

/** Bounds-checked little/big-endian reads over the file's bytes. */
class Reader {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  check(offset: number, length: number, what: string): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.bytes.length) {
      throw new SymbolTableError(`${what} (bytes ${offset}..${offset + length}) lies outside the file (${this.bytes.length} bytes)`);
    }
  }
  u8(offset: number, what: string): number {
    this.check(offset, 1, what);
    return this.view.getUint8(offset);
  }
  u16(offset: number, what: string): number {
    this.check(offset, 2, what);
    return this.view.getUint16(offset, true);
  }
  u32(offset: number, what: string, littleEndian = true): number {
    this.check(offset, 4, what);
    return this.view.getUint32(offset, littleEndian);
  }
  u64(offset: number, what: string): bigint {
    this.check(offset, 8, what);
    return this.view.getBigUint64(offset, true);
  }
  /** u64 that must fit a file offset or size. */
  size(offset: number, what: string): number {
    const value = this.u64(offset, what);
    if (value > BigInt(this.bytes.length)) throw new SymbolTableError(`${what} ${value} exceeds the file size ${this.bytes.length}`);
    return Number(value);
  }
}

/**
 * Collects names from a string table without decoding every entry: only strings whose length
 * matches a wanted name are decoded.
 */
class NameMatcher {
  private readonly lengths: Set<number>;
  private readonly wanted: Map<string, string>;
  readonly found: SymbolAddresses = new Map();
  private readonly decoder = new TextDecoder();
  constructor(names: readonly string[], prefix: string) {
    // Mach-O prefixes C symbol names with "_": look for the prefixed name, report the plain one.
    this.wanted = new Map(names.map((n) => [prefix + n, n]));
    this.lengths = new Set([...this.wanted.keys()].map((n) => n.length));
  }
  /** Offers the NUL-terminated name at strings[start...] (bounded by `end`) with its address. */
  offer(r: Reader, start: number, end: number, address: bigint): void {
    const bytes = r.bytes;
    let stop = start;
    while (stop < end && bytes[stop] !== 0) stop++;
    if (stop >= end || !this.lengths.has(stop - start)) return;
    const name = this.wanted.get(this.decoder.decode(bytes.subarray(start, stop)));
    if (name !== undefined && !this.found.has(name)) this.found.set(name, address);
  }
}

const SHT_SYMTAB = 2;

function readElf(r: Reader, names: readonly string[], arch: Arch): SymbolAddresses {
  if (r.u8(4, "ELF class") !== 2 || r.u8(5, "ELF data encoding") !== 1) throw new SymbolTableError("not a 64-bit little-endian ELF file");
  const machine = r.u16(0x12, "ELF machine");
  if (machine !== ELF_MACHINE[arch]) throw new SymbolTableError(`ELF machine ${machine} is not ${arch} (${ELF_MACHINE[arch]})`);
  const sectionsAt = r.size(0x28, "section header offset");
  const entrySize = r.u16(0x3a, "section header size");
  const count = r.u16(0x3c, "section count");
  if (entrySize < 64) throw new SymbolTableError(`section header size ${entrySize} < 64`);
  r.check(sectionsAt, entrySize * count, "section headers");
  const section = (i: number) => {
    const at = sectionsAt + i * entrySize;
    return { type: r.u32(at + 4, "section type"), offset: r.size(at + 0x18, "section offset"), size: r.size(at + 0x20, "section size"), link: r.u32(at + 0x28, "section link") };
  };
  let symtab;
  for (let i = 0; i < count && !symtab; i++) if (section(i).type === SHT_SYMTAB) symtab = section(i);
  if (!symtab) throw new SymbolTableError("no .symtab section (the library is stripped)");
  if (symtab.link >= count) throw new SymbolTableError(`.symtab links to section ${symtab.link} of ${count}`);
  const strings = section(symtab.link);
  r.check(symtab.offset, symtab.size, ".symtab");
  r.check(strings.offset, strings.size, ".strtab");
  const matcher = new NameMatcher(names, "");
  const SYM = 24;
  for (let at = symtab.offset; at + SYM <= symtab.offset + symtab.size; at += SYM) {
    const nameAt = r.u32(at, "symbol name");
    const definedIn = r.u16(at + 6, "symbol section");
    if (nameAt === 0 || definedIn === 0 || nameAt >= strings.size) continue;
    matcher.offer(r, strings.offset + nameAt, strings.offset + strings.size, r.u64(at + 8, "symbol value"));
  }
  return matcher.found;
}

const LC_SYMTAB = 2;
const N_STAB = 0xe0;
const N_TYPE = 0x0e;
const N_SECT = 0x0e;

/** One thin 64-bit Mach-O image starting at `base` (a whole file or a slice of a universal one). */
function readMachO(r: Reader, base: number, names: readonly string[], arch: Arch): SymbolAddresses {
  if (r.u32(base, "Mach-O magic") !== 0xfeedfacf) throw new SymbolTableError("not a 64-bit little-endian Mach-O image");
  const cpu = r.u32(base + 4, "Mach-O cpu type");
  if (cpu !== MACHO_CPU[arch]) throw new SymbolTableError(`Mach-O cpu type 0x${cpu.toString(16)} is not ${arch}`);
  const commandCount = r.u32(base + 16, "load command count");
  const commandBytes = r.u32(base + 20, "load command size");
  r.check(base + 32, commandBytes, "load commands");
  let at = base + 32;
  for (let i = 0; i < commandCount; i++) {
    const cmd = r.u32(at, "load command");
    const size = r.u32(at + 4, "load command size");
    if (size < 8 || at + size > base + 32 + commandBytes) throw new SymbolTableError(`load command ${i} has size ${size}`);
    if (cmd === LC_SYMTAB) {
      const symbols = base + r.u32(at + 8, "symoff");
      const count = r.u32(at + 12, "nsyms");
      const strings = base + r.u32(at + 16, "stroff");
      const stringBytes = r.u32(at + 20, "strsize");
      const NLIST = 16;
      r.check(symbols, count * NLIST, "symbol table");
      r.check(strings, stringBytes, "string table");
      const matcher = new NameMatcher(names, "_");
      for (let s = symbols; s < symbols + count * NLIST; s += NLIST) {
        const type = r.u8(s + 4, "symbol type");
        const nameAt = r.u32(s, "symbol name");
        if (type & N_STAB || (type & N_TYPE) !== N_SECT || nameAt === 0 || nameAt >= stringBytes) continue;
        matcher.offer(r, strings + nameAt, strings + stringBytes, r.u64(s + 8, "symbol value"));
      }
      return matcher.found;
    }
    at += size;
  }
  throw new SymbolTableError("no LC_SYMTAB load command");
}

/** A universal (fat) Mach-O: big-endian table of slices, 32-bit (0xcafebabe) or 64-bit (0xcafebabf) entries. */
function readUniversal(r: Reader, names: readonly string[], arch: Arch): SymbolAddresses {
  const wide = r.u32(0, "fat magic", false) === 0xcafebabf;
  const count = r.u32(4, "fat slice count", false);
  const entry = wide ? 32 : 20;
  r.check(8, count * entry, "fat slice table");
  for (let i = 0; i < count; i++) {
    const at = 8 + i * entry;
    if (r.u32(at, "slice cpu type", false) !== MACHO_CPU[arch]) continue;
    const offset = wide ? Number(r.u32(at + 8, "slice offset", false)) * 2 ** 32 + r.u32(at + 12, "slice offset", false) : r.u32(at + 8, "slice offset", false);
    return readMachO(r, offset, names, arch);
  }
  throw new SymbolTableError(`universal Mach-O has no ${arch} slice`);
}

/**
 * The link-time addresses of those of `names` that the file defines. Names not in the table
 * are simply absent from the result; a file that is not an ELF64/Mach-O library for `arch`,
 * has no full symbol table, or points outside itself raises SymbolTableError.
 */
export function findSymbols(bytes: Uint8Array, names: readonly string[], arch: Arch): SymbolAddresses {
  const r = new Reader(bytes);
  const magic = r.u32(0, "magic", false);
  if (magic === 0x7f454c46) return readElf(r, names, arch);
  if (magic === 0xcffaedfe) return readMachO(r, 0, names, arch);
  if (magic === 0xcafebabe || magic === 0xcafebabf) return readUniversal(r, names, arch);
  throw new SymbolTableError(`unknown file format (magic 0x${magic.toString(16).padStart(8, "0")}): not ELF or Mach-O`);
}
