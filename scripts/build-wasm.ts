/**
 * Builds asm/tokenizer.ts (and the asm/ modules it imports) into build/tokenizer.wasm with
 * AssemblyScript in release mode; does nothing when the output is newer than every asm source.
 *   bun scripts/build-wasm.ts [--force]
 *
 * The module uses raw loads and stores on its own arena, so the stub runtime (no GC) fits, and
 * `--noAssert` / `abort=` leave nothing to import: the host instantiates it with no imports.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const ASM_DIR = join(ROOT, "asm");
const ENTRY = join(ASM_DIR, "tokenizer.ts");

/** Where the tokenizer's WASM lives; src/tokenizer loads it from here. */
export const TOKENIZER_WASM = join(ROOT, "build", "tokenizer.wasm");

function newestSourceTime(): number {
  return Math.max(
    ...readdirSync(ASM_DIR)
      .filter((name) => name.endsWith(".ts") || name.endsWith(".json"))
      .map((name) => statSync(join(ASM_DIR, name)).mtimeMs),
  );
}

/**
 * asc's programmatic entry, typed here by hand: asc's own .d.ts declares a global
 * `require(name): unknown` that would hide Node's `require.resolve` from the whole project,
 * so the module name goes through a variable and TypeScript never loads those types.
 */
interface AssemblyScriptCompiler {
  main(argv: string[], options: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<{ error: Error | null }>;
}
const ASC_MODULE = "assemblyscript/asc";

/** Returns true when it compiled, false when the output was already up to date. */
export async function buildWasm(force = false): Promise<boolean> {
  if (!force && existsSync(TOKENIZER_WASM) && statSync(TOKENIZER_WASM).mtimeMs > newestSourceTime()) return false;
  mkdirSync(dirname(TOKENIZER_WASM), { recursive: true });
  const asc = (await import(ASC_MODULE)).default as AssemblyScriptCompiler;
  const { error } = await asc.main([
    ENTRY,
    "--outFile", TOKENIZER_WASM,
    "-O3",
    "--runtime", "stub",
    "--noAssert",
    "--use", "abort=",
  ], { stdout: process.stdout, stderr: process.stderr });
  if (error) throw new Error(`asc failed on ${relative(ROOT, ENTRY)}: ${error.message}`);
  return true;
}

if (import.meta.main) {
  const built = await buildWasm(process.argv.includes("--force"));
  console.log(built ? `built ${relative(ROOT, TOKENIZER_WASM)}` : `${relative(ROOT, TOKENIZER_WASM)} is up to date`);
}
