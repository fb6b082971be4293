/**
 * Elementwise helpers and the second stage of the deterministic reductions (wgsl/elementwise.wgsl).
 * All tensors f32, flat.
 */
import { grid1d, type Recorder } from "../gpu/runtime.ts";
import { checkTensorSizes, lastDim, type Tensor } from "../gpu/tensor.ts";

const FILE = "elementwise.wgsl";

/**
 * Threads of a kernel that gives each row of width D one workgroup (RMSNorm, embedding): about 4
 * columns per thread, 32..256 threads, a power of two (for tree reductions).
 */
export function rowThreads(D: number): number {
  if (!Number.isInteger(D) || D < 1 || D > 4096) throw new Error(`row width ${D} is not in 1..4096`);
  return Math.min(256, Math.max(32, 1 << Math.ceil(Math.log2(Math.ceil(D / 4)))));
}

/** x += y, elementwise over x (y at least as large). Reads y, updates x. */
export function addInto(r: Recorder, o: { x: Tensor; y: Tensor; label?: string }): void {
  const n = o.x.size;
  checkTensorSizes("addInto", { y: [o.y, n] });
  // sum_rows's constants must be declared for the module to compile; add_into ignores them.
  const k = r.gpu.kernel({ file: FILE, entry: "add_into", constants: { COLS: 1, ACCUMULATE: false } });
  const { workgroups, row } = grid1d(n, 256);
  r.span(o.label ?? "add", () => `n=${n}`, () => r.dispatch(k, [o.y, o.x], workgroups, { u32: [n, 0, 0, row] }));
}

export interface SumRows {
  /** [P, cols]. */
  partials: Tensor;
  out: Tensor;
  /** Where the sums go in out (default 0). */
  offset?: number;
  /** out += instead of =. */
  accumulate?: boolean;
  label?: string;
}

/**
 * out[offset + c] = Σ_p partials[p, c] for c < cols (or += with `accumulate`), summed in a fixed
 * order. Reads partials; writes out[offset .. offset + cols).
 */
export function sumRows(r: Recorder, o: SumRows): void {
  const cols = lastDim("sumRows", "partials", o.partials);
  const P = o.partials.size / cols;
  const offset = o.offset ?? 0;
  checkTensorSizes("sumRows", { out: [o.out, offset + cols] });
  const colsPerGroup = cols >= 8 ? 8 : 1;
  const k = r.gpu.kernel({ file: FILE, entry: "sum_rows", constants: { COLS: colsPerGroup, ACCUMULATE: o.accumulate ?? false } });
  r.span(o.label ?? "sum rows", () => `${P}×${cols}`, () =>
    r.dispatch(k, [o.partials, o.out], Math.ceil(cols / colsPerGroup), { u32: [P, cols, offset, 0] }));
}
