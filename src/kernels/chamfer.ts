/**
 * Directional Chamfer terms of pairs of point clouds (wgsl/chamfer.wgsl): for clouds i of `a`
 * and j of `b`, the mean over a_i's points of the squared distance to the nearest point of b_j.
 * The Chamfer distance of two clouds is the sum of both directions (src/eval/chamfer.ts).
 * CPU reference: src/cpu/eval.ts (directionalMeanCpu).
 */
import type { Recorder } from "../gpu/runtime.ts";
import { checkTensorSizes, type Tensor } from "../gpu/tensor.ts";
import sumSrc from "../../wgsl/workgroup-sum.wgsl" with { type: "text" };
import chamferSrc from "../../wgsl/chamfer.wgsl" with { type: "text" };

/** Points of `a` each thread keeps in registers: enough work per point of `b` read from workgroup memory. */
const POINTS_PER_THREAD = 8;

/** Threads per workgroup for clouds of `points` points: a power of two in [32, 256]. */
export function chamferWorkgroup(points: number): { WG: number; PER_THREAD: number } {
  const WG = Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(Math.ceil(points / POINTS_PER_THREAD)))));
  return { WG, PER_THREAD: Math.ceil(points / WG) };
}

export interface ChamferShape {
  /** Points per cloud. */
  points: number;
  /** Clouds in `a` and `b`. */
  aClouds: number;
  bClouds: number;
  /** Rows of the output this dispatch fills: clouds rowStart .. rowStart + rows − 1 of `a`. */
  rowStart: number;
  rows: number;
}

/**
 * Reads clouds a [aClouds, points, 4] and b [bClouds, points, 4] (x y z, w unused); writes rows
 * rowStart .. rowStart + rows − 1 of out [aClouds, bClouds]. `a` and `b` may be one tensor.
 */
export function directionalChamfer(r: Recorder, a: Tensor, b: Tensor, out: Tensor, s: ChamferShape): void {
  const { points, aClouds, bClouds, rowStart, rows } = s;
  if (!(points >= 1 && rows >= 1 && rowStart + rows <= aClouds)) throw new Error(`directionalChamfer: rows ${rowStart}..${rowStart + rows} of ${aClouds} clouds of ${points} points`);
  checkTensorSizes("directionalChamfer", { a: [a, aClouds * points * 4], b: [b, bClouds * points * 4], out: [out, aClouds * bClouds] });
  const { WG, PER_THREAD } = chamferWorkgroup(points);
  const k = r.gpu.kernel({ file: "workgroup-sum.wgsl+chamfer.wgsl", code: sumSrc + chamferSrc, constants: { WG, PER_THREAD, P: points } });
  r.dispatch(k, [a, b, out], [bClouds, rows], { u32: [rowStart, bClouds] });
}
