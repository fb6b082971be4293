/**
 * The hourglass's resampling for one position of cached decoding (wgsl/hourglass-step.wgsl), over
 * n values (B rows of D): the pool of one coarse position from its three fine rows, and the skip
 * add that feeds a finer level the latest coarser output (see src/generate/schedule.ts).
 */
import { grid1d, type Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import src from "../../wgsl/hourglass-step.wgsl" with { type: "text" };

function check(n: number, tensors: Tensor[]): void {
  for (const t of tensors) if (t.size < n) throw new Error(`hourglass step: ${t.label} has ${t.size} values, needs ${n}`);
}

/** out = (a + b + c) / 3. Reads a, b, c; writes out. */
export function mean3(r: Recorder, a: Tensor, b: Tensor, c: Tensor, out: Tensor, n: number): void {
  check(n, [a, b, c, out]);
  const k = r.gpu.kernel({ file: "hourglass-step.wgsl", code: src, entry: "mean3" });
  const { workgroups, row } = grid1d(n, 256);
  r.dispatch(k, [a, b, c, out], workgroups, { u32: [n, 0, row] });
}

/** out = weights[wIndex] · coarse + skip. Reads coarse, skip, weights; writes out. */
export function scaleAdd(r: Recorder, coarse: Tensor, skip: Tensor, weights: Tensor, wIndex: number, out: Tensor, n: number): void {
  check(n, [coarse, skip, out]);
  if (wIndex >= weights.size) throw new Error(`scaleAdd: weight ${wIndex} of ${weights.size}`);
  const k = r.gpu.kernel({ file: "hourglass-step.wgsl", code: src, entry: "scale_add" });
  const { workgroups, row } = grid1d(n, 256);
  r.dispatch(k, [coarse, skip, weights, out], workgroups, { u32: [n, wIndex, row] });
}
