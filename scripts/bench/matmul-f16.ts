/**
 * The products of matmul.ts with f16 operands (f32 sums; f16 C except f32 weight gradients),
 * the 4096³ reference and every Linear product of the model: each on the f16 SIMT tiles (the
 * planner's choice) and on every tensor-core (subgroup-matrix) layout the device has (each with
 * the planner's K split for it), to refit the layouts' figures (LAYOUTS in
 * src/kernels/matmul-subgroup-matrix.ts: efficiency, fixedK, measuredFaster).
 *   bun scripts/bench/matmul-f16.ts [--peak 989e12] [--iterations 5] [--max-gflop G]
 * prints TFLOP/s and the share of `--peak` (FLOP/s; default an H200's dense f16 tensor peak),
 * then per product the SIMT figure beside each layout's. `--max-gflop` skips larger products
 * (a dry run on a CPU adapter). Also a family of bench-kernels.ts:
 *   bun scripts/bench-kernels.ts matmul matmul-f16     (f32 rows for comparison)
 */
import { Gpu } from "../../src/gpu/runtime.ts";
import { planMatmul, TILES, type MatmulPlan } from "../../src/kernels/matmul.ts";
import { f16MatrixConfig, subgroupMatrixTiles } from "../../src/kernels/matmul-subgroup-matrix.ts";
import { formatTable, timeCase, type BenchCase, type BenchResult } from "./common.ts";
import { matmulCase, modelProducts } from "./matmul.ts";

/** "f16 SIMT 128×128" or "f16 sgmat 128×64×32 2×2 of 4×2" (+ " split s"). */
function planLabel({ tile, splits }: MatmulPlan): string {
  const l = tile.subgroupMatrix;
  const what = l ? `f16 sgmat ${tile.BM}×${tile.BN}×${tile.BK} ${l.SG_M}×${l.SG_N} of ${l.MAT_M}×${l.MAT_N}` : `f16 SIMT ${tile.BM}×${tile.BN}`;
  return `${what}${splits > 1 ? ` split ${splits}` : ""}`;
}

export function benchCases(gpu: Gpu, maxFlops = Infinity): BenchCase[] {
  const matrixTiles = subgroupMatrixTiles(gpu);
  if (matrixTiles.length === 0) {
    console.error(`matmul-f16: no tensor-core rows: the device has no f16 × f16 → f32 subgroup-matrix configuration (${JSON.stringify(gpu.features.subgroupMatrix)})`);
  } else {
    console.error(`matmul-f16: subgroup matrices ${JSON.stringify(f16MatrixConfig(gpu))}`);
  }
  const cases: BenchCase[] = [];
  for (const { name, M, N, K, opts } of modelProducts().filter((p) => 2 * p.M * p.N * p.K <= maxFlops)) {
    for (const plan of [planMatmul(M, N, K, 1, TILES), ...matrixTiles.map((tile) => planMatmul(M, N, K, 1, [tile]))]) {
      cases.push(matmulCase(gpu, `${name} — ${planLabel(plan)}`, M, N, K, opts, plan, "f16"));
    }
  }
  return cases;
}

/** Per product: SIMT TFLOP/s, then each layout's and its ratio to SIMT. */
function comparison(results: BenchResult[], peakTflops: number): string {
  const byProduct = new Map<string, BenchResult[]>();
  for (const r of results) {
    const key = `${r.name.split(" — ")[0]} ${r.shape}`;
    byProduct.set(key, [...(byProduct.get(key) ?? []), r]);
  }
  const lines = [...byProduct].map(([product, rows]) => {
    const simt = rows.find((r) => r.name.includes("— f16 SIMT"));
    const cells = rows.map((r) => `${r.name.split(" — ")[1]}: ${r.tflops.toPrecision(3)} (${((100 * r.tflops) / peakTflops).toFixed(1)}%${simt && r !== simt ? `, ${(r.tflops / simt.tflops).toFixed(2)}× SIMT` : ""})`);
    return `${product}\n  ${cells.join("\n  ")}`;
  });
  return lines.join("\n");
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const flag = (name: string, fallback: number) => {
    const i = args.indexOf(name);
    const v = i >= 0 ? Number(args[i + 1]) : fallback;
    if (!Number.isFinite(v) || v <= 0) throw new Error(`matmul-f16: ${name} ${args[i + 1]} is not a positive number`);
    return v;
  };
  const peak = flag("--peak", 989e12);
  const iterations = flag("--iterations", 5);
  const maxFlops = flag("--max-gflop", Infinity) * 1e9;
  const gpu = Gpu.get();
  console.log(gpu.describe());
  const results: BenchResult[] = [];
  for (const c of benchCases(gpu, maxFlops)) {
    try {
      results.push(timeCase(gpu, c, iterations));
      const r = results.at(-1)!;
      console.error(`${r.name} ${r.shape}: ${r.ms.toFixed(3)} ms, ${r.tflops.toFixed(1)} TFLOP/s`);
    } catch (e) {
      console.error(`${c.name} ${c.shape}: failed: ${(e as Error).message.split("\n")[0]}`);
    } finally {
      c.dispose?.();
    }
  }
  const peakTflops = peak / 1e12;
  console.log(formatTable(results, { tflops: peakTflops, name: `${peakTflops.toFixed(0)} TFLOP/s` }));
  console.log(`\nTFLOP/s (share of ${peakTflops.toFixed(0)} TFLOP/s) per product:\n${comparison(results, peakTflops)}`);
}
