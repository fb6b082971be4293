/**
 * Finds and opens a library that implements the standard webgpu.h.
 * Order: IFLAME_WEBGPU_LIB (a path) → a system libwgpu_native → the current Dawn in the npm
 * package `webgpu` (dawn.node, reached through its proc table, see dawn-node.ts) → the older
 * Dawn build of the npm package bun-webgpu-<platform>-<arch> → in a single binary
 * (scripts/build.ts), the copy of one of those Dawn builds it carries.
 */
import { dlopen, suffix, type Pointer } from "bun:ffi";
import type { BunFile } from "bun";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { openDawnNode, type ProcTable } from "./dawn-node.ts";
import { webgpuSymbols } from "./symbols.ts";

export type WebGPULibrary = ReturnType<typeof dlopen<typeof webgpuSymbols>>;

export interface OpenedLibrary {
  lib: WebGPULibrary;
  path: string;
  /** Where it came from, for the one-line report. */
  origin: string;
  /** The npm package (name@version) that shipped it, when it came from one. */
  version: string | null;
  /** Which revision of webgpu.h's WGPUFeatureName numbering the library was built with. */
  featureNumbering: FeatureNumbering;
  /** Dawn reads Dawn toggles; other implementations reject their chained struct. */
  isDawn: boolean;
  /** wgpuAdapterPropertiesSubgroupMatrixConfigsFreeMembers, a Dawn extension; null where absent. */
  subgroupMatrixConfigsFreeMembers: Pointer | null;
  /** Dawn's C++ dawn::native::Instance::EnumerateAdapters (see shim.c); null where absent. */
  enumerateAdapters: Pointer | null;
}

/**
 * webgpu.h renumbered WGPUFeatureName in June 2025 (webgpu-headers #551), shortly after it
 * renamed wgpuGetInstanceCapabilities (#533). A library that still has the old name
 * (the Dawn in bun-webgpu 0.1.x) uses the old numbers.
 */
export type FeatureNumbering = "2025-early" | "current";

function numbering(hasOldName: boolean): FeatureNumbering {
  return hasOldName ? "2025-early" : "current";
}

/** The address of an exported function, or null when the library does not export it. */
function exported(path: string, name: string): Pointer | null {
  try {
    return (dlopen(path, { [name]: { args: [], returns: "void" } }).symbols[name] as unknown as { ptr: Pointer }).ptr;
  } catch {
    return null;
  }
}

const SUBGROUP_MATRIX_FREE = "wgpuAdapterPropertiesSubgroupMatrixConfigsFreeMembers";
/** dawn::native::Instance::EnumerateAdapters(WGPURequestAdapterOptions const*) const, mangled. */
const ENUMERATE_ADAPTERS = "_ZNK4dawn6native8Instance17EnumerateAdaptersEPK25WGPURequestAdapterOptions";

function openExported(path: string, origin: string, version: string | null): OpenedLibrary {
  return {
    lib: dlopen(path, webgpuSymbols),
    path,
    origin,
    version,
    featureNumbering: numbering(exported(path, "wgpuGetInstanceCapabilities") !== null),
    isDawn: exported(path, "wgpuDeviceTick") !== null, // a Dawn-only entry point
    subgroupMatrixConfigsFreeMembers: exported(path, SUBGROUP_MATRIX_FREE),
    enumerateAdapters: exported(path, ENUMERATE_ADAPTERS),
  };
}

function openProcTable(path: string, origin: string, version: string | null): OpenedLibrary {
  const table: ProcTable = openDawnNode(path, [SUBGROUP_MATRIX_FREE, "wgpuGetInstanceCapabilities", ENUMERATE_ADAPTERS]);
  return {
    lib: table.lib,
    path,
    origin,
    version,
    featureNumbering: numbering(table.optional.has("wgpuGetInstanceCapabilities")),
    isDawn: true,
    subgroupMatrixConfigsFreeMembers: table.optional.get(SUBGROUP_MATRIX_FREE) ?? null,
    enumerateAdapters: table.optional.get(ENUMERATE_ADAPTERS) ?? null,
  };
}

/** A Node-API addon (dawn.node) is reached through its proc table; anything else by its exports. */
function openAt(path: string, origin: string, version: string | null): OpenedLibrary {
  return path.endsWith(".node") ? openProcTable(path, origin, version) : openExported(path, origin, version);
}

/** An installed npm package's folder and name@version, or null when it is not installed. */
function installedPackage(name: string): { dir: string; version: string } | null {
  try {
    const manifest = require.resolve(`${name}/package.json`);
    const { version } = JSON.parse(readFileSync(manifest, "utf8")) as { version: string };
    return { dir: dirname(manifest), version: `${name}@${version}` };
  } catch {
    return null;
  }
}

/** A library the loader may try, in order. */
export interface LibraryCandidate {
  path: string;
  origin: string;
  version: string | null;
}

/** webgpu's dawn.node for this platform (darwin ships one universal file). Windows: see README. */
function webgpuPackageDawn(): LibraryCandidate | null {
  if (process.platform === "win32") return null; // PE exports only napi_*: the proc table is unreachable
  const pkg = installedPackage("webgpu");
  if (!pkg) return null;
  const arch = process.platform === "darwin" ? "universal" : process.arch;
  const path = join(pkg.dir, "dist", `${process.platform}-${arch}`, "dawn.node");
  return existsSync(path) ? { path, origin: "Dawn (webgpu)", version: pkg.version } : null;
}

const bunWebgpuPackage = `bun-webgpu-${process.platform}-${process.arch}`;

/** The Dawn shared library inside the installed bun-webgpu package, or null when it is not installed. */
function bunWebgpuDawn(): LibraryCandidate | null {
  const pkg = installedPackage(bunWebgpuPackage);
  const file = pkg && readdirSync(pkg.dir).find((f) => f.endsWith(`.${suffix}`));
  return pkg && file ? { path: join(pkg.dir, file), origin: `Dawn (${bunWebgpuPackage})`, version: pkg.version } : null;
}

/** The Dawn libraries an installed checkout can load, best first (what scripts/build.ts embeds). */
export function packagedDawnCandidates(): LibraryCandidate[] {
  return [webgpuPackageDawn(), bunWebgpuDawn()].filter((c): c is LibraryCandidate => c !== null);
}

/**
 * The library embedded in a single binary, copied out to `$XDG_CACHE_HOME/iflame` (or
 * ~/.cache/iflame) under a name keyed by its hash, because dlopen cannot read the binary's
 * virtual file system. Null when not running from a binary or it carries none.
 */
function embeddedLibrary(): LibraryCandidate | null {
  if (!Bun.isStandaloneExecutable) return null;
  const embedded = Bun.embeddedFiles.find((f) => /\.(node|so|dylib|dll)$/.test((f as BunFile).name ?? "")) as BunFile | undefined;
  if (!embedded?.name) return null;
  // Embedded assets live beside the bundled code in the binary's file system.
  const bytes = readFileSync(join(import.meta.dir, embedded.name));
  const hash = new Bun.CryptoHasher("sha256").update(bytes).digest("hex").slice(0, 16);
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  const origin = "Dawn (embedded in this binary)";
  // scripts/build.ts names it <package>@<version>-<file>.
  const version = /^(.+@\d[^-]*)-/.exec(basename(embedded.name))?.[1] ?? null;
  for (const dir of [join(cache, "iflame"), join(tmpdir(), "iflame")]) {
    const path = join(dir, `${hash}-${basename(embedded.name)}`);
    if (existsSync(path)) return { path, origin, version };
    try {
      mkdirSync(dir, { recursive: true });
      // Written aside and renamed, so a concurrent run never loads a half-written library.
      const partial = `${path}.${process.pid}.partial`;
      writeFileSync(partial, bytes, { mode: 0o755 });
      renameSync(partial, path);
      return { path, origin, version };
    } catch {
      // Not writable (a read-only home): try the temp folder.
    }
  }
  throw new Error(`could not extract the embedded WebGPU library to ${join(cache, "iflame")} or ${join(tmpdir(), "iflame")}`);
}

/**
 * Opens the first candidate that loads; one that fails is reported in one line on `warn`
 * and the next is tried.
 */
export function openFirst(candidates: readonly LibraryCandidate[], warn: (line: string) => void): OpenedLibrary | null {
  for (const c of candidates) {
    try {
      return openAt(c.path, c.origin, c.version);
    } catch (e) {
      warn(`iflame: skipping ${c.origin} (${c.path}): ${(e as Error).message.split("\n")[0]}`);
    }
  }
  return null;
}

const opened = new Map<string, OpenedLibrary>();

export function openWebGPULibrary(): OpenedLibrary {
  const explicit = process.env.IFLAME_WEBGPU_LIB;
  const key = explicit ?? "";
  const cached = opened.get(key);
  if (cached) return cached;
  const library = openUncached(explicit);
  opened.set(key, library);
  return library;
}

function openUncached(explicit: string | undefined): OpenedLibrary {
  if (explicit) {
    if (!existsSync(explicit)) {
      throw new Error(`IFLAME_WEBGPU_LIB=${explicit}: no such file. Point it at a webgpu.h library (libwgpu_native.${suffix}, a Dawn build or webgpu's dawn.node), or unset it to use the bundled Dawn.`);
    }
    try {
      return openAt(explicit, "IFLAME_WEBGPU_LIB", null);
    } catch (e) {
      throw new Error(`IFLAME_WEBGPU_LIB=${explicit}: could not open it as a webgpu.h library: ${(e as Error).message}`);
    }
  }
  try {
    return openExported(`libwgpu_native.${suffix}`, "system wgpu-native", null);
  } catch {
    // Not installed system-wide: fall through to the bundled Dawn.
  }
  const candidates = [...packagedDawnCandidates()];
  const embedded = candidates.length ? null : embeddedLibrary();
  if (embedded) candidates.push(embedded);
  const library = openFirst(candidates, (line) => console.warn(line));
  if (library) return library;
  throw new Error(
    `No WebGPU library found. Install the npm package webgpu (or ${bunWebgpuPackage}) with npm install, put libwgpu_native.${suffix} on the library path, or set IFLAME_WEBGPU_LIB to a webgpu.h library.`,
  );
}
