/**
 * Elementwise helpers and the second stage of the deterministic reductions (wgsl/elementwise.wgsl).
 * All tensors f32, flat.
 */
import { grid1d, type Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import src from "../../wgsl/elementwise.wgsl" with { type: "text" };

const FILE = "elementwise.wgsl";

/**
 * Threads of a kernel that gives each row of width D one workgroup (RMSNorm, embedding): about 4
 * columns per thread, 32..256 threads, a power of two (for tree reductions).
 */
export function rowThreads(D: number): number {
  if (!Number.isInteger(D) || D < 1 || D > 4096) throw new Error(`row width ${D} is not in 1..4096`);
  return Math.min(256, Math.max(32, 1 << Math.ceil(Math.log2(Math.ceil(D / 4)))));
}

/** x[i] += y[i] for i < n. Reads y, updates x. */
export function addInto(r: Recorder, x: Tensor, y: Tensor, n: number): void {
  // sum_rows's constants must be declared for the module to compile; add_into ignores them.
  const k = r.gpu.kernel({ file: FILE, code: src, entry: "add_into", constants: { COLS: 1, ACCUMULATE: false } });
  const { workgroups, row } = grid1d(n, 256);
  r.dispatch(k, [y, x], workgroups, { u32: [n, 0, 0, row] });
}

/**
 * out[offset + c] = Σ_p partials[p·cols + c] for c < cols (or += with `accumulate`), summed in a
 * fixed order. Reads partials [P, cols]; writes out[offset .. offset + cols).
 */
export function sumRows(
  r: Recorder, partials: Tensor, out: Tensor, P: number, cols: number, offset = 0, accumulate = false,
): void {
  const colsPerGroup = cols >= 8 ? 8 : 1;
  const k = r.gpu.kernel({ file: FILE, code: src, entry: "sum_rows", constants: { COLS: colsPerGroup, ACCUMULATE: accumulate } });
  r.dispatch(k, [partials, out], Math.ceil(cols / colsPerGroup), { u32: [P, cols, offset, 0] });
}
