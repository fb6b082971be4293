/**
 * The products of matmul.ts with f16 operands (f32 sums; f16 C except f32 weight gradients):
 * each on the SIMT tiles, on the tensor-core (subgroup-matrix) tiles where the device has them,
 * and the 4096³ product on every tensor-core tile (to refit their cost-model figures).
 *   bun scripts/bench-kernels.ts matmul matmul-f16     (f32 rows for comparison)
 */
import type { Gpu } from "../../src/gpu/runtime.ts";
import { planMatmul, TILES } from "../../src/kernels/matmul.ts";
import { f16MatrixConfig, subgroupMatrixTiles } from "../../src/kernels/matmul-subgroup-matrix.ts";
import type { BenchCase } from "./common.ts";
import { matmulCase, modelProducts } from "./matmul.ts";

export function benchCases(gpu: Gpu): BenchCase[] {
  const matrixTiles = subgroupMatrixTiles(gpu);
  if (matrixTiles.length === 0) {
    console.error(`matmul-f16: no tensor-core rows: the device has no f16 × f16 → f32 subgroup-matrix configuration (${JSON.stringify(gpu.features.subgroupMatrix)})`);
  } else {
    console.error(`matmul-f16: subgroup matrices ${JSON.stringify(f16MatrixConfig(gpu))}`);
  }
  const cases: BenchCase[] = [];
  for (const { name, M, N, K, opts } of modelProducts()) {
    cases.push(matmulCase(gpu, `${name} f16 SIMT`, M, N, K, opts, planMatmul(M, N, K, 1, TILES), "f16"));
    if (matrixTiles.length) cases.push(matmulCase(gpu, `${name} f16 sgmat`, M, N, K, opts, planMatmul(M, N, K, 1, matrixTiles), "f16"));
  }
  for (const tile of matrixTiles) {
    cases.push(matmulCase(gpu, `matmul A·B f16 sgmat ${tile.BM}×${tile.BN}×${tile.BK}`, 4096, 4096, 4096, {}, { tile, splits: 1, kChunk: 4096 }, "f16"));
  }
  return cases;
}
