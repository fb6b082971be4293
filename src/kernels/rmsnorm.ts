/**
 * RMSNorm over the last axis (eps 1e-5, learned weight): wgsl/rmsnorm.wgsl and
 * rmsnorm-backward.wgsl. Layouts: x, y, dy, dx [rows, D];
 * weight, dweight [D]; rstd [rows] (1 / rms of each row, saved by the forward for the backward).
 * 1 ≤ D ≤ 4096.
 */
import { grid1d, type Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { rowThreads, sumRows } from "./elementwise.ts";
import sumSrc from "../../wgsl/workgroup-sum.wgsl" with { type: "text" };
import forwardSrc from "../../wgsl/rmsnorm.wgsl" with { type: "text" };
import backwardSrc from "../../wgsl/rmsnorm-backward.wgsl" with { type: "text" };

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

/** Reads x, weight; writes y and rstd. */
export function rmsnormForward(r: Recorder, x: Tensor, weight: Tensor, y: Tensor, rstd: Tensor, rows: number, D: number): void {
  const { workgroups, row } = grid1d(rows, 1);
  const k = r.gpu.kernel({
    file: "workgroup-sum.wgsl+rmsnorm.wgsl", code: sumSrc + forwardSrc, entry: "forward",
    constants: { D, WG: rowThreads(D), EPS: { f32: RMSNORM_EPS } },
  });
  r.dispatch(k, [x, weight, y, rstd], workgroups, { u32: [rows, row] });
}

/**
 * Reads x, weight, rstd (from the forward) and dy; writes dx (or adds into it with `addToDx`: the
 * residual stream's gradient that passes around the norm) and dweight (or adds into it with
 * `accumulate`, for gradient accumulation). scratch: ≥ rmsnormScratchSize(rows, D) elements.
 */
export function rmsnormBackward(
  r: Recorder, x: Tensor, weight: Tensor, rstd: Tensor, dy: Tensor, dx: Tensor, dweight: Tensor, scratch: Tensor,
  rows: number, D: number, accumulate = false, addToDx = false,
): void {
  const { groups, rowsPerGroup } = backwardSplit(rows);
  if (scratch.size < groups * D) throw new Error(`rmsnormBackward: scratch has ${scratch.size} elements, needs ${groups * D}`);
  const k = r.gpu.kernel({
    file: "workgroup-sum.wgsl+rmsnorm-backward.wgsl", code: sumSrc + backwardSrc, entry: "backward",
    constants: { D, WG: rowThreads(D), ADD_TO_DX: addToDx },
  });
  r.dispatch(k, [x, weight, rstd, dy, dx, scratch], groups, { u32: [rows, rowsPerGroup] });
  sumRows(r, scratch, dweight, groups, D, 0, accumulate);
}
