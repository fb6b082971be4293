/**
 * Times every kernel family at the ShapeNet shapes (B=8, L=6921, dim 512, hidden 1365, 16 heads)
 * and prints one table: ms, TFLOP/s, GB/s and the share of the card's peak.
 *   bun scripts/bench-kernels.ts [family ...] [--iterations N]
 * Families are the modules in scripts/bench/ (matmul, attention, linear-attention, layers, optim).
 * Peaks default to the H100's f32 figures; set IFLAME_PEAK_TFLOPS / IFLAME_PEAK_GBPS for others.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Gpu } from "../src/gpu/runtime.ts";
import { formatTable, timeCase, type BenchCase, type BenchResult } from "./bench/common.ts";

const args = process.argv.slice(2);
const itIndex = args.indexOf("--iterations");
const iterations = itIndex >= 0 ? Number(args[itIndex + 1]) : 10;
const wanted = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--iterations");
const dir = join(import.meta.dir, "bench");
const families = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "common.ts")
  .map((f) => f.replace(/\.ts$/, ""))
  .filter((f) => wanted.length === 0 || wanted.includes(f));

const gpu = Gpu.get();
console.log(gpu.describe());
const results: BenchResult[] = [];
for (const family of families) {
  const mod = (await import(join(dir, `${family}.ts`))) as { benchCases(gpu: Gpu): BenchCase[] };
  for (const c of mod.benchCases(gpu)) {
    try {
      results.push(timeCase(gpu, c, iterations));
      const r = results.at(-1)!;
      console.error(`${r.name} ${r.shape}: ${r.ms.toFixed(3)} ms`);
    } catch (e) {
      console.error(`${c.name} ${c.shape}: failed: ${(e as Error).message.split("\n")[0]}`);
    } finally {
      c.dispose?.();
    }
  }
}
console.log(formatTable(results));
