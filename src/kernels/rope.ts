/**
 * Half-truncated rotary embedding (wgsl/rope.wgsl; SPEC §2, src/cpu/rope.ts). Layouts: x, out,
 * dy, dx [B, L, H, headDim] contiguous; row l of every batch is position `position + l` (0 for a
 * full forward at any hourglass level, the level position for a cached decoding step).
 * Out of place: `out` must not share memory with `x` (a writable binding may not alias another).
 */
import { grid1d, type Gpu, type Recorder } from "../gpu/runtime.ts";
import { checkTensorSizes, rowsOf, type Tensor } from "../gpu/tensor.ts";
import { ropeTables as cpuRopeTables } from "../cpu/rope.ts";

/** cos θ and sin θ for positions 0..maxLen−1: [maxLen, 2, headDim/2] (cosines, then sines). */
export interface RopeTables {
  table: Tensor;
  maxLen: number;
  headDim: number;
}

const tablesCache = new WeakMap<Gpu, Map<string, RopeTables>>();

/**
 * The tables for positions below maxLen, uploaded once per (maxLen, headDim) and kept for the
 * process. Angles and cosines are those of the CPU reference (f32 angle t·f, cosine in f64), so
 * the GPU matches it whatever t.
 */
export function ropeTables(gpu: Gpu, maxLen: number, headDim: number): RopeTables {
  let perGpu = tablesCache.get(gpu);
  if (!perGpu) tablesCache.set(gpu, (perGpu = new Map()));
  const key = `${maxLen}x${headDim}`;
  let t = perGpu.get(key);
  if (!t) {
    if (headDim % 8 !== 0) throw new Error(`rope: head dim ${headDim} is not a multiple of 8`);
    const half = headDim / 2;
    const { cos, sin } = cpuRopeTables(maxLen, headDim);
    const rows = new Float32Array(maxLen * headDim);
    for (let l = 0; l < maxLen; l++) {
      rows.set(cos.subarray(l * half, (l + 1) * half), l * headDim);
      rows.set(sin.subarray(l * half, (l + 1) * half), l * headDim + half);
    }
    t = { table: gpu.upload(rows, [maxLen, 2, half], `rope table ${key}`), maxLen, headDim };
    perGpu.set(key, t);
  }
  return t;
}

export interface Rope {
  /** [B, L, H, headDim] (or [B·L, H·headDim]); headDim is the tables'. */
  x: Tensor;
  out: Tensor;
  B: number;
  H: number;
  tables: RopeTables;
  /** The position of row 0 (default 0). */
  position?: number;
  label?: string;
}

function rotate(r: Recorder, o: Rope, direction: 1 | -1): void {
  const op = direction === 1 ? "ropeForward" : "ropeBackward";
  const hd = o.tables.headDim;
  const { B, H } = o;
  const position = o.position ?? 0;
  const L = rowsOf(op, "x", o.x, B * H * hd);
  const n = B * L * H * hd;
  checkTensorSizes(op, { out: [o.out, n] });
  if (o.x.buffer === o.out.buffer) throw new Error(`${op}: out must not share x's buffer`);
  if (position + L > o.tables.maxLen) throw new Error(`${op}: positions up to ${position + L - 1} exceed the table's ${o.tables.maxLen}`);
  const k = r.gpu.kernel({ file: "rope.wgsl", entry: "rotate", constants: { HD: hd } });
  const threads = n / 8;
  const { workgroups, row } = grid1d(threads, 256);
  r.span(o.label ?? "rope", () => `B=${B} L=${L} H=${H}`, () =>
    r.dispatch(k, [o.x, o.tables.table, o.out], workgroups, { u32: [threads, L, H, position, row], f32: [direction] }));
}

/** Reads x; writes out = RoPE(x). */
export function ropeForward(r: Recorder, o: Rope): void {
  rotate(r, o, 1);
}

/** Reads x (the gradient dy); writes out = Rᵀ dy (the inverse rotation). */
export function ropeBackward(r: Recorder, o: Rope): void {
  rotate(r, o, -1);
}
