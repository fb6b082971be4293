/**
 * The hourglass resampling ops along L of [B, L, D] activations (wgsl/hourglass.wgsl,
 * hourglass-upsample.wgsl, hourglass-upsample-backward.wgsl), stored [B, L, D] or [B·L, D]: D
 * and L come from the shapes, B is given. L is a multiple of 3 (the model
 * pads to a multiple of 9); Lc = L / 3 is the coarse length.
 *   down a level:  y = avgpool3(x)
 *   up a level:    out = w · shift2(upsample3(x)) + skip,  w = weights[wIndex] (skip_weights2)
 */
import { grid1d, type Recorder } from "../gpu/runtime.ts";
import { checkTensorSizes, lastDim, type Tensor } from "../gpu/tensor.ts";
import { sumRows } from "./elementwise.ts";

/** Positions the upsampled sequence moves later (FACTOR − 1: keeps the hourglass causal). */
const SHIFT = 2;
/** Values per thread in the upsample backward: fewer, larger dw partial sums. */
const ELEMS = 8;

function coarse(L: number): number {
  if (L % 3 !== 0) throw new Error(`hourglass: length ${L} is not a multiple of 3`);
  return L / 3;
}

/** Width D and fine length L of `fine` [B·L, D] (or [B, L, D]) with B sequences. */
function fineShape(op: string, fine: Tensor, B: number): { L: number; D: number } {
  const D = lastDim(op, "the fine tensor", fine);
  const rows = fine.size / D;
  if (!Number.isInteger(B) || B < 1 || rows % B !== 0) throw new Error(`${op}: ${rows} rows are not B=${B} sequences`);
  const L = rows / B;
  coarse(L);
  return { L, D };
}

/** Reads x [B, L, D]; writes y [B, L/3, D]. */
export function avgPool3Forward(r: Recorder, o: { x: Tensor; y: Tensor; B: number; label?: string }): void {
  const { L, D } = fineShape("avgPool3Forward", o.x, o.B);
  const n = o.B * coarse(L) * D;
  checkTensorSizes("avgPool3Forward", { y: [o.y, n] });
  const k = r.gpu.kernel({ file: "hourglass.wgsl", entry: "pool_forward", constants: { ACCUMULATE: false } });
  const { workgroups, row } = grid1d(n, 256);
  r.span(o.label ?? "hourglass", () => `pool forward B=${o.B} L=${L} D=${D}`, () => r.dispatch(k, [o.x, o.y], workgroups, { u32: [n, D, row] }));
}

/** Reads dy [B, L/3, D]; writes dx [B, L, D], or adds into it with `accumulate`. */
export function avgPool3Backward(r: Recorder, o: { dy: Tensor; dx: Tensor; B: number; accumulate?: boolean; label?: string }): void {
  const { L, D } = fineShape("avgPool3Backward", o.dx, o.B);
  const n = o.B * L * D;
  checkTensorSizes("avgPool3Backward", { dy: [o.dy, n / 3] });
  const k = r.gpu.kernel({ file: "hourglass.wgsl", entry: "pool_backward", constants: { ACCUMULATE: o.accumulate ?? false } });
  const { workgroups, row } = grid1d(n, 256);
  r.span(o.label ?? "hourglass", () => `pool backward B=${o.B} L=${L} D=${D}`, () => r.dispatch(k, [o.dy, o.dx], workgroups, { u32: [n, D, row] }));
}

export interface UpsampleShiftAdd {
  /** The coarse input [B, Lc, D]. */
  x: Tensor;
  /** [B, 3·Lc, D]. */
  skip: Tensor;
  weights: Tensor;
  /** w = weights[index]. */
  index: number;
  /** [B, 3·Lc, D]. */
  out: Tensor;
  B: number;
  label?: string;
}

/** Reads x, skip and weights[index]; writes out. */
export function upsampleShiftAddForward(r: Recorder, o: UpsampleShiftAdd): void {
  const { L, D } = fineShape("upsampleShiftAddForward", o.skip, o.B);
  const n = o.B * L * D;
  checkTensorSizes("upsampleShiftAddForward", { x: [o.x, n / 3], out: [o.out, n], weights: [o.weights, o.index + 1] });
  const k = r.gpu.kernel({ file: "hourglass-upsample.wgsl", entry: "forward", constants: { SHIFT } });
  const { workgroups, row } = grid1d(n, 256);
  r.span(o.label ?? "hourglass", () => `upsample forward B=${o.B} L=${L} D=${D}`, () =>
    r.dispatch(k, [o.x, o.skip, o.weights, o.out], workgroups, { u32: [n, L, D, o.index, row] }));
}

/** Elements of the scratch tensor upsampleShiftAddBackward needs. */
export function upsampleScratchSize(B: number, Lc: number, D: number): number {
  return Math.ceil((B * Lc * D) / (256 * ELEMS));
}

export interface UpsampleShiftAddBackward {
  /** [B, 3·Lc, D]. */
  dout: Tensor;
  /** The forward's input [B, Lc, D]. */
  x: Tensor;
  weights: Tensor;
  index: number;
  /** [B, Lc, D]. */
  dx: Tensor;
  dweights: Tensor;
  /** ≥ upsampleScratchSize(B, Lc, D) elements. */
  scratch: Tensor;
  B: number;
  /** dweights[index] += instead of =. */
  accumulate?: boolean;
  label?: string;
}

/**
 * Reads dout, x and weights[index]; writes dx and dweights[index] (or adds into it with
 * `accumulate`). The skip's gradient is dout itself.
 */
export function upsampleShiftAddBackward(r: Recorder, o: UpsampleShiftAddBackward): void {
  const { L, D } = fineShape("upsampleShiftAddBackward", o.dout, o.B);
  const Lc = L / 3;
  const n = o.B * Lc * D;
  const groups = upsampleScratchSize(o.B, Lc, D);
  checkTensorSizes("upsampleShiftAddBackward", {
    x: [o.x, n], dx: [o.dx, n], weights: [o.weights, o.index + 1], dweights: [o.dweights, o.index + 1], scratch: [o.scratch, groups],
  });
  const k = r.gpu.kernel({ file: "hourglass-upsample-backward.wgsl", entry: "backward", constants: { SHIFT, ELEMS } });
  const { workgroups, row } = grid1d(groups, 1);
  r.span(o.label ?? "hourglass", () => `upsample backward B=${o.B} Lc=${Lc} D=${D}`, () => {
    r.dispatch(k, [o.dout, o.x, o.weights, o.dx, o.scratch], workgroups, { u32: [n, Lc, D, o.index, row] });
    sumRows(r, { partials: o.scratch.head(groups).reshape([groups, 1]), out: o.dweights, offset: o.index, accumulate: o.accumulate });
  });
}
