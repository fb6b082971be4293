/**
 * The tensor-core tiles of matmul (wgsl/matmul-subgroup-matrix.wgsl): f16 A and B, f32 sums, on
 * devices with Dawn's subgroup-matrix feature and an f16 × f16 → f32 configuration (NVIDIA
 * through Vulkan cooperative matrices). matmul() adds these tiles to its plan when both
 * operands are f16 tensors; the rest (validation, split-K, the reduction) is matmul's.
 *
 * The first tile compiled picks the spelling of the matrix builtins this Dawn accepts
 * (subgroup-matrix-spelling.ts). If neither compiles, the device gets no tensor-core tiles and
 * `subgroupMatrixProblem` says why.
 */
import type { SubgroupMatrixConfig } from "../../ffi/webgpu.ts";
import type { ScalarType } from "../gpu/kernel.ts";
import type { Gpu, Kernel } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import type { Tile } from "./matmul.ts";
import { findSpelling, spellingFile, type Spelling } from "./subgroup-matrix-spelling.ts";

/**
 * How a workgroup's tile is cut: SG_M × SG_N subgroups, each MAT_M × MAT_N device matrices; the
 * epilogue writes EPI_N of a subgroup's matrices per strip (the most that fit workgroup memory).
 */
export interface SubgroupMatrixLayout {
  config: SubgroupMatrixConfig;
  spelling: Spelling;
  SG_M: number; SG_N: number;
  MAT_M: number; MAT_N: number;
  EPI_N: number;
  subgroupSize: number;
  /** GPU measurements showed this layout faster than the SIMT tiles (see LAYOUTS). */
  measuredFaster: boolean;
}

/**
 * Layouts offered to the planner, with the cost model's figures (see Tile in matmul.ts; here
 * `efficiency` is relative to the f32 SIMT 128×128 tile) and whether GPU measurements showed the
 * layout faster than the SIMT tiles (tensor-cores.ts: unmeasured or slower layouts run only
 * under IFLAME_TENSOR_CORES=force). The first kernel (scalar staging, 16×8×8 matrices, two
 * barriers per result matrix) measured 3–7 TFLOP/s on an H200 (docs/BENCHMARKS.md, 2026-12-05)
 * where f16 SIMT reached 33. This kernel (quad staging, 16×16×16 on NVIDIA, strip epilogue) is
 * unmeasured: the figures below are guesses that only order the layouts (larger tiles reuse
 * more) until scripts/bench/matmul-f16.ts has run on a GPU and they are refitted.
 */
const LAYOUTS = [
  { SG_M: 2, SG_N: 2, MAT_M: 2, MAT_N: 2, efficiency: 1, fixedK: 0, measuredFaster: false },
  { SG_M: 2, SG_N: 2, MAT_M: 4, MAT_N: 2, efficiency: 1.5, fixedK: 30, measuredFaster: false },
  { SG_M: 4, SG_N: 2, MAT_M: 2, MAT_N: 4, efficiency: 2, fixedK: 60, measuredFaster: false },
  { SG_M: 2, SG_N: 2, MAT_M: 4, MAT_N: 4, efficiency: 2, fixedK: 90, measuredFaster: false },
] as const;

/** k step: at least 32 deep, a multiple of the matrices' K (and so of 4, the staged quads). */
const MIN_BK = 32;

/** The device's f16 × f16 → f32 matrix shape (the largest, if several), or null. */
export function f16MatrixConfig(gpu: Gpu): SubgroupMatrixConfig | null {
  const configs = (gpu.features.subgroupMatrix ?? []).filter((c) => c.component === "f16" && c.result === "f32");
  return configs.sort((x, y) => y.M * y.N * y.K - x.M * x.N * x.K)[0] ?? null;
}

/** Workgroup memory of a tile: both staged operands (padded, worst transposition) and the epilogue's strips. */
function workgroupBytes(tile: Pick<Tile, "BM" | "BN" | "BK">, l: Omit<SubgroupMatrixLayout, "spelling" | "measuredFaster" | "subgroupSize">): number {
  const tileElements = (rows: number, cols: number) => Math.max(rows * (cols + 8), cols * (rows + 8));
  const staged = 2 * (tileElements(tile.BM, tile.BK) + tileElements(tile.BK, tile.BN));
  return staged + 4 * l.SG_M * l.SG_N * l.config.M * l.EPI_N * l.config.N;
}

const tilesByGpu = new WeakMap<Gpu, { tiles: Tile[]; problem: string | null }>();

/** Why a device that reports an f16 configuration gets no tiles (neither spelling compiled), or null. */
export function subgroupMatrixProblem(gpu: Gpu): string | null {
  subgroupMatrixTiles(gpu);
  return tilesByGpu.get(gpu)!.problem;
}

/** Flags of one product: matmul's, and whether A's and B's quads load as vec4s (see quadLoads). */
export interface SubgroupMatrixFlags {
  transA: boolean; transB: boolean; bias: boolean; accumulate: boolean;
  vecA: boolean; vecB: boolean;
}

/**
 * The tile of a layout on this device: BM × BN × BK with the widest epilogue strip that fits
 * workgroup memory, or null when none does (or the workgroup has too many threads).
 */
export function subgroupMatrixTile(
  gpu: Gpu, config: SubgroupMatrixConfig, cut: Omit<SubgroupMatrixLayout, "config" | "EPI_N" | "subgroupSize">, figures: Pick<Tile, "efficiency" | "fixedK">,
): (Tile & { subgroupMatrix: SubgroupMatrixLayout }) | null {
  const subgroupSize = gpu.dev.info.subgroupMaxSize;
  if (cut.SG_M * cut.SG_N * subgroupSize > gpu.limits.maxComputeInvocationsPerWorkgroup) return null;
  const shape = { BM: cut.SG_M * cut.MAT_M * config.M, BN: cut.SG_N * cut.MAT_N * config.N, BK: Math.ceil(MIN_BK / config.K) * config.K };
  for (let EPI_N = cut.MAT_N; EPI_N >= 1; EPI_N--) {
    const layout: SubgroupMatrixLayout = { ...cut, config, subgroupSize, EPI_N };
    if (cut.MAT_N % EPI_N === 0 && workgroupBytes(shape, layout) <= gpu.limits.maxComputeWorkgroupStorageSize) {
      return { ...shape, ...figures, subgroupMatrix: layout };
    }
  }
  return null;
}

/** The subgroup-matrix tiles this device can run (none without an f16 configuration). */
export function subgroupMatrixTiles(gpu: Gpu): Tile[] {
  const known = tilesByGpu.get(gpu);
  if (known) return known.tiles;
  const config = f16MatrixConfig(gpu);
  let tiles: (Tile & { subgroupMatrix: SubgroupMatrixLayout })[] = [];
  let problem: string | null = null;
  if (config && gpu.features.f16 && gpu.features.subgroups) {
    for (const { efficiency, fixedK, ...cut } of LAYOUTS) {
      const tile = subgroupMatrixTile(gpu, config, { ...cut, spelling: "bool argument" }, { efficiency, fixedK });
      if (tile) tiles.push(tile);
    }
    const first = tiles[0];
    const flags = { transA: false, transB: false, bias: false, accumulate: false, vecA: true, vecB: true };
    const found = first ? findSpelling("matmul", (spelling) => subgroupMatrixKernel(
      gpu, flags, { ...first, subgroupMatrix: { ...first.subgroupMatrix, spelling } }, { A_T: "f16", B_T: "f16", C_T: "f32" },
    )) : { spelling: "bool argument" as const };
    if ("spelling" in found) {
      for (const t of tiles) t.subgroupMatrix.spelling = found.spelling;
    } else {
      problem = found.problem;
      tiles = [];
      console.error(`matmul: no tensor-core tiles: ${problem}`);
    }
  }
  tilesByGpu.set(gpu, { tiles, problem });
  return tiles;
}

/**
 * Whether A's and B's quads (4 neighbours along the stored rows) load as single vec4s: where the
 * stored row length and the batch stride are multiples of 4 and the tensor starts 8-byte
 * aligned, every quad is aligned and lies wholly inside or outside the matrix.
 */
export function quadLoads(o: {
  a: Tensor; b: Tensor; M: number; N: number; K: number; transA: boolean; transB: boolean; batch: number; strideA: number; strideB: number;
}): { vecA: boolean; vecB: boolean } {
  const aligned = (t: Tensor, row: number, stride: number) => row % 4 === 0 && (o.batch === 1 || stride % 4 === 0) && t.offset % 8 === 0;
  return { vecA: aligned(o.a, o.transA ? o.M : o.K, o.strideA), vecB: aligned(o.b, o.transB ? o.K : o.N, o.strideB) };
}

/** The kernel of a subgroup-matrix tile; `types` as matmul's (A_T = B_T = f16). */
export function subgroupMatrixKernel(
  gpu: Gpu, flags: SubgroupMatrixFlags, tile: Tile & { subgroupMatrix: SubgroupMatrixLayout }, types: { A_T: ScalarType; B_T: ScalarType; C_T: ScalarType },
): Kernel {
  const l = tile.subgroupMatrix;
  if (types.A_T !== l.config.component || types.B_T !== l.config.component) {
    throw new Error(`matmul: a subgroup-matrix tile multiplies ${l.config.component} operands, got ${types.A_T} and ${types.B_T}`);
  }
  return gpu.kernel({
    file: spellingFile("matmul-subgroup-matrix", l.spelling), entry: "matmul",
    constants: {
      TRANS_A: flags.transA, TRANS_B: flags.transB, BIAS: flags.bias, ACCUMULATE: flags.accumulate, VEC_A: flags.vecA, VEC_B: flags.vecB,
      SM_M: l.config.M, SM_N: l.config.N, SM_K: l.config.K,
      SG_M: l.SG_M, SG_N: l.SG_N, MAT_M: l.MAT_M, MAT_N: l.MAT_N, EPI_N: l.EPI_N, BK: tile.BK, SUBGROUP_SIZE: l.subgroupSize,
    },
    types: { ...types, A_S: flags.vecA ? `vec4<${types.A_T}>` : types.A_T, B_S: flags.vecB ? `vec4<${types.B_T}>` : types.B_T },
  });
}
