/**
 * The hourglass's resampling for one position of cached decoding (wgsl/hourglass-step.wgsl), over
 * out.size values (B rows of D): the pool of one coarse position from its three fine rows, and the skip
 * add that feeds a finer level the latest coarser output (see src/generate/schedule.ts).
 */
import { grid1d, type Recorder } from "../gpu/runtime.ts";
import { checkTensorSizes, type Tensor } from "../gpu/tensor.ts";

/** out = (a + b + c) / 3 over out.size values. Reads a, b, c; writes out. */
export function mean3(r: Recorder, o: { a: Tensor; b: Tensor; c: Tensor; out: Tensor; label?: string }): void {
  const n = o.out.size;
  checkTensorSizes("mean3", { a: [o.a, n], b: [o.b, n], c: [o.c, n] });
  const k = r.gpu.kernel({ file: "hourglass-step.wgsl", entry: "mean3" });
  const { workgroups, row } = grid1d(n, 256);
  r.span(o.label ?? "hourglass", () => `mean3 n=${n}`, () => r.dispatch(k, [o.a, o.b, o.c, o.out], workgroups, { u32: [n, 0, row] }));
}

/** out = weights[index] · coarse + skip over out.size values. Reads coarse, skip, weights; writes out. */
export function scaleAdd(r: Recorder, o: { coarse: Tensor; skip: Tensor; weights: Tensor; index: number; out: Tensor; label?: string }): void {
  const n = o.out.size;
  checkTensorSizes("scaleAdd", { coarse: [o.coarse, n], skip: [o.skip, n], weights: [o.weights, o.index + 1] });
  const k = r.gpu.kernel({ file: "hourglass-step.wgsl", entry: "scale_add" });
  const { workgroups, row } = grid1d(n, 256);
  r.span(o.label ?? "hourglass", () => `scale add n=${n}`, () => r.dispatch(k, [o.coarse, o.skip, o.weights, o.out], workgroups, { u32: [n, o.index, row] }));
}
