/**
 * RMSNorm over the last axis (eps 1e-5, learned weight), wgsl/rmsnorm.wgsl and
 * rmsnorm-backward.wgsl. Layouts: x, y, dy, dx [rows, D]; weight, dweight [D]; rstd [rows]
 * (1 / rms of each row, saved by the forward for the backward). D ≤ 4096.
 */
import { grid1d, type Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { sumRows } from "./elementwise.ts";
import forwardSrc from "../../wgsl/rmsnorm.wgsl" with { type: "text" };
import backwardSrc from "../../wgsl/rmsnorm-backward.wgsl" with { type: "text" };

export const RMSNORM_EPS = 1e-5;
const MAX_D = 4096;
/** Workgroups of the backward (each writes one row of dweight partial sums). */
const BACKWARD_GROUPS = 1024;

/** Threads per row: about 4 columns each, 32..256. */
function threads(D: number): number {
  if (!Number.isInteger(D) || D < 1 || D > MAX_D) throw new Error(`rmsnorm: width ${D} is not in 1..${MAX_D}`);
  return Math.min(256, Math.max(32, 1 << Math.ceil(Math.log2(Math.ceil(D / 4)))));
}

function backwardSplit(rows: number): { groups: number; rowsPerGroup: number } {
  const rowsPerGroup = Math.ceil(rows / Math.min(rows, BACKWARD_GROUPS));
  return { groups: Math.ceil(rows / rowsPerGroup), rowsPerGroup };
}

/** Elements of the scratch tensor rmsnormBackward needs. */
export function rmsnormScratchSize(rows: number, D: number): number {
  return backwardSplit(rows).groups * D;
}

/** Reads x, weight; writes y and rstd. */
export function rmsnormForward(r: Recorder, x: Tensor, weight: Tensor, y: Tensor, rstd: Tensor, rows: number, D: number): void {
  const k = r.gpu.kernel({
    file: "rmsnorm.wgsl", code: forwardSrc, entry: "forward",
    constants: { D, WG: threads(D), EPS: { f32: RMSNORM_EPS } },
  });
  const { workgroups, row } = grid1d(rows, 1);
  r.dispatch(k, [x, weight, y, rstd], workgroups, { u32: [rows, row] });
}

/**
 * Reads x, weight, rstd (from the forward) and dy; writes dx, and dweight (or adds into it
 * with `accumulate`, for gradient accumulation). scratch: ≥ rmsnormScratchSize(rows, D) elements.
 */
export function rmsnormBackward(
  r: Recorder, x: Tensor, weight: Tensor, rstd: Tensor, dy: Tensor, dx: Tensor, dweight: Tensor, scratch: Tensor,
  rows: number, D: number, accumulate = false,
): void {
  const { groups, rowsPerGroup } = backwardSplit(rows);
  if (scratch.size < groups * D) throw new Error(`rmsnormBackward: scratch has ${scratch.size} elements, needs ${groups * D}`);
  const k = r.gpu.kernel({ file: "rmsnorm-backward.wgsl", code: backwardSrc, entry: "backward", constants: { D, WG: threads(D) } });
  r.dispatch(k, [x, weight, rstd, dy, dx, scratch], groups, { u32: [rows, rowsPerGroup] });
  sumRows(r, scratch, dweight, groups, D, 0, accumulate);
}
