/**
 * RMSNorm over the last axis (eps 1e-5, learned weight): wgsl/rmsnorm.wgsl (forward and backward). Layouts: x, y, dy, dx [rows, D];
 * weight, dweight [D]; rstd [rows] (1 / rms of each row, saved by the forward for the backward).
 * 1 ≤ D ≤ 4096.
 */
import { grid1d, type Recorder } from "../gpu/runtime.ts";
import { checkTensorSizes, rowsOf, type Tensor } from "../gpu/tensor.ts";
import { rowThreads, sumRows } from "./elementwise.ts";

export const RMSNORM_EPS = 1e-5;
/**
 * Backward workgroups (each writes one row of dweight partial sums) and the fewest rows each
 * handles: enough groups to fill the GPU, few enough that the partial sums stay cheap to add up
 * (timed on an H100 at 6152, 18456 and 55368 rows of 512).
 */
const BACKWARD_GROUPS = 2048;
const MIN_ROWS_PER_GROUP = 4;

function backwardSplit(rows: number): { groups: number; rowsPerGroup: number } {
  const rowsPerGroup = Math.max(Math.min(rows, MIN_ROWS_PER_GROUP), Math.ceil(rows / BACKWARD_GROUPS));
  return { groups: Math.ceil(rows / rowsPerGroup), rowsPerGroup };
}

/** Elements of the scratch tensor rmsnormBackward needs. */
export function rmsnormScratchSize(rows: number, D: number): number {
  return backwardSplit(rows).groups * D;
}

export interface RmsnormForward {
  /** [rows, D] (any shape of whole rows: D is the weight's size). */
  x: Tensor;
  weight: Tensor;
  y: Tensor;
  rstd: Tensor;
  /** The profiler's name for it (default "rmsnorm"). */
  label?: string;
}

/** Reads x, weight; writes y and rstd. */
export function rmsnormForward(r: Recorder, o: RmsnormForward): void {
  const D = o.weight.size;
  const rows = rowsOf("rmsnormForward", "x", o.x, D);
  checkTensorSizes("rmsnormForward", { y: [o.y, rows * D], rstd: [o.rstd, rows] });
  const { workgroups, row } = grid1d(rows, 1);
  const k = r.gpu.kernel({
    file: "rmsnorm.wgsl", entry: "forward",
    constants: { D, WG: rowThreads(D), EPS: { f32: RMSNORM_EPS }, ADD_TO_DX: false },
  });
  r.span(o.label ?? "rmsnorm", () => `forward rows=${rows} D=${D}`, () =>
    r.dispatch(k, [o.x, o.weight, o.y, o.rstd], workgroups, { u32: [rows, row] }));
}

export interface RmsnormBackward {
  /** The forward's x, weight and rstd. */
  x: Tensor;
  weight: Tensor;
  rstd: Tensor;
  dy: Tensor;
  dx: Tensor;
  dweight: Tensor;
  /** ≥ rmsnormScratchSize(rows, D) elements. */
  scratch: Tensor;
  /** dweight += instead of = (gradient accumulation). */
  accumulate?: boolean;
  /** dx += instead of = (the residual stream's gradient that passes around the norm). */
  addToDx?: boolean;
  label?: string;
}

/** Reads x, weight, rstd and dy; writes (or adds into) dx and dweight. */
export function rmsnormBackward(r: Recorder, o: RmsnormBackward): void {
  const D = o.weight.size;
  const rows = rowsOf("rmsnormBackward", "x", o.x, D);
  const { groups, rowsPerGroup } = backwardSplit(rows);
  checkTensorSizes("rmsnormBackward", {
    rstd: [o.rstd, rows], dy: [o.dy, rows * D], dx: [o.dx, rows * D], dweight: [o.dweight, D], scratch: [o.scratch, groups * D],
  });
  const k = r.gpu.kernel({
    file: "rmsnorm.wgsl", entry: "backward",
    constants: { D, WG: rowThreads(D), EPS: { f32: RMSNORM_EPS }, ADD_TO_DX: o.addToDx ?? false },
  });
  r.span(o.label ?? "rmsnorm", () => `backward rows=${rows} D=${D}`, () => {
    r.dispatch(k, [o.x, o.weight, o.rstd, o.dy, o.dx, o.scratch], groups, { u32: [rows, rowsPerGroup] });
    sumRows(r, { partials: o.scratch.head(groups * D).reshape([groups, D]), out: o.dweight, accumulate: o.accumulate });
  });
}
