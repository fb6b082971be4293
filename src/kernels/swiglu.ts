/**
 * SwiGLU gate, elementwise over n values (wgsl/swiglu.wgsl, swiglu-backward.wgsl):
 * h = silu(a) · b. In the feed-forward a, b, h are [rows, hidden] (proj1 x, proj2 x, proj3's input).
 */
import { grid1d, type Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import forwardSrc from "../../wgsl/swiglu.wgsl" with { type: "text" };
import backwardSrc from "../../wgsl/swiglu-backward.wgsl" with { type: "text" };

/** Reads a, b; writes h. */
export function swigluForward(r: Recorder, a: Tensor, b: Tensor, h: Tensor, n: number): void {
  const k = r.gpu.kernel({ file: "swiglu.wgsl", code: forwardSrc, entry: "forward" });
  const { workgroups, row } = grid1d(n, 256);
  r.dispatch(k, [a, b, h], workgroups, { u32: [n, row] });
}

/** Reads a, b and dh; writes da and db. */
export function swigluBackward(r: Recorder, a: Tensor, b: Tensor, dh: Tensor, da: Tensor, db: Tensor, n: number): void {
  const k = r.gpu.kernel({ file: "swiglu-backward.wgsl", code: backwardSrc, entry: "backward" });
  const { workgroups, row } = grid1d(n, 256);
  r.dispatch(k, [a, b, dh, da, db], workgroups, { u32: [n, row] });
}
