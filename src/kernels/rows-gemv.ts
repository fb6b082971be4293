/**
 * The projections of a decoding step over its few rows (one position per sequence), each one
 * dispatch: wgsl/rows-gemv.wgsl's shared core (every output column's dot products summed by a
 * fixed tree of threads, the input's RMSNorm folded in) extended by rows-linear.wgsl,
 * rows-qkv-rope.wgsl and rows-swiglu-up.wgsl. At B ≤ 64 rows the general matmul (kernels/matmul.ts)
 * needs a tile of rows it mostly leaves empty, often a split-K reduction dispatch after it, and a
 * separate dispatch for each norm, RoPE, cache copy and gate: a decoding step was bound by the count
 * of dispatches, not by the GPU. CPU references: src/cpu/rows-gemv.ts.
 *
 * Layouts: rows are contiguous, x [rows, K]; weights are stored [out, in] (a Linear's layout).
 */
import type { Recorder } from "../gpu/runtime.ts";
import { checkTensorSizes, type Tensor } from "../gpu/tensor.ts";
import { RMSNORM_EPS } from "../model/constants.ts";
import { ropeTables } from "../model/tables.ts";
import coreSrc from "../../wgsl/rows-gemv.wgsl" with { type: "text" };
import linearSrc from "../../wgsl/rows-linear.wgsl" with { type: "text" };
import qkvSrc from "../../wgsl/rows-qkv-rope.wgsl" with { type: "text" };
import swigluSrc from "../../wgsl/rows-swiglu-up.wgsl" with { type: "text" };

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

/** The sizes every rows kernel shares; `cols` overrides columnsPerGroup (tests run each). */
interface RowsShape {
  rows: number;
  cols?: ColumnsPerGroup;
}

function checkSizes(op: string, sizes: Record<string, number>, tensors: Record<string, [Tensor, number]>): void {
  for (const [name, n] of Object.entries(sizes)) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`${op}: ${name} = ${n} is not a positive integer`);
  }
  checkTensorSizes(op, tensors);
}

function kernel(r: Recorder, file: string, code: string, entry: string, constants: Record<string, number | boolean>, K: number, rows: number, cols: ColumnsPerGroup, norm: boolean) {
  return r.gpu.kernel({
    file: `rows-gemv.wgsl+${file}`, code: coreSrc + code, entry,
    constants: { ...constants, K, ROWS: rows, COLS: cols, NORM: norm, EPS: { f32: RMSNORM_EPS } },
  });
}

export interface RowsLinearShape extends RowsShape {
  K: number;
  N: number;
  /** y += instead of y =. */
  accumulate?: boolean;
}

/**
 * y [rows, N] (+)= x̂ · Wᵀ (+ bias) with x̂ = RMSNorm(x) (weight normWeight [K]) when normWeight is
 * given, else x. Reads x [rows, K], W [N, K], bias [N]; writes (or adds into) y.
 */
export function rowsLinear(
  r: Recorder, x: Tensor, W: Tensor, bias: Tensor | null, normWeight: Tensor | null, y: Tensor, s: RowsLinearShape,
): void {
  const { rows, K, N } = s;
  checkSizes("rowsLinear", { rows, K, N }, { x: [x, rows * K], W: [W, N * K], y: [y, rows * N], bias: [bias ?? W, N], normWeight: [normWeight ?? W, K] });
  const cols = s.cols ?? columnsPerGroup(N);
  const k = kernel(r, "rows-linear.wgsl", linearSrc, "linear", { N, BIAS: bias !== null, ACCUMULATE: s.accumulate ?? false }, K, rows, cols, normWeight !== null);
  // W stands in for the absent bias and norm weight (bound, never read).
  r.dispatch(k, [x, normWeight ?? W, W, bias ?? W, y], Math.ceil(N / cols));
}

export interface RowsQkvRopeShape extends RowsShape {
  D: number;
  heads: number;
  /** The position whose RoPE angles turn q and k. */
  position: number;
  /** Where row r of k and v goes: element r·kvStride + kvOffset of kOut and vOut. */
  kvStride: number;
  kvOffset: number;
}

/** Head dims whose cos and sin fit the 256-byte params block after its 16 bytes of cache place. */
const MAX_HEAD_DIM = 56;

/**
 * h = RMSNorm(x) (weight normWeight [D]); q = RoPE(h·Wqᵀ) into q [rows, D], k = RoPE(h·Wkᵀ) and
 * v = h·Wvᵀ to row r·kvStride + kvOffset of kOut and vOut (a K/V cache at the step's position, or
 * plain [rows, D] tensors). Reads x [rows, D], Wq, Wk, Wv [D, D]; the three outputs must be
 * distinct buffers.
 */
export function rowsQkvRope(
  r: Recorder, x: Tensor, normWeight: Tensor, Wq: Tensor, Wk: Tensor, Wv: Tensor,
  q: Tensor, kOut: Tensor, vOut: Tensor, s: RowsQkvRopeShape,
): void {
  const { rows, D, heads, position, kvStride, kvOffset } = s;
  const hd = D / heads;
  const last = (rows - 1) * kvStride + kvOffset + D;
  checkSizes("rowsQkvRope", { rows, D, heads, hd, kvStride }, {
    x: [x, rows * D], normWeight: [normWeight, D], Wq: [Wq, D * D], Wk: [Wk, D * D], Wv: [Wv, D * D], q: [q, rows * D], kOut: [kOut, last], vOut: [vOut, last],
  });
  if (hd % 8 !== 0 || hd > MAX_HEAD_DIM) throw new Error(`rowsQkvRope: head dim ${hd} is not a multiple of 8 up to ${MAX_HEAD_DIM}`);
  if (!Number.isInteger(position) || position < 0 || !Number.isInteger(kvOffset) || kvOffset < 0 || kvStride < D) {
    throw new Error(`rowsQkvRope: bad position ${position} or K/V place ${kvStride}·r + ${kvOffset}`);
  }
  const cols = s.cols ?? columnsPerGroup(3 * D);
  const k = kernel(r, "rows-qkv-rope.wgsl", qkvSrc, "qkv", { D, HD: hd }, D, rows, cols, true);
  const { cos, sin } = ropeTables(1, hd, position);
  r.dispatch(k, [x, normWeight, Wq, Wk, Wv, q, kOut, vOut], (3 * D) / cols, { u32: [kvStride, kvOffset, 0, 0], f32: [...cos, ...sin] });
}

export interface RowsSwigluUpShape extends RowsShape {
  K: number;
  hidden: number;
}

/**
 * g [rows, hidden] = silu(h·W1ᵀ + b1) · (h·W2ᵀ + b2) with h = RMSNorm(x) (weight normWeight [K]).
 * Reads x [rows, K], W1, W2 [hidden, K], b1, b2 [hidden]; writes g.
 */
export function rowsSwigluUp(
  r: Recorder, x: Tensor, normWeight: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor, g: Tensor, s: RowsSwigluUpShape,
): void {
  const { rows, K, hidden } = s;
  checkSizes("rowsSwigluUp", { rows, K, hidden }, {
    x: [x, rows * K], normWeight: [normWeight, K], W1: [W1, hidden * K], b1: [b1, hidden], W2: [W2, hidden * K], b2: [b2, hidden], g: [g, rows * hidden],
  });
  const cols = s.cols ?? columnsPerGroup(2 * hidden);
  const k = kernel(r, "rows-swiglu-up.wgsl", swigluSrc, "swiglu_up", { HIDDEN: hidden }, K, rows, cols, true);
  r.dispatch(k, [x, normWeight, W1, b1, W2, b2, g], Math.ceil(hidden / (cols / 2)));
}
