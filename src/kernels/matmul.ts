/**
 * Matrix products and Linear layers (wgsl/matmul.wgsl). Row-major; A, B and C may each be f32
 * or f16 (mixed precision: f16 weights and activations), products sum in f32, bias is f32.
 *
 *   matmul:  C[M, N] = op(A) · op(B) (+ bias[N]) (+ C with `accumulate`)
 *            op(A) = A stored [M, K], or with transA the transpose of A stored [K, M];
 *            op(B) = B stored [K, N], or with transB the transpose of B stored [N, K].
 *   Linear:  x [rows, in], W [out, in] (torch layout), b [out], y [rows, out]: y = x·Wᵀ + b.
 *
 * The tile shape is picked per product from TILES by a small cost model (wave count × tile work
 * / tile efficiency); products with few output tiles and a long K are split along K into a
 * workspace and summed by a second, fixed-order pass (deterministic, no atomics). With f16 A and
 * B on a device with subgroup matrices, the tensor-core tiles of matmul-subgroup-matrix.ts join
 * the candidates.
 */
import { grid1d, type Gpu, type Recorder } from "../gpu/runtime.ts";
import type { ScalarType } from "../gpu/kernel.ts";
import { checkTensorSizes, lastDim, rowsOf, type Tensor } from "../gpu/tensor.ts";
import { quadLoads, subgroupMatrixKernel, subgroupMatrixTiles, type SubgroupMatrixLayout } from "./matmul-subgroup-matrix.ts";
import { tensorCores, useTensorCores } from "./tensor-cores.ts";

export interface Matmul {
  /** [M, K], or [K, M] with transA; batched: [.., M, K] (the last two axes give the sizes). */
  a: Tensor;
  /** [K, N], or [N, K] with transB. */
  b: Tensor;
  /** [M, N] (any shape of at least M·N elements per item). */
  out: Tensor;
  transA?: boolean;
  transB?: boolean;
  /** [N], added to every row of C. */
  bias?: Tensor;
  /** C += op(A)·op(B) instead of C = … (gradient accumulation). */
  accumulate?: boolean;
  /** Independent products; item i reads A + i·strideA, B + i·strideB and writes C + i·strideC. */
  batch?: number;
  /** Element strides between batch items; default packed (M·K, K·N, M·N). */
  strideA?: number;
  strideB?: number;
  strideC?: number;
  /**
   * M, N, K when the tensors' shapes cannot give them: a strided batch, whose items sit apart in
   * flat tensors. Otherwise they come from the last two axes of a and b.
   */
  sizes?: { M: number; N: number; K: number };
  /** Overrides the tile choice (benchmarks). */
  plan?: MatmulPlan;
  label?: string;
}

/**
 * A workgroup's output tile BM×BN and its k step BK; each thread computes an 8×8 block, so a
 * workgroup has (BM/8)·(BN/8) threads. The cost model's figures, fitted to H100/H200 timings
 * (scripts/bench/matmul.ts): `efficiency`, FMA throughput on long K relative to the best tile,
 * and `fixedK`, the per-workgroup overhead (loads before the first product, the stores of C)
 * in units of k steps, which makes small tiles win on short K.
 */
export interface Tile {
  BM: number; BN: number; BK: number;
  efficiency: number;
  fixedK: number;
  /** Set for a tensor-core tile (wgsl/matmul-subgroup-matrix.wgsl); SIMT (wgsl/matmul.wgsl) otherwise. */
  subgroupMatrix?: SubgroupMatrixLayout;
}

/** Workgroup memory: BK·(BM+BN+8)·4 bytes, ≤ 8.3 KiB. */
export const TILES: readonly Tile[] = [
  { BM: 128, BN: 128, BK: 8, efficiency: 1, fixedK: 90 },
  { BM: 64, BN: 128, BK: 8, efficiency: 0.85, fixedK: 30 },
  { BM: 128, BN: 64, BK: 8, efficiency: 0.82, fixedK: 30 },
  { BM: 64, BN: 64, BK: 8, efficiency: 0.74, fixedK: 0 },
  { BM: 32, BN: 32, BK: 8, efficiency: 0.3, fixedK: 0 },
];

/** The cost model's machine: an H100 (132 SMs, 67 TFLOP/s f32, 3.35 TB/s). */
const SMS = 132;
const FLOPS_PER_SM = 67e12 / SMS;
const BYTES_PER_SECOND = 3.35e12;
/** Fixed cost of one more dispatch (the split-K reduction), in seconds. */
const DISPATCH_SECONDS = 5e-6;
/** Workspace for split-K and column-sum partials, allocated once per device on first use. */
const WORKSPACE_ELEMENTS = 1 << 22;
const MAX_SPLITS = 32;

export interface MatmulPlan {
  tile: Tile;
  splits: number;
  /** K per split, a multiple of tile.BK. */
  kChunk: number;
}

/**
 * Estimated seconds of `tile` with `splits` K ranges: the busiest SM runs ceil(groups / SMS)
 * workgroups (sharing its throughput while resident together), plus the reduction. A single
 * workgroup cannot hide its own latencies: an SM holding only one is counted as 1.5 (measured:
 * 132 workgroups of 128×128 took 0.73 of the time of 264).
 */
export function planSeconds(M: number, N: number, K: number, batch: number, tile: Tile, splits: number): number {
  const kChunk = Math.ceil(K / splits);
  const groups = Math.ceil(M / tile.BM) * Math.ceil(N / tile.BN) * batch * splits;
  const groupSeconds = (2 * tile.BM * tile.BN * (Math.max(kChunk, tile.BK) + tile.fixedK)) / (FLOPS_PER_SM * tile.efficiency);
  const reduce = splits > 1 ? DISPATCH_SECONDS + ((splits + 1) * M * N * 4) / BYTES_PER_SECOND : 0;
  return Math.max(Math.ceil(groups / SMS), 1.5) * groupSeconds + reduce;
}

/**
 * The tile (of `tiles`) and K split for a product of these sizes with the least estimated time;
 * only unbatched products are split.
 */
export function planMatmul(M: number, N: number, K: number, batch = 1, tiles: readonly Tile[] = TILES): MatmulPlan {
  let best: MatmulPlan | null = null;
  let bestSeconds = Infinity;
  for (const tile of tiles) {
    const maxSplits = batch > 1 ? 1 : Math.min(MAX_SPLITS, Math.floor(WORKSPACE_ELEMENTS / (M * N)), Math.ceil(K / (8 * tile.BK)));
    for (let s = 1; s <= Math.max(1, maxSplits); s++) {
      const kChunk = Math.ceil(Math.ceil(K / s) / tile.BK) * tile.BK;
      const splits = Math.max(1, Math.ceil(K / kChunk));
      if (splits !== s) continue;
      const seconds = planSeconds(M, N, K, batch, tile, splits);
      if (seconds < bestSeconds) {
        bestSeconds = seconds;
        best = { tile, splits, kChunk };
      }
    }
  }
  return best!;
}

/** Rows per first-stage chunk of columnSums. */
const COLSUM_ROWS = 512;

const workspaces = new WeakMap<Gpu, Tensor>();

function workspace(gpu: Gpu): Tensor {
  let w = workspaces.get(gpu);
  if (!w) {
    w = gpu.tensor([WORKSPACE_ELEMENTS], "f32", "matmul workspace");
    workspaces.set(gpu, w);
  }
  return w;
}

/** Element types of a dispatch's a, b and c bindings. */
type MatmulTypes = { A_T: ScalarType; B_T: ScalarType; C_T: ScalarType };

/** The types of these tensors' elements as bound (f32 or f16), or an error naming the first other one. */
function floatTypes(op: string, t: { a: Tensor; b: Tensor; c: Tensor; bias?: Tensor }): MatmulTypes {
  for (const [name, x] of Object.entries(t)) {
    if (x && !(x.dtype === "f32" || (x.dtype === "f16" && name !== "bias"))) throw new Error(`${op}: ${name} (${x.label}) is ${x.dtype}, expected f32${name === "bias" ? "" : " or f16"}`);
  }
  return { A_T: t.a.dtype as ScalarType, B_T: t.b.dtype as ScalarType, C_T: t.c.dtype as ScalarType };
}

/**
 * The tiles a product of these types may use. With both operands f16 the device's tensor-core
 * tiles join them as tensorCores() allows: only those under "force", those measured faster than
 * SIMT under "measured" (none yet: see LAYOUTS in matmul-subgroup-matrix.ts).
 */
function tilesFor(gpu: Gpu, types: MatmulTypes): readonly Tile[] {
  if (types.A_T !== "f16" || types.B_T !== "f16") return TILES;
  const matrixTiles = subgroupMatrixTiles(gpu);
  if (matrixTiles.length && tensorCores() === "force") return matrixTiles;
  return [...TILES, ...matrixTiles.filter((t) => useTensorCores({ measuredFaster: t.subgroupMatrix!.measuredFaster }))];
}

/** Flags of a product; `vecA`/`vecB` (quadLoads) matter only to the tensor-core kernel. */
type KernelFlags = { transA: boolean; transB: boolean; bias: boolean; accumulate: boolean; vecA?: boolean; vecB?: boolean };

function matmulKernel(gpu: Gpu, entry: string, f: KernelFlags, tile: Tile, types: MatmulTypes) {
  if (entry === "matmul" && tile.subgroupMatrix) {
    return subgroupMatrixKernel(gpu, { ...f, vecA: !!f.vecA, vecB: !!f.vecB }, { ...tile, subgroupMatrix: tile.subgroupMatrix }, types);
  }
  return gpu.kernel({
    file: "matmul.wgsl", entry,
    constants: {
      TRANS_A: f.transA, TRANS_B: f.transB, BIAS: f.bias, ACCUMULATE: f.accumulate,
      BM: tile.BM, BN: tile.BN, BK: tile.BK,
    },
    types,
  });
}

/** M, N, K from the last two axes of a and b. */
function shapeSizes(a: Tensor, b: Tensor, transA: boolean, transB: boolean): { M: number; N: number; K: number } {
  const dims = (name: string, t: Tensor) => [t.shape[t.shape.length - 2], lastDim("matmul", name, t)];
  const [a0, a1] = dims("a", a);
  const [b0, b1] = dims("b", b);
  const [M, K] = transA ? [a1, a0] : [a0, a1];
  const [Kb, N] = transB ? [b1, b0] : [b0, b1];
  if (K !== Kb) throw new Error(`matmul: a [${a.shape}]${transA ? "ᵀ" : ""} and b [${b.shape}]${transB ? "ᵀ" : ""} do not chain`);
  return { M, N, K };
}

/**
 * Records C = op(A)·op(B) (see the module comment); M, N, K come from the last two axes of a and
 * b. Reads a, b (and bias); writes out, or reads and writes it with `accumulate`. out must not
 * share a buffer with a, b or bias.
 */
export function matmul(r: Recorder, o: Matmul): void {
  const { a, b, out: c, transA = false, transB = false, bias, accumulate = false, batch = 1 } = o;
  const { M, N, K } = o.sizes ?? shapeSizes(a, b, transA, transB);
  const { strideA = M * K, strideB = K * N, strideC = M * N } = o;
  for (const [name, v] of Object.entries({ M, N, K, batch, strideA, strideB, strideC })) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`matmul: ${name}=${v} is not a non-negative integer`);
  }
  if (M === 0 || N === 0 || batch === 0) return;
  checkTensorSizes("matmul", {
    A: [a, (batch - 1) * strideA + M * K], B: [b, (batch - 1) * strideB + K * N], C: [c, (batch - 1) * strideC + M * N], bias: [bias ?? a, bias ? N : 0],
  });

  const types = floatTypes("matmul", { a, b, c, bias });
  const { tile, splits, kChunk } = o.plan ?? planMatmul(M, N, K, batch, tilesFor(r.gpu, types));
  if (splits > 1 && batch > 1) throw new Error("matmul: split-K plans are for unbatched products");
  const quads = tile.subgroupMatrix ? quadLoads({ a, b, M, N, K, transA, transB, batch, strideA, strideB }) : {};
  const kernel = (entry: string, withBias: boolean, withAccumulate: boolean, t: MatmulTypes) =>
    matmulKernel(r.gpu, entry, { transA, transB, bias: withBias, accumulate: withAccumulate, ...quads }, tile, t);
  const grid: [number, number, number] = [Math.ceil(N / tile.BN), Math.ceil(M / tile.BM), batch * splits];
  const params = (strideOut: number, row = 0) => ({ u32: [M, N, K, strideA, strideB, strideOut, splits, kChunk, row] });
  const shape = () =>
    `${transA ? "T" : "N"}${transB ? "T" : "N"} ${batch > 1 ? `${batch}× ` : ""}${M}×${N}×${K} ${tile.BM}×${tile.BN}${tile.subgroupMatrix ? " sgmat" : ""}` +
    `${types.A_T === "f32" && types.B_T === "f32" && types.C_T === "f32" ? "" : ` ${types.A_T}·${types.B_T}→${types.C_T}`}` +
    `${splits > 1 ? ` split ${splits}` : ""}${accumulate ? " acc" : ""}`;
  r.span(o.label ?? "matmul", shape, () => {
    if (splits === 1) {
      r.dispatch(kernel("matmul", !!bias, accumulate, types), [a, b, bias ?? a, c], grid, params(strideC));
      return;
    }
    // Partial products of each K range into the workspace, then C = Σ partials (+ bias) (+ C).
    const partials = workspace(r.gpu);
    checkTensorSizes("matmul", { "split-K workspace": [partials, splits * M * N] });
    r.dispatch(kernel("matmul", false, false, { ...types, C_T: "f32" }), [a, b, a, partials], grid, params(M * N));
    const { workgroups, row } = grid1d(M * N, 256);
    r.dispatch(kernel("reduce_splits", !!bias, accumulate, { A_T: "f32", B_T: "f32", C_T: types.C_T }), [partials, bias ?? partials, c], workgroups, params(M * N, row));
  });
}

/**
 * out[col] (+)= Σ_row x[row, col] for x [rows, cols] with cols = out.size (the bias gradient), in
 * a fixed order: partial sums over chunks of rows into the workspace, then their sum. Reads x;
 * writes out, or adds into it with `accumulate`.
 */
export function columnSums(r: Recorder, o: { x: Tensor; out: Tensor; accumulate?: boolean; label?: string }): void {
  const { x, out, accumulate = false } = o;
  const cols = out.size;
  if (cols === 0) return;
  const rows = rowsOf("columnSums", "x", x, cols);
  const chunks = Math.max(1, Math.min(Math.ceil(rows / COLSUM_ROWS), Math.floor(WORKSPACE_ELEMENTS / cols)));
  const rowsPerChunk = Math.max(1, Math.ceil(rows / chunks));
  const used = Math.max(1, Math.ceil(rows / rowsPerChunk));
  const partials = workspace(r.gpu);
  const flags = { transA: false, transB: false, bias: false, accumulate: false };
  const types = floatTypes("columnSums", { a: x, b: x, c: out });
  const params = (M: number, N: number, splits: number, row: number) => ({ u32: [M, N, 0, 0, 0, 0, splits, rowsPerChunk, row] });
  r.span(o.label ?? "matmul", () => `column sums ${rows}×${cols}`, () => {
    r.dispatch(matmulKernel(r.gpu, "colsum_partials", flags, TILES[0], { ...types, C_T: "f32" }), [x, partials], [Math.ceil(cols / 64), used], params(rows, cols, 1, 0));
    const { workgroups, row } = grid1d(cols, 256);
    r.dispatch(matmulKernel(r.gpu, "reduce_splits", { ...flags, accumulate }, TILES[0], { A_T: "f32", B_T: "f32", C_T: types.C_T }), [partials, partials, out], workgroups, params(1, cols, used, row));
  });
}

export interface LinearForward {
  /** [rows, in] (any shape of whole rows). */
  x: Tensor;
  /** [out, in] (torch layout). */
  weight: Tensor;
  bias?: Tensor;
  /** [rows, out]. */
  y: Tensor;
  /** y += … (a residual already copied into y). */
  accumulate?: boolean;
  label?: string;
}

/** y = x · weightᵀ (+ bias), or y += … with `accumulate`. Reads x, weight, bias; writes y. */
export function linearForward(r: Recorder, o: LinearForward): void {
  const inF = lastDim("linearForward", "weight", o.weight);
  const rows = rowsOf("linearForward", "x", o.x, inF);
  matmul(r, { a: o.x.reshape([rows, inF]), b: o.weight, out: o.y, transB: true, bias: o.bias, accumulate: o.accumulate, label: o.label });
}

export interface LinearBackward {
  /** The forward's input [rows, in] and weight [out, in]. */
  x: Tensor;
  weight: Tensor;
  /** [rows, out]. */
  dy: Tensor;
  /** [rows, in], overwritten; skipped when absent. */
  dx?: Tensor;
  dweight: Tensor;
  /** Skipped when absent (fixed-order column sums). */
  dbias?: Tensor;
  /** dweight and dbias += instead of =. */
  accumulate?: boolean;
  label?: string;
}

/**
 * Backward of linearForward:
 *   dx = dy · weight,  dweight (+)= dyᵀ · x,  dbias (+)= Σ_rows dy.
 * Reads x, weight, dy.
 */
export function linearBackward(r: Recorder, o: LinearBackward): void {
  const inF = lastDim("linearBackward", "weight", o.weight);
  const outF = o.weight.size / inF;
  const rows = rowsOf("linearBackward", "x", o.x, inF);
  const dy = o.dy.reshape([rows, outF]);
  const x = o.x.reshape([rows, inF]);
  const { accumulate, label } = o;
  if (o.dx) matmul(r, { a: dy, b: o.weight, out: o.dx, label });
  matmul(r, { a: dy, b: x, out: o.dweight, transA: true, accumulate, label });
  if (o.dbias) columnSums(r, { x: dy, out: o.dbias, accumulate, label });
}
