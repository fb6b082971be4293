/**
 * Precision casts (wgsl/cast.wgsl) for mixed-precision training: the f32 master weights to the
 * f16 copies the products read (after every optimizer step), activations to f16, or back.
 */
import { grid1d, type Recorder } from "../gpu/runtime.ts";
import { checkTensorSizes, type Tensor } from "../gpu/tensor.ts";

/** dst = src converted to dst's dtype (f32 or f16), over src.size elements. Reads src, writes dst. */
export function cast(r: Recorder, o: { src: Tensor; dst: Tensor; label?: string }): void {
  const { src, dst } = o;
  for (const [name, t] of Object.entries({ src, dst })) {
    if (t.dtype !== "f32" && t.dtype !== "f16") throw new Error(`cast: ${name} (${t.label}) is ${t.dtype}, expected f32 or f16`);
  }
  const n = src.size;
  checkTensorSizes("cast", { dst: [dst, n] });
  const k = r.gpu.kernel({ file: "cast.wgsl", entry: "convert", types: { SRC_T: src.dtype as "f32" | "f16", DST_T: dst.dtype as "f32" | "f16" } });
  const { workgroups, row } = grid1d(n, 256);
  r.span(o.label ?? "cast", () => `${src.dtype}→${dst.dtype} n=${n}`, () => r.dispatch(k, [src, dst], workgroups, { u32: [n, row] }));
}
