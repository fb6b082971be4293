/**
 * Finds and opens a library that implements the standard webgpu.h.
 * Order: IFLAME_WEBGPU_LIB (a path) → a system libwgpu_native → the Dawn build shipped in
 * the npm package bun-webgpu-<platform>-<arch> (its shared library only) → in a single binary
 * (scripts/build.ts), the copy of that Dawn build it carries.
 */
import { dlopen, suffix } from "bun:ffi";
import type { BunFile } from "bun";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { webgpuSymbols } from "./symbols.ts";

export type WebGPULibrary = ReturnType<typeof dlopen<typeof webgpuSymbols>>;

export interface OpenedLibrary {
  lib: WebGPULibrary;
  path: string;
  /** Where it came from, for the one-line report. */
  origin: string;
  /** Which revision of webgpu.h's WGPUFeatureName numbering the library was built with. */
  featureNumbering: FeatureNumbering;
}

/**
 * webgpu.h renumbered WGPUFeatureName in June 2025 (webgpu-headers #551), shortly after it
 * renamed wgpuGetInstanceCapabilities (#533). A library that still exports the old name
 * (the Dawn in bun-webgpu 0.1.x) uses the old numbers.
 */
export type FeatureNumbering = "2025-early" | "current";

function featureNumbering(path: string): FeatureNumbering {
  try {
    dlopen(path, { wgpuGetInstanceCapabilities: { args: [], returns: "void" } }).close();
    return "2025-early";
  } catch {
    return "current";
  }
}

const dawnPackage = `bun-webgpu-${process.platform}-${process.arch}`;

function openAt(path: string, origin: string): OpenedLibrary {
  return { lib: dlopen(path, webgpuSymbols), path, origin, featureNumbering: featureNumbering(path) };
}

/** The Dawn shared library inside the installed npm package, or null when it is not installed. */
export function dawnLibraryPath(): string | null {
  let dir: string;
  try {
    dir = dirname(require.resolve(`${dawnPackage}/package.json`));
  } catch {
    return null;
  }
  const file = readdirSync(dir).find((f) => f.endsWith(`.${suffix}`));
  return file ? join(dir, file) : null;
}

/**
 * The library embedded in a single binary, copied out to `$XDG_CACHE_HOME/iflame` (or
 * ~/.cache/iflame) under a name keyed by its hash, because dlopen cannot read the binary's
 * virtual file system. Null when not running from a binary or it carries none.
 */
function embeddedLibraryPath(): string | null {
  if (!Bun.isStandaloneExecutable) return null;
  const embedded = Bun.embeddedFiles.find((f) => (f as BunFile).name?.endsWith(`.${suffix}`)) as BunFile | undefined;
  if (!embedded?.name) return null;
  // Embedded assets live beside the bundled code in the binary's file system.
  const bytes = readFileSync(join(import.meta.dir, embedded.name));
  const hash = new Bun.CryptoHasher("sha256").update(bytes).digest("hex").slice(0, 16);
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  for (const dir of [join(cache, "iflame"), join(tmpdir(), "iflame")]) {
    const path = join(dir, `${hash}-${basename(embedded.name)}`);
    if (existsSync(path)) return path;
    try {
      mkdirSync(dir, { recursive: true });
      // Written aside and renamed, so a concurrent run never loads a half-written library.
      const partial = `${path}.${process.pid}.partial`;
      writeFileSync(partial, bytes, { mode: 0o755 });
      renameSync(partial, path);
      return path;
    } catch {
      // Not writable (a read-only home): try the temp folder.
    }
  }
  throw new Error(`could not extract the embedded WebGPU library to ${join(cache, "iflame")} or ${join(tmpdir(), "iflame")}`);
}

export function openWebGPULibrary(): OpenedLibrary {
  const explicit = process.env.IFLAME_WEBGPU_LIB;
  if (explicit) {
    if (!existsSync(explicit)) {
      throw new Error(`IFLAME_WEBGPU_LIB=${explicit}: no such file. Point it at a webgpu.h library (libwgpu_native.${suffix} or a Dawn build), or unset it to use the bundled Dawn.`);
    }
    try {
      return openAt(explicit, "IFLAME_WEBGPU_LIB");
    } catch (e) {
      throw new Error(`IFLAME_WEBGPU_LIB=${explicit}: could not open it as a webgpu.h library: ${(e as Error).message}`);
    }
  }
  const system = `libwgpu_native.${suffix}`;
  try {
    return openAt(system, "system wgpu-native");
  } catch {
    // Not installed system-wide: fall through to the bundled Dawn.
  }
  const dawn = dawnLibraryPath();
  if (dawn) return openAt(dawn, `Dawn (${dawnPackage})`);
  const embedded = embeddedLibraryPath();
  if (embedded) return openAt(embedded, "Dawn (embedded in this binary)");
  throw new Error(
    `No WebGPU library found. Install the npm package ${dawnPackage} (npm install), put libwgpu_native.${suffix} on the library path, or set IFLAME_WEBGPU_LIB to a webgpu.h library.`,
  );
}
