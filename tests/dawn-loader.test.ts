/**
 * The route to webgpu's dawn.node: the bounded symbol-table reader (ELF64 and Mach-O, on the
 * real files of every platform the package ships and on crafted, truncated ones), the one-line
 * fallback when the symbols are missing, and the default Dawn toggles per vendor.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseSubgroupMatrixConfigs, vendorToggles, withDefaultToggles } from "../ffi/adapter.ts";
import { openDawnNode, ProcTableUnavailable } from "../ffi/dawn-node.ts";
import { openFirst, packagedDawnCandidates } from "../ffi/library.ts";
import { findSymbols, SymbolTableError, type Arch } from "../ffi/symtab.ts";

// Loading Dawn in a child process: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const PROC_TABLE = ["napi_register_module_v1", "dawnProcSetProcs", "_ZN4dawn6native8GetProcsEv", "wgpuCreateInstance", "wgpuAdapterGetInfo"];
const dist = join(dirname(require.resolve("webgpu/package.json")), "dist");
const hostArch = process.arch as Arch;

/** A minimal ELF64 shared object: a null section, .symtab with one defined symbol, .strtab. */
function craftedElf(symbol: string, value: bigint, arch: Arch = hostArch): Uint8Array {
  const names = new TextEncoder().encode(`\0${symbol}\0`);
  const bytes = new Uint8Array(64 + 3 * 64 + 2 * 24 + names.length);
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(0x10, 3, true); // ET_DYN
  v.setUint16(0x12, arch === "x64" ? 62 : 183, true);
  v.setBigUint64(0x28, 64n, true); // section headers right after the file header
  v.setUint16(0x3a, 64, true);
  v.setUint16(0x3c, 3, true);
  const symtabAt = 64 + 3 * 64;
  const strtabAt = symtabAt + 2 * 24;
  const section = (i: number, type: number, offset: number, size: number, link: number) => {
    const at = 64 + i * 64;
    v.setUint32(at + 4, type, true);
    v.setBigUint64(at + 0x18, BigInt(offset), true);
    v.setBigUint64(at + 0x20, BigInt(size), true);
    v.setUint32(at + 0x28, link, true);
  };
  section(1, 2, symtabAt, 48, 2); // SHT_SYMTAB, strings in section 2
  section(2, 3, strtabAt, names.length, 0); // SHT_STRTAB
  v.setUint32(symtabAt + 24, 1, true); // symbol 1: name at 1, defined in section 1
  v.setUint16(symtabAt + 24 + 6, 1, true);
  v.setBigUint64(symtabAt + 24 + 8, value, true);
  bytes.set(names, strtabAt);
  return bytes;
}

describe("subgroup-matrix configurations", () => {
  // Raw words Dawn (webgpu@0.6.2) returned: the first 7 configs of an H200 (580.159.04), and
  // lavapipe (Mesa 26.1.6). Entries are 28 bytes apart, not webgpu.h's 20.
  const h200 = [2, 2, 16, 16, 16, 32, 32, 2, 2, 16, 8, 16, 32, 32, 2, 2, 16, 8, 8, 32, 32, 2, 1, 16, 16, 16, 32, 32, 2, 1, 16, 8, 16, 32, 32, 2, 1, 16, 8, 8, 32, 32, 5, 3, 16, 16, 32, 32, 32];
  const lavapipe = [2, 2, 8, 8, 8, 8, 8, 2, 1, 8, 8, 8, 8, 8, 5, 3, 8, 8, 8, 8, 8, 6, 4, 8, 8, 8, 8, 8];
  const reader = (words: number[]) => (bytes: number) => new Uint32Array(Array.from({ length: bytes / 4 }, (_, i) => words[i] ?? 0));

  test("read 28 bytes apart: NVIDIA's f16 × f16 → f32 shapes include 16×16×16", () => {
    const configs = parseSubgroupMatrixConfigs(7, reader(h200));
    expect(configs.filter((c) => c.component === "f16" && c.result === "f32").map((c) => `${c.M}×${c.N}×${c.K}`)).toEqual(["16×16×16", "16×8×16", "16×8×8"]);
    expect(configs[6]).toEqual({ component: "u8", result: "u32", M: 16, N: 16, K: 32 });
    expect(parseSubgroupMatrixConfigs(4, reader(lavapipe)).map((c) => `${c.component}→${c.result} ${c.M}×${c.N}×${c.K}`))
      .toEqual(["f16→f16 8×8×8", "f16→f32 8×8×8", "u8→u32 8×8×8", "i8→i32 8×8×8"]);
  });

  test("webgpu.h's 20-byte layout is still read, and an unknown layout is an error, not a guess", () => {
    const packed = [2, 1, 16, 16, 16, 2, 2, 8, 8, 8];
    expect(parseSubgroupMatrixConfigs(2, reader(packed)).map((c) => c.result)).toEqual(["f32", "f16"]);
    expect(() => parseSubgroupMatrixConfigs(2, reader([2, 1, 16, 16, 16, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]))).toThrow(/a layout iflame does not know \(2 configs; first words 2,1,16,16,16/);
  });
});

describe("the symbol-table reader", () => {
  test("finds the proc-table symbols in dawn.node for linux-x64, linux-arm64 and both darwin slices", () => {
    const files = [["linux-x64", "x64"], ["linux-arm64", "arm64"], ["darwin-universal", "x64"], ["darwin-universal", "arm64"]] as const;
    // A packed runtime (shared/gpu/pack.sh) carries only the host's file.
    const present = files.filter(([dir]) => existsSync(join(dist, dir, "dawn.node")));
    if (present.length < files.length) console.log(`symbol tables read: ${present.map((f) => f.join("/")).join(", ")} (the others are not installed here)`);
    expect(present.length).toBeGreaterThan(0);
    for (const [dir, arch] of present) {
      const found = findSymbols(readFileSync(join(dist, dir, "dawn.node")), [...PROC_TABLE, "noSuchSymbol"], arch);
      expect([...found.keys()].sort()).toEqual([...PROC_TABLE].sort());
      expect(new Set(found.values()).size).toBe(PROC_TABLE.length);
    }
  });

  test("reads a crafted ELF: defined names only, with their values", () => {
    const found = findSymbols(craftedElf("wgpuCreateInstance", 0x1234n), ["wgpuCreateInstance", "dawnProcSetProcs"], hostArch);
    expect([...found]).toEqual([["wgpuCreateInstance", 0x1234n]]);
  });

  test("a truncated or foreign file is a SymbolTableError naming the problem", () => {
    const elf = craftedElf("wgpuCreateInstance", 1n);
    expect(() => findSymbols(elf.subarray(0, 200), ["x"], hostArch)).toThrow(/section headers \(bytes 64\.\.256\) lies outside the file \(200 bytes\)/);
    expect(() => findSymbols(elf.subarray(0, 270), ["x"], hostArch)).toThrow(/section offset 304 exceeds the file size 270/);
    expect(() => findSymbols(elf, ["x"], hostArch === "x64" ? "arm64" : "x64")).toThrow(/ELF machine \d+ is not/);
    expect(() => findSymbols(new Uint8Array(2), ["x"], hostArch)).toThrow(SymbolTableError);
    expect(() => findSymbols(new TextEncoder().encode("MZ not a library"), ["x"], hostArch)).toThrow(/unknown file format/);
    const win = join(dist, "win32-x64", "dawn.node");
    if (existsSync(win)) expect(() => findSymbols(readFileSync(win), ["x"], "x64")).toThrow(/not ELF or Mach-O/);
  });
});

describe("falling back", () => {
  const dir = mkdtempSync(join(tmpdir(), "iflame-loader-"));
  const stripped = join(dir, "dawn.node");
  writeFileSync(stripped, craftedElf("wgpuCreateInstance", 0x1000n));

  test("a dawn.node without the symbols is refused in one line, before it is loaded", () => {
    expect(() => openDawnNode(stripped, [])).toThrow(ProcTableUnavailable);
    expect(() => openDawnNode(stripped, [])).toThrow(/^its symbol table lacks \d+ of the \d+ symbols the proc-table route needs \(napi_register_module_v1, dawnProcSetProcs, _ZN4dawn6native8GetProcsEv, …\)$/);
  });

  test("the loader names the skipped library in one line and opens the next", () => {
    const next = packagedDawnCandidates().find((c) => c.origin.startsWith("Dawn (bun-webgpu"));
    if (!next) return; // bun-webgpu is not installed for this platform
    const lines: string[] = [];
    const opened = openFirst([{ path: stripped, origin: "Dawn (webgpu)", version: null }, next], (line) => lines.push(line));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toStartWith(`iflame: skipping Dawn (webgpu) (${stripped}): its symbol table lacks`);
    expect(opened?.path).toBe(next.path);
    expect(opened?.featureNumbering).toBe("2025-early");
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("default Dawn toggles", () => {
  test("NVIDIA gets f16 and the unsafe APIs (subgroup matrices); other vendors nothing", () => {
    expect(vendorToggles(0x10de)).toEqual(["vulkan_enable_f16_on_nvidia", "allow_unsafe_apis"]);
    expect(vendorToggles(0x10005)).toEqual([]);
  });

  test("IFLAME_DAWN_TOGGLES wins over the defaults, on or off", () => {
    const user = { enable: ["dump_shaders"], disable: ["allow_unsafe_apis"] };
    expect(withDefaultToggles(user, vendorToggles(0x10de))).toEqual({ enable: ["dump_shaders", "vulkan_enable_f16_on_nvidia"], disable: ["allow_unsafe_apis"] });
  });
});
