/**
 * The hourglass resampling ops along L of [B, L, D] activations (wgsl/hourglass.wgsl,
 * hourglass-upsample.wgsl, hourglass-upsample-backward.wgsl). L is a multiple of 3 (the model
 * pads to a multiple of 9); Lc = L / 3 is the coarse length.
 *   down a level:  y = avgpool3(x)
 *   up a level:    out = w · shift2(upsample3(x)) + skip,  w = weights[wIndex] (skip_weights2)
 */
import { grid1d, type Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { sumRows } from "./elementwise.ts";
import poolSrc from "../../wgsl/hourglass.wgsl" with { type: "text" };
import sumSrc from "../../wgsl/workgroup-sum.wgsl" with { type: "text" };
import upsampleSrc from "../../wgsl/hourglass-upsample.wgsl" with { type: "text" };
import upsampleBackwardSrc from "../../wgsl/hourglass-upsample-backward.wgsl" with { type: "text" };

/** Positions the upsampled sequence moves later (FACTOR − 1: keeps the hourglass causal). */
const SHIFT = 2;
/** Values per thread in the upsample backward: fewer, larger dw partial sums. */
const ELEMS = 8;

function coarse(L: number): number {
  if (L % 3 !== 0) throw new Error(`hourglass: length ${L} is not a multiple of 3`);
  return L / 3;
}

/** Reads x [B, L, D]; writes y [B, L/3, D]. */
export function avgPool3Forward(r: Recorder, x: Tensor, y: Tensor, B: number, L: number, D: number): void {
  const n = B * coarse(L) * D;
  const k = r.gpu.kernel({ file: "hourglass.wgsl", code: poolSrc, entry: "pool_forward", constants: { ACCUMULATE: false } });
  const { workgroups, row } = grid1d(n, 256);
  r.dispatch(k, [x, y], workgroups, { u32: [n, D, row] });
}

/** Reads dy [B, L/3, D]; writes dx [B, L, D], or adds into it with `accumulate`. */
export function avgPool3Backward(
  r: Recorder, dy: Tensor, dx: Tensor, B: number, L: number, D: number, accumulate = false,
): void {
  coarse(L);
  const n = B * L * D;
  const k = r.gpu.kernel({ file: "hourglass.wgsl", code: poolSrc, entry: "pool_backward", constants: { ACCUMULATE: accumulate } });
  const { workgroups, row } = grid1d(n, 256);
  r.dispatch(k, [dy, dx], workgroups, { u32: [n, D, row] });
}

/** Reads x [B, Lc, D], skip [B, 3·Lc, D] and weights[wIndex]; writes out [B, 3·Lc, D]. */
export function upsampleShiftAddForward(
  r: Recorder, x: Tensor, skip: Tensor, weights: Tensor, wIndex: number, out: Tensor, B: number, Lc: number, D: number,
): void {
  const n = B * 3 * Lc * D;
  const k = r.gpu.kernel({ file: "hourglass-upsample.wgsl", code: upsampleSrc, entry: "forward", constants: { SHIFT } });
  const { workgroups, row } = grid1d(n, 256);
  r.dispatch(k, [x, skip, weights, out], workgroups, { u32: [n, 3 * Lc, D, wIndex, row] });
}

/** Elements of the scratch tensor upsampleShiftAddBackward needs. */
export function upsampleScratchSize(B: number, Lc: number, D: number): number {
  return Math.ceil((B * Lc * D) / (256 * ELEMS));
}

/**
 * Reads dout [B, 3·Lc, D], x [B, Lc, D] (the forward's input) and weights[wIndex]; writes
 * dx [B, Lc, D] and dweights[wIndex] (or adds into it with `accumulate`). The skip's gradient is
 * dout itself. scratch: ≥ upsampleScratchSize(B, Lc, D) elements.
 */
export function upsampleShiftAddBackward(
  r: Recorder, dout: Tensor, x: Tensor, weights: Tensor, wIndex: number, dx: Tensor, dweights: Tensor, scratch: Tensor,
  B: number, Lc: number, D: number, accumulate = false,
): void {
  const n = B * Lc * D;
  const groups = upsampleScratchSize(B, Lc, D);
  if (scratch.size < groups) throw new Error(`upsampleShiftAddBackward: scratch has ${scratch.size} elements, needs ${groups}`);
  const k = r.gpu.kernel({
    file: "workgroup-sum.wgsl+hourglass-upsample-backward.wgsl", code: sumSrc + upsampleBackwardSrc, entry: "backward",
    constants: { SHIFT, ELEMS },
  });
  const { workgroups, row } = grid1d(groups, 1);
  r.dispatch(k, [dout, x, weights, dx, scratch], workgroups, { u32: [n, Lc, D, wIndex, row] });
  sumRows(r, scratch, dweights, groups, 1, wIndex, accumulate);
}
