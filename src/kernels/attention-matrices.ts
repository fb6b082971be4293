/**
 * Causal attention on subgroup matrices (tensor cores): the kernels of
 * wgsl/attention-matrices-forward-body.wgsl, -dq-body.wgsl and -dkdv-body.wgsl, each with a top
 * file per spelling of the matrix builtins (subgroup-matrix-spelling.ts). Same bindings, params,
 * layouts and results as the SIMT kernels; attention.ts picks between them (`attentionMatrices`).
 *
 * Precision: q, k, v f16 (the matrices' operands); scores, softmax statistics and sums f32. The
 * forward's P and the backward's dout and dS are rounded to f16 for their products (dout is f32
 * in memory): the SIMT kernels keep them f32 (tolerances in tests/kernels-attention-matrices.test.ts).
 */
import type { SubgroupMatrixConfig } from "../../ffi/webgpu.ts";
import type { KernelSpec } from "../gpu/kernel.ts";
import type { Gpu, Kernel } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { f16MatrixConfig } from "./matmul-subgroup-matrix.ts";
import { findSpelling, spellingFile, type Spelling } from "./subgroup-matrix-spelling.ts";
import { useTensorCores } from "./tensor-cores.ts";

/**
 * Per kernel: WG threads, BQ queries and BKV keys per tile (the forward and dq own BQ queries and
 * stream keys; dk/dv owns BKV keys and streams queries). Not yet tuned on a GPU; chosen to fit
 * 32 KB of workgroup memory (forward 24.6 KB, dq and dk/dv 24.6 KB at head dim 32).
 */
export interface MatrixAttentionTiles {
  forward: { WG: number; BQ: number; BKV: number };
  dq: { WG: number; BQ: number; BKV: number };
  dkdv: { WG: number; BQ: number; BKV: number };
}

export const MATRIX_ATTENTION_TILES: MatrixAttentionTiles = {
  forward: { WG: 128, BQ: 64, BKV: 32 },
  dq: { WG: 64, BQ: 32, BKV: 32 },
  dkdv: { WG: 64, BQ: 32, BKV: 32 },
};

/** Not yet measured against the SIMT kernels on a GPU: they run only under IFLAME_TENSOR_CORES=force. */
const MEASURED_FASTER = false;

/** The matrices the kernels are built for: the device's f16 shape, the spelling, the tiles. */
export interface AttentionMatrices {
  config: SubgroupMatrixConfig;
  spelling: Spelling;
  /** The adapter's largest subgroup size: workgroup sizes are multiples of it. */
  subgroupSize: number;
  tiles: MatrixAttentionTiles;
}

type Part = keyof MatrixAttentionTiles;
const ENTRIES: Record<Part, string> = { forward: "forward", dq: "backward_dq", dkdv: "backward_dkdv" };

/** Rows each thread group shares: the block a workgroup owns (queries, or keys for dk/dv). */
const ownRows = (part: Part, t: { BQ: number; BKV: number }) => (part === "dkdv" ? t.BKV : t.BQ);

/** Workgroup bytes of a kernel at head dim hd (the WGSL files' mat_in and mat_out, 2-byte mat_in). */
function workgroupBytes(part: Part, t: { BQ: number; BKV: number }, hd: number): number {
  const ldh = hd + 8, ldo = hd + 4;
  if (part === "forward") return 2 * ((t.BQ + 2 * t.BKV) * ldh + t.BQ * (t.BKV + 8)) + 4 * t.BQ * Math.max(t.BKV + 4, ldo);
  if (part === "dq") return 2 * (2 * (t.BQ + t.BKV) * ldh + t.BQ * (t.BKV + 8)) + 4 * t.BQ * Math.max(2 * (t.BKV + 4), ldo);
  return 2 * (2 * (t.BKV + t.BQ) * ldh + 2 * t.BKV * (t.BQ + 8)) + 4 * 2 * t.BKV * Math.max(t.BQ + 4, ldo) + 8 * t.BQ;
}

/** Why `m` cannot run attention at head dim hd on this device, or null. */
export function matricesProblem(gpu: Gpu, m: AttentionMatrices, hd: number): string | null {
  const { M, N, K } = m.config;
  for (const part of Object.keys(ENTRIES) as Part[]) {
    const t = m.tiles[part];
    const tpr = t.WG / ownRows(part, t);
    const why =
      t.WG % m.subgroupSize ? `${t.WG} threads are no multiple of the subgroup size ${m.subgroupSize}` :
      !Number.isInteger(tpr) || tpr & (tpr - 1) || tpr > gpu.dev.info.subgroupMinSize ? `${tpr} threads per row must be a power of two within a subgroup` :
      t.BQ % M || t.BQ % N || t.BQ % K || t.BKV % M || t.BKV % N || t.BKV % K || t.BQ % tpr || t.BKV % tpr ? `tiles ${t.BQ}×${t.BKV} do not divide into ${M}×${N}×${K} matrices` :
      hd % N || hd % K || hd % (4 * tpr) ? `head dim ${hd} does not divide into ${M}×${N}×${K} matrices and ${tpr} threads` :
      workgroupBytes(part, t, hd) > gpu.limits.maxComputeWorkgroupStorageSize ? `${workgroupBytes(part, t, hd)} bytes of workgroup memory` : null;
    if (why) return `attention on subgroup matrices (${part}): ${why}`;
  }
  return null;
}

const byGpu = new WeakMap<Gpu, { matrices: AttentionMatrices | null; problem: string | null }>();

/**
 * The device's matrices for attention (its f16 × f16 → f32 shape, in the spelling this Dawn
 * compiles), or null: none, or `deviceAttentionProblem` says why not.
 */
export function deviceAttentionMatrices(gpu: Gpu): AttentionMatrices | null {
  let known = byGpu.get(gpu);
  if (!known) {
    const config = f16MatrixConfig(gpu);
    known = { matrices: null, problem: null };
    if (config && gpu.features.f16 && gpu.features.subgroups) {
      const m: AttentionMatrices = { config, spelling: "bool argument", subgroupSize: gpu.dev.info.subgroupMaxSize, tiles: MATRIX_ATTENTION_TILES };
      known.problem = matricesProblem(gpu, m, 32);
      if (!known.problem) {
        const found = findSpelling("attention", (spelling) => attentionKernel(gpu, { ...m, spelling }, "forward", { hd: 32, types: { QKV_T: "f16", O_T: "f32" } }));
        if ("spelling" in found) known.matrices = { ...m, spelling: found.spelling };
        else known.problem = found.problem;
      }
      if (known.problem) console.error(`attention: no tensor-core kernels: ${known.problem}`);
    }
    byGpu.set(gpu, known);
  }
  return known.matrices;
}

/** Why a device with an f16 matrix shape gets no tensor-core attention, or null. */
export function deviceAttentionProblem(gpu: Gpu): string | null {
  deviceAttentionMatrices(gpu);
  return byGpu.get(gpu)!.problem;
}

/**
 * The matrices attention runs on: `chosen` if given (tests: emulated ones; null: SIMT), else the
 * device's where q, k, v are f16, the head dim fits and tensorCores() allows; null means SIMT.
 */
export function attentionMatrices(gpu: Gpu, q: Tensor, hd: number, chosen?: AttentionMatrices | null): AttentionMatrices | null {
  if (chosen !== undefined) {
    const problem = chosen && (q.dtype !== chosen.config.component ? `q is ${q.dtype}, the matrices take ${chosen.config.component}` : matricesProblem(gpu, chosen, hd));
    if (problem) throw new Error(problem);
    return chosen;
  }
  if (q.dtype !== "f16" || !useTensorCores({ measuredFaster: MEASURED_FASTER })) return null;
  const m = deviceAttentionMatrices(gpu);
  return m && !matricesProblem(gpu, m, hd) ? m : null;
}

/** One of the three kernels on `m`'s matrices; `scale` is 1/sqrt(hd). */
export function attentionKernel(gpu: Gpu, m: AttentionMatrices, part: Part, o: { hd: number; types: KernelSpec["types"] }): Kernel {
  const scale = 1 / Math.sqrt(o.hd);
  const { WG, BQ, BKV } = m.tiles[part];
  const { M, N, K } = m.config;
  return gpu.kernel({
    file: spellingFile(`attention-matrices-${part}`, m.spelling), entry: ENTRIES[part],
    constants: {
      HD: o.hd, WG, BQ, BKV, SCALE: { f32: scale }, SCALE_LOG2E: { f32: scale * Math.LOG2E },
      SM_M: M, SM_N: N, SM_K: K, SUBGROUP_SIZE: m.subgroupSize,
    },
    types: o.types,
  });
}

/** Workgroups of a kernel: blocks of the rows it owns (Lq queries, or Lk keys for dk/dv), times B·H. */
export function attentionGrid(m: AttentionMatrices, part: Part, s: { B: number; H: number; Lq: number; Lk: number }): [number, number] {
  const t = m.tiles[part];
  return [Math.ceil((part === "dkdv" ? s.Lk : s.Lq) / ownRows(part, t)), s.B * s.H];
}
