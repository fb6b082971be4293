/**
 * SwiGLU gate, elementwise (wgsl/swiglu.wgsl, forward and backward):
 * h = silu(a) · b, over a.size values. In the feed-forward a, b, h are [rows, hidden] (proj1 x, proj2 x, proj3's input).
 */
import { grid1d, type Recorder } from "../gpu/runtime.ts";
import { checkTensorSizes, type Tensor } from "../gpu/tensor.ts";

/** Reads a, b; writes h (n = a.size values). */
export function swigluForward(r: Recorder, o: { a: Tensor; b: Tensor; h: Tensor; label?: string }): void {
  const n = o.a.size;
  checkTensorSizes("swigluForward", { b: [o.b, n], h: [o.h, n] });
  const k = r.gpu.kernel({ file: "swiglu.wgsl", entry: "forward" });
  const { workgroups, row } = grid1d(n, 256);
  r.span(o.label ?? "swiglu", () => `forward n=${n}`, () => r.dispatch(k, [o.a, o.b, o.h], workgroups, { u32: [n, row] }));
}

/** Reads a, b and dh; writes da and db (n = a.size values). */
export function swigluBackward(r: Recorder, o: { a: Tensor; b: Tensor; dh: Tensor; da: Tensor; db: Tensor; label?: string }): void {
  const n = o.a.size;
  checkTensorSizes("swigluBackward", { b: [o.b, n], dh: [o.dh, n], da: [o.da, n], db: [o.db, n] });
  const k = r.gpu.kernel({ file: "swiglu.wgsl", entry: "backward" });
  const { workgroups, row } = grid1d(n, 256);
  r.span(o.label ?? "swiglu", () => `backward n=${n}`, () => r.dispatch(k, [o.a, o.b, o.dh, o.da, o.db], workgroups, { u32: [n, row] }));
}
