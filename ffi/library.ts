/**
 * Finds and opens a library that implements the standard webgpu.h.
 * Order: IFLAME_WEBGPU_LIB (a path) → a system libwgpu_native → the Dawn build shipped in
 * the npm package bun-webgpu-<platform>-<arch> (its shared library only).
 */
import { dlopen, suffix } from "bun:ffi";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
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
  throw new Error(
    `No WebGPU library found. Install the npm package ${dawnPackage} (npm install), put libwgpu_native.${suffix} on the library path, or set IFLAME_WEBGPU_LIB to a webgpu.h library.`,
  );
}
