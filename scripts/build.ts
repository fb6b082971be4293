/**
 * Builds the single `iflame` binary: dist/iflame-<platform>-<arch>.
 *   bun scripts/build.ts        (or `bun run build`)
 *
 * What it carries and how:
 * - the code, three.js and zod, bundled from iflame.ts;
 * - the WGSL kernels (`with { type: "text" }` imports) and the FFI shim source and the tokenizer
 *   WASM (`with { type: "file" }` imports), through their imports;
 * - the viewer page: an HTML import, so Bun bundles its script into the binary;
 * - the Dawn shared library of the installed bun-webgpu-<platform>-<arch> package, as an
 *   asset; ffi/library.ts extracts it to a cache folder on first use, since dlopen cannot
 *   read the binary's virtual file system.
 */
import { statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { packagedDawnCandidates } from "../ffi/library.ts";
import { buildWasm } from "./build-wasm.ts";

const ROOT = resolve(import.meta.dir, "..");

export const BINARY = join(ROOT, "dist", `iflame-${process.platform}-${process.arch}${process.platform === "win32" ? ".exe" : ""}`);

export async function buildBinary(): Promise<string> {
  await buildWasm();
  const dawn = packagedDawnCandidates()[0]?.path;
  if (!dawn) throw new Error(`neither webgpu nor bun-webgpu-${process.platform}-${process.arch} is installed (npm install): the binary would have no WebGPU library`);
  const result = await Bun.build({
    entrypoints: [join(ROOT, "iflame.ts")],
    minify: true,
    sourcemap: "none",
    compile: { outfile: BINARY, assets: [dawn] },
  });
  if (!result.success) throw new Error(`bun build --compile failed:\n${result.logs.join("\n")}`);
  return BINARY;
}

if (import.meta.main) {
  const started = performance.now();
  const binary = await buildBinary();
  const mib = statSync(binary).size / 2 ** 20;
  console.log(`built ${relative(ROOT, binary)} (${mib.toFixed(1)} MiB) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
