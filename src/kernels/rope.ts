/**
 * Half-truncated rotary embedding (wgsl/rope.wgsl; SPEC §2, tables from src/model/tables.ts). Layouts: x, out,
 * dy, dx [B, L, H, headDim] contiguous; row l of every batch is position `position + l` (0 for a
 * full forward at any hourglass level, the level position for a cached decoding step).
 * Out of place: `out` must not share memory with `x` (a writable binding may not alias another).
 */
import { grid1d, type Gpu, type Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { ropeTables as hostRopeTables } from "../model/tables.ts";
import src from "../../wgsl/rope.wgsl" with { type: "text" };

/** cos θ and sin θ for positions 0..maxLen−1: [maxLen, 2, headDim/2] (cosines, then sines). */
export interface RopeTables {
  table: Tensor;
  maxLen: number;
  headDim: number;
}

const tablesCache = new WeakMap<Gpu, Map<string, RopeTables>>();

/**
 * The tables for positions below maxLen, uploaded once per (maxLen, headDim) and kept for the
 * process. Angles and cosines are the model's (f32 angle t·f, cosine in f64), so the GPU
 * matches the CPU reference whatever t.
 */
export function ropeTables(gpu: Gpu, maxLen: number, headDim: number): RopeTables {
  let perGpu = tablesCache.get(gpu);
  if (!perGpu) tablesCache.set(gpu, (perGpu = new Map()));
  const key = `${maxLen}x${headDim}`;
  let t = perGpu.get(key);
  if (!t) {
    if (headDim % 8 !== 0) throw new Error(`rope: head dim ${headDim} is not a multiple of 8`);
    const half = headDim / 2;
    const { cos, sin } = hostRopeTables(maxLen, headDim);
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

function rotate(
  r: Recorder, x: Tensor, out: Tensor, B: number, L: number, H: number, tables: RopeTables, position: number, direction: 1 | -1,
): void {
  const hd = tables.headDim;
  const n = B * L * H * hd;
  if (x.size < n || out.size < n) throw new Error(`rope: x has ${x.size}, out ${out.size} elements; [${B},${L},${H},${hd}] needs ${n}`);
  if (x.buffer === out.buffer) throw new Error("rope: out must not share x's buffer");
  if (position + L > tables.maxLen) throw new Error(`rope: positions up to ${position + L - 1} exceed the table's ${tables.maxLen}`);
  const k = r.gpu.kernel({ file: "rope.wgsl", code: src, entry: "rotate", constants: { HD: hd } });
  const threads = n / 8;
  const { workgroups, row } = grid1d(threads, 256);
  r.dispatch(k, [x, tables.table, out], workgroups, { u32: [threads, L, H, position, row], f32: [direction] });
}

/** Reads x; writes out = RoPE(x). */
export function ropeForward(
  r: Recorder, x: Tensor, out: Tensor, B: number, L: number, H: number, tables: RopeTables, position = 0,
): void {
  rotate(r, x, out, B, L, H, tables, position, 1);
}

/** Reads dy; writes dx = Rᵀ dy (the inverse rotation). */
export function ropeBackward(
  r: Recorder, dy: Tensor, dx: Tensor, B: number, L: number, H: number, tables: RopeTables, position = 0,
): void {
  rotate(r, dy, dx, B, L, H, tables, position, -1);
}
