/**
 * Builds the single `iflame` binary for every platform Bun compiles for:
 * dist/iflame-<platform>-<arch>[.exe].
 *   bun scripts/build.ts                      (or `npm run build`): every target
 *   bun scripts/build.ts --target linux-x64   one target
 *
 * What it carries and how:
 * - the code, three.js and zod, bundled from iflame.ts;
 * - the WGSL kernels (`with { type: "text" }` imports) and the FFI shim source and the tokenizer
 *   WASM (`with { type: "file" }` imports), through their imports;
 * - the viewer page: an HTML import, so Bun bundles its script into the binary;
 * - one Dawn library for the target, as an asset (TARGETS below): webgpu's dawn.node where its
 *   proc table can be reached (ELF, Mach-O), bun-webgpu's DLL on Windows. ffi/library.ts
 *   extracts it to a cache folder on first use, since dlopen cannot read the binary's virtual
 *   file system.
 * Bun fetches the runtime of a foreign target from the npm registry (@oven/bun-<os>-<arch>,
 * cached in ~/.bun/install/cache); a Dawn package that npm does not install on this platform
 * (bun-webgpu-win32-x64) is fetched with `npm pack` into build/packages/.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { z } from "zod";
import { parseScriptFlags } from "../src/cli/flags.ts";
import { buildWasm } from "./build-wasm.ts";
import manifest from "../package.json" with { type: "json" };

const ROOT = resolve(import.meta.dir, "..");

export interface Target {
  /** process.platform-process.arch of the machine it runs on. */
  name: string;
  bun: Bun.Build.CompileTarget;
  /** The Dawn it carries: a file inside an npm package. */
  dawn: { package: string; file: string };
}

export const TARGETS: readonly Target[] = [
  { name: "linux-x64", bun: "bun-linux-x64", dawn: { package: "webgpu", file: "dist/linux-x64/dawn.node" } },
  { name: "linux-arm64", bun: "bun-linux-arm64", dawn: { package: "webgpu", file: "dist/linux-arm64/dawn.node" } },
  { name: "darwin-arm64", bun: "bun-darwin-arm64", dawn: { package: "webgpu", file: "dist/darwin-universal/dawn.node" } },
  { name: "darwin-x64", bun: "bun-darwin-x64", dawn: { package: "webgpu", file: "dist/darwin-universal/dawn.node" } },
  // Windows: dawn.node exports only its napi_* entry points and a DLL keeps no local symbols,
  // so the proc table is out of reach; bun-webgpu's DLL exports webgpu.h. No Dawn exists for
  // windows-arm64 (bun-webgpu has none; webgpu's is a .node like x64's): not built.
  { name: "win32-x64", bun: "bun-windows-x64", dawn: { package: "bun-webgpu-win32-x64", file: "webgpu_wrapper.dll" } },
];

export const HOST = TARGETS.find((t) => t.name === `${process.platform}-${process.arch}`);

export function binaryPath(target: Target, outDir = join(ROOT, "dist")): string {
  return join(outDir, `iflame-${target.name}${target.name.startsWith("win32") ? ".exe" : ""}`);
}

/** Where the host binary goes (what tests/binary.test.ts runs). */
export const BINARY = HOST ? binaryPath(HOST) : join(ROOT, "dist", `iflame-${process.platform}-${process.arch}`);

const pinned = manifest as { dependencies: Record<string, string>; optionalDependencies: Record<string, string> };

/** The version of a dependency that package.json pins. */
function pinnedVersion(pkg: string): string {
  const version = (pinned.optionalDependencies[pkg] ?? pinned.dependencies[pkg])?.replace(/^[\^~]/, "");
  if (!version) throw new Error(`${pkg} is not in package.json's dependencies`);
  return version;
}

/** A file of an npm package: from node_modules when installed, else unpacked from `npm pack` into build/packages/. */
export async function packageFile(pkg: string, file: string): Promise<string> {
  try {
    const installed = join(dirname(require.resolve(`${pkg}/package.json`)), file);
    if (existsSync(installed)) return installed;
  } catch {
    // Not installed here (another platform's optional dependency): fetch it below.
  }
  const version = pinnedVersion(pkg);
  const dir = join(ROOT, "build", "packages", `${pkg}-${version}`);
  const path = join(dir, "package", file);
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  const packed = await Bun.$`npm pack ${`${pkg}@${version}`} --silent --pack-destination ${dir}`.quiet().nothrow();
  const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
  if (packed.exitCode !== 0 || !tarball) throw new Error(`npm pack ${pkg}@${version} failed: ${packed.stderr.toString().trim().split("\n").pop()}`);
  await Bun.$`tar -xzf ${join(dir, tarball)} -C ${dir}`.quiet();
  if (!existsSync(path)) throw new Error(`${pkg}@${version} has no ${file}`);
  return path;
}

/** Builds `target`'s binary into `outDir` (default dist/) and returns its path. */
/** The version of an installed package, else the pinned one (what packageFile fetches). */
function installedVersion(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), "utf8")) as { version: string }).version;
  } catch {
    return pinnedVersion(pkg);
  }
}

export async function buildBinary(target: Target | undefined = HOST, outDir?: string): Promise<string> {
  if (!target) throw new Error(`no binary target for ${process.platform}-${process.arch}; targets: ${TARGETS.map((t) => t.name).join(", ")}`);
  await buildWasm();
  // Staged under a name that carries its package and version, which `iflame info` reports.
  const dawn = join(ROOT, "build", "embed", target.name, `${target.dawn.package}@${installedVersion(target.dawn.package)}-${basename(target.dawn.file)}`);
  mkdirSync(dirname(dawn), { recursive: true });
  copyFileSync(await packageFile(target.dawn.package, target.dawn.file), dawn);
  const outfile = binaryPath(target, outDir);
  const result = await Bun.build({
    entrypoints: [join(ROOT, "iflame.ts")],
    minify: true,
    sourcemap: "none",
    compile: { target: target.bun, outfile, assets: [dawn] },
  });
  if (!result.success) throw new Error(`bun build --compile --target=${target.bun} failed:\n${result.logs.join("\n")}`);
  return outfile;
}

if (import.meta.main) {
  const names = TARGETS.map((t) => t.name) as [string, ...string[]];
  const flags = parseScriptFlags("build", z.object({ target: z.enum(names).optional().describe("build only this one") }).strict(), process.argv.slice(2));
  for (const target of TARGETS.filter((t) => !flags.target || t.name === flags.target)) {
    const started = performance.now();
    const binary = await buildBinary(target);
    const mib = statSync(binary).size / 2 ** 20;
    console.log(`built ${relative(ROOT, binary)} (${mib.toFixed(1)} MiB, Dawn: ${target.dawn.package}/${target.dawn.file}) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}
