/**
 * The projections of a decoding step over its few rows (one position per sequence), each one
 * dispatch: wgsl/rows-gemv.wgsl's shared core (every output column's dot products summed by a
 * fixed tree of threads, the input's RMSNorm folded in) extended by rows-linear.wgsl,
 * rows-qkv-rope.wgsl and rows-swiglu-up.wgsl (each includes rows-gemv.wgsl). At B ≤ 64 rows the general matmul (kernels/matmul.ts)
 * needs a tile of rows it mostly leaves empty, often a split-K reduction dispatch after it, and a
 * separate dispatch for each norm, RoPE, cache copy and gate: a decoding step was bound by the count
 * of dispatches, not by the GPU. CPU references: src/cpu/rows-gemv.ts.
 *
 * Layouts: rows are contiguous, x [rows, K]; weights are stored [out, in] (a Linear's layout).
 * Weights may be f32 or f16 (all of one call alike: half the bytes a step reads, summed in f32);
 * everything else is f32.
 */
import type { Recorder } from "../gpu/runtime.ts";
import { checkTensorSizes, lastDim, rowsOf, type Tensor } from "../gpu/tensor.ts";
import { RMSNORM_EPS } from "../model/constants.ts";
import { ropeTables } from "../model/tables.ts";

/** Workgroups wanted per dispatch: two per SM of a 132-SM H100, so one row alone still fills it. */
const MIN_GROUPS = 264;

export type ColumnsPerGroup = 2 | 4 | 8;

/**
 * Output columns per workgroup for a product with `columns` of them: as many as still leave
 * MIN_GROUPS workgroups (fewer, longer lane walks and a shorter sum tree), at least 2.
 */
export function columnsPerGroup(columns: number): ColumnsPerGroup {
  for (const c of [8, 4] as const) if (Math.ceil(columns / c) >= MIN_GROUPS) return c;
  return 2;
}

/** What every rows kernel takes: `cols` overrides columnsPerGroup (tests run each). */
interface RowsOptions {
  cols?: ColumnsPerGroup;
  label?: string;
}

function checkSizes(op: string, sizes: Record<string, number>, tensors: Record<string, [Tensor, number]>): void {
  for (const [name, n] of Object.entries(sizes)) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`${op}: ${name} = ${n} is not a positive integer`);
  }
  checkTensorSizes(op, tensors);
}

/** The weights' element type (W_T): f32 or f16, the same for every weight of the call. */
function weightType(op: string, weights: Record<string, Tensor>): "f32" | "f16" {
  const [first, ...rest] = Object.entries(weights);
  const dtype = first[1].dtype;
  if (dtype !== "f32" && dtype !== "f16") throw new Error(`${op}: ${first[0]} (${first[1].label}) is ${dtype}, expected f32 or f16`);
  for (const [name, t] of rest) if (t.dtype !== dtype) throw new Error(`${op}: ${name} (${t.label}) is ${t.dtype}, expected ${dtype} like ${first[0]}`);
  return dtype;
}

function kernel(
  r: Recorder, file: string, entry: string, constants: Record<string, number | boolean>, K: number, rows: number, cols: ColumnsPerGroup, norm: boolean, W_T: "f32" | "f16",
) {
  return r.gpu.kernel({ file, entry, constants: { ...constants, K, ROWS: rows, COLS: cols, NORM: norm, EPS: { f32: RMSNORM_EPS } }, types: { W_T } });
}

export interface RowsLinear extends RowsOptions {
  /** [rows, K]. */
  x: Tensor;
  /** [N, K]. */
  weight: Tensor;
  /** [N]. */
  bias?: Tensor;
  /** [K]: normalise x first (RMSNorm with this weight). */
  normWeight?: Tensor;
  /** [rows, N]. */
  y: Tensor;
  /** y += instead of y =. */
  accumulate?: boolean;
}

/**
 * y (+)= x̂ · weightᵀ (+ bias) with x̂ = RMSNorm(x) (weight normWeight) when normWeight is given,
 * else x. Reads x, weight, bias, normWeight; writes (or adds into) y.
 */
export function rowsLinear(r: Recorder, o: RowsLinear): void {
  const { x, weight: W, bias, normWeight, y } = o;
  const K = lastDim("rowsLinear", "weight", W);
  const N = W.size / K;
  const rows = rowsOf("rowsLinear", "x", x, K);
  checkTensorSizes("rowsLinear", { y: [y, rows * N], bias: [bias ?? W, N], normWeight: [normWeight ?? W, K] });
  const cols = o.cols ?? columnsPerGroup(N);
  const k = kernel(
    r, "rows-linear.wgsl", "linear", { N, BIAS: bias !== undefined, ACCUMULATE: o.accumulate ?? false }, K, rows, cols, normWeight !== undefined,
    weightType("rowsLinear", { weight: W }),
  );
  // W stands in for the absent bias and norm weight (bound, never read).
  r.span(o.label ?? "rows linear", () => `rows=${rows} K=${K} N=${N}`, () =>
    r.dispatch(k, [x, normWeight ?? W, W, bias ?? W, y], Math.ceil(N / cols)));
}

export interface RowsQkvRope extends RowsOptions {
  /** [rows, D]. */
  x: Tensor;
  /** [D]. */
  normWeight: Tensor;
  /** [D, D] each. */
  wq: Tensor;
  wk: Tensor;
  wv: Tensor;
  /** [rows, D]. */
  q: Tensor;
  /** Row r of k and v goes to element r·kvStride + kvOffset of kOut and vOut. */
  kOut: Tensor;
  vOut: Tensor;
  kvStride: number;
  kvOffset: number;
  heads: number;
  /** The position whose RoPE angles turn q and k. */
  position: number;
}

/** Head dims whose cos and sin fit the 256-byte params block after its 16 bytes of cache place. */
const MAX_HEAD_DIM = 56;

/**
 * h = RMSNorm(x) (weight normWeight); q = RoPE(h·wqᵀ), k = RoPE(h·wkᵀ) and v = h·wvᵀ to their
 * places in kOut and vOut (a K/V cache at the step's position, or plain [rows, D] tensors). The
 * three outputs must be distinct buffers.
 */
export function rowsQkvRope(r: Recorder, o: RowsQkvRope): void {
  const { x, normWeight, wq, wk, wv, q, kOut, vOut, heads, position, kvStride, kvOffset } = o;
  const D = normWeight.size;
  const rows = rowsOf("rowsQkvRope", "x", x, D);
  const hd = D / heads;
  const last = (rows - 1) * kvStride + kvOffset + D;
  checkSizes("rowsQkvRope", { heads, hd, kvStride }, {
    wq: [wq, D * D], wk: [wk, D * D], wv: [wv, D * D], q: [q, rows * D], kOut: [kOut, last], vOut: [vOut, last],
  });
  if (hd % 8 !== 0 || hd > MAX_HEAD_DIM) throw new Error(`rowsQkvRope: head dim ${hd} is not a multiple of 8 up to ${MAX_HEAD_DIM}`);
  if (!Number.isInteger(position) || position < 0 || !Number.isInteger(kvOffset) || kvOffset < 0 || kvStride < D) {
    throw new Error(`rowsQkvRope: bad position ${position} or K/V place ${kvStride}·r + ${kvOffset}`);
  }
  const cols = o.cols ?? columnsPerGroup(3 * D);
  const k = kernel(r, "rows-qkv-rope.wgsl", "qkv", { D, HD: hd }, D, rows, cols, true, weightType("rowsQkvRope", { wq, wk, wv }));
  const { cos, sin } = ropeTables(1, hd, position);
  r.span(o.label ?? "rows qkv rope", () => `rows=${rows} D=${D}`, () =>
    r.dispatch(k, [x, normWeight, wq, wk, wv, q, kOut, vOut], (3 * D) / cols, { u32: [kvStride, kvOffset, 0, 0], f32: [...cos, ...sin] }));
}

export interface RowsSwigluUp extends RowsOptions {
  /** [rows, K]. */
  x: Tensor;
  /** [K]. */
  normWeight: Tensor;
  /** [hidden, K] each, and biases [hidden]. */
  w1: Tensor;
  b1: Tensor;
  w2: Tensor;
  b2: Tensor;
  /** [rows, hidden]. */
  g: Tensor;
}

/**
 * g = silu(h·w1ᵀ + b1) · (h·w2ᵀ + b2) with h = RMSNorm(x) (weight normWeight). Reads x, the
 * weights and biases; writes g.
 */
export function rowsSwigluUp(r: Recorder, o: RowsSwigluUp): void {
  const { x, normWeight, w1, b1, w2, b2, g } = o;
  const K = lastDim("rowsSwigluUp", "w1", w1);
  const hidden = w1.size / K;
  const rows = rowsOf("rowsSwigluUp", "x", x, K);
  checkTensorSizes("rowsSwigluUp", { normWeight: [normWeight, K], b1: [b1, hidden], w2: [w2, hidden * K], b2: [b2, hidden], g: [g, rows * hidden] });
  const cols = o.cols ?? columnsPerGroup(2 * hidden);
  const k = kernel(r, "rows-swiglu-up.wgsl", "swiglu_up", { HIDDEN: hidden }, K, rows, cols, true, weightType("rowsSwigluUp", { w1, w2 }));
  r.span(o.label ?? "rows swiglu up", () => `rows=${rows} K=${K} hidden=${hidden}`, () =>
    r.dispatch(k, [x, normWeight, w1, b1, w2, b2, g], Math.ceil(hidden / (cols / 2))));
}
