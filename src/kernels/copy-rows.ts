/**
 * Strided row copies between [B, L, W] layouts (wgsl/copy-rows.wgsl): rows `rows` of each of B
 * sequences move from `src` (sequence b at b·srcStride values, from row srcRow) to `dst` (at
 * b·dstStride, from row dstRow). Appending K/V rows to a cache [B, capacity, W] and picking one
 * row per sequence are both this.
 */
import { grid1d, type Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";

export interface RowCopy {
  B: number;
  rows: number;
  /** Values per row. */
  W: number;
  srcStride: number;
  srcRow: number;
  dstStride: number;
  dstRow: number;
}

/** Reads src; writes the copied rows of dst (the rest of dst is untouched). */
export function copyRows(r: Recorder, o: { from: Tensor; to: Tensor; copy: RowCopy; label?: string }): void {
  const { from, to, copy: c } = o;
  const { B, rows, W, srcStride, srcRow, dstStride, dstRow } = c;
  const ok = [B, rows, W, srcStride, srcRow, dstStride, dstRow].every((v) => Number.isInteger(v) && v >= 0);
  if (!ok || B === 0 || rows === 0) throw new Error(`copyRows: bad copy ${JSON.stringify(c)}`);
  if (srcStride < (srcRow + rows) * W && B > 1) throw new Error(`copyRows: source rows overlap the next sequence in ${JSON.stringify(c)}`);
  if (dstStride < (dstRow + rows) * W && B > 1) throw new Error(`copyRows: destination rows overlap the next sequence in ${JSON.stringify(c)}`);
  const srcNeed = (B - 1) * srcStride + (srcRow + rows) * W;
  const dstNeed = (B - 1) * dstStride + (dstRow + rows) * W;
  if (from.size < srcNeed || to.size < dstNeed) {
    throw new Error(`copyRows: ${from.label} has ${from.size} (needs ${srcNeed}), ${to.label} has ${to.size} (needs ${dstNeed}) values`);
  }
  const n = B * rows * W;
  const k = r.gpu.kernel({ file: "copy-rows.wgsl", entry: "copy_rows" });
  const { workgroups, row } = grid1d(n, 256);
  r.span(o.label ?? "copy rows", () => `B=${B} rows=${rows} W=${W}`, () =>
    r.dispatch(k, [from, to], workgroups, { u32: [n, rows, W, srcStride, srcRow, dstStride, dstRow, row] }));
}
