/**
 * The products of matmul.ts with f16 operands (f32 sums; f16 C except f32 weight gradients),
 * the 4096³ reference and every Linear product of the model: each on the f16 SIMT tiles (the
 * planner's choice) and on every tensor-core (subgroup-matrix) layout the device has (each with
 * the planner's K split for it), to refit the layouts' figures (LAYOUTS in
 * src/kernels/matmul-subgroup-matrix.ts: efficiency, fixedK, measuredFaster).
 *   bun scripts/bench/matmul-f16.ts [--peak 989e12] [--iterations 5] [--max-gflop G]
 * prints TFLOP/s and the share of `--peak` (FLOP/s; default an H200's dense f16 tensor peak),
 * then per product the SIMT figure beside each layout's, then per layout the figures that fit
 * its timings and on how many products it beat SIMT. `--max-gflop` skips larger products (a
 * dry run on a CPU adapter). Also a family of bench-kernels.ts:
 *   bun scripts/bench-kernels.ts matmul matmul-f16     (f32 rows for comparison)
 */
import { Gpu } from "../../src/gpu/runtime.ts";
import { planMatmul, planSeconds, TILES, type MatmulPlan } from "../../src/kernels/matmul.ts";
import { f16MatrixConfig, subgroupMatrixTiles } from "../../src/kernels/matmul-subgroup-matrix.ts";
import { formatTable, timeCase, type BenchCase, type BenchResult } from "./common.ts";
import { matmulCase, modelProducts } from "./matmul.ts";

/** "f16 SIMT 128×128" or "f16 sgmat 128×64×32 2×2 of 4×2" (+ " split s"). */
function planLabel({ tile, splits }: MatmulPlan): string {
  const l = tile.subgroupMatrix;
  const what = l ? `f16 sgmat ${tile.BM}×${tile.BN}×${tile.BK} ${l.SG_M}×${l.SG_N} of ${l.MAT_M}×${l.MAT_N}` : `f16 SIMT ${tile.BM}×${tile.BN}`;
  return `${what}${splits > 1 ? ` split ${splits}` : ""}`;
}

/** What each case ran (by case name), for fitting the cost model's figures. */
const ran = new Map<string, { M: number; N: number; K: number; plan: MatmulPlan }>();

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
      ran.set(`${name} — ${planLabel(plan)}`, { M, N, K, plan });
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

/**
 * The cost-model figures (Tile's efficiency and fixedK) that fit a tile's timings best: the model
 * (planSeconds) is t = c·(kChunk + fixedK) / efficiency + reduce, so (t − reduce) / c is linear in
 * kChunk with slope 1/efficiency and intercept fixedK/efficiency (least squares over the products).
 */
function fitFigures(rows: { M: number; N: number; K: number; plan: MatmulPlan; seconds: number }[]): { efficiency: number; fixedK: number } | null {
  const points = rows.map(({ M, N, K, plan, seconds }) => {
    const at = (efficiency: number, fixedK: number) => planSeconds(M, N, K, 1, { ...plan.tile, efficiency, fixedK }, plan.splits);
    const base = at(1, 0);
    const products = at(0.5, 0) - base; // c·kChunk
    const c = at(1, 1) - base;
    return { x: products / c, y: (seconds - (base - products)) / c };
  });
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n, my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  if (n < 2 || sxx === 0) return null;
  const slope = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
  const intercept = my - slope * mx;
  return slope > 0 ? { efficiency: 1 / slope, fixedK: intercept / slope } : null;
}

/** Per tensor-core layout: the fitted figures and on how many products it beat the SIMT plan. */
function refit(results: BenchResult[]): string {
  const simtMs = new Map<string, number>();
  for (const r of results) if (r.name.includes("— f16 SIMT")) simtMs.set(r.name.split(" — ")[0], r.ms);
  const byLayout = new Map<string, { rows: Parameters<typeof fitFigures>[0]; wins: number }>();
  for (const r of results) {
    const what = ran.get(r.name)!;
    if (!what.plan.tile.subgroupMatrix) continue;
    const layout = planLabel({ ...what.plan, splits: 1 });
    const entry = byLayout.get(layout) ?? { rows: [], wins: 0 };
    entry.rows.push({ ...what, seconds: r.ms / 1e3 });
    if (r.ms < (simtMs.get(r.name.split(" — ")[0]) ?? 0)) entry.wins++;
    byLayout.set(layout, entry);
  }
  return [...byLayout].map(([layout, { rows, wins }]) => {
    const fit = fitFigures(rows);
    const figures = fit ? `efficiency ${fit.efficiency.toPrecision(3)}, fixedK ${fit.fixedK.toFixed(0)}` : "no fit";
    return `${layout}: ${figures}; faster than SIMT on ${wins} of ${rows.length} products`;
  }).join("\n");
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
  console.log(`\nCost-model figures fitted per tensor-core layout (LAYOUTS in src/kernels/matmul-subgroup-matrix.ts):\n${refit(results)}`);
}
