/**
 * Linear attention's recurrence on subgroup matrices (tensor cores; the kernel and its numerics:
 * wgsl/linear-attention-matrices-body.wgsl): the chunk-state and emitting passes of
 * linear-attention.ts with f16 operands, f32 sums and an f32 state, on devices with Dawn's
 * subgroup-matrix feature and an f16 × f16 → f32 configuration. linear-attention.ts picks it (see
 * `linearAttentionMatrices` there); the scan over chunks stays the SIMT one.
 */
import type { SubgroupMatrixConfig } from "../../ffi/adapter.ts";
import type { Gpu, Kernel } from "../gpu/runtime.ts";
import { f16MatrixConfig } from "./matmul-subgroup-matrix.ts";
import { findSpelling, spellingFile, type Spelling } from "./subgroup-matrix-spelling.ts";

/** How the recurrence runs on a device's matrices. */
export interface RecurrenceMatrices {
  /** The matrix shape (f16 × f16 → f32); M, N and K divide 32. */
  config: SubgroupMatrixConfig;
  spelling: Spelling;
}

/**
 * Whether GPU measurements showed the matrix recurrence faster than SIMT (tensor-cores.ts): not
 * measured yet (scripts/bench/linear-attention.ts has both), so it runs only when forced.
 */
export const MATRICES_MEASURED_FASTER = false;

/** The kernel's workgroup size (THREADS in the WGSL): the adapter's subgroups must divide it. */
const THREADS = 128;
/** Its workgroup memory: five 32×32 f16 operands and a 32×32 f32 result stage. */
const WORKGROUP_BYTES = 5 * 32 * 32 * 2 + 32 * 32 * 4;

export function recurrenceKernel(gpu: Gpu, m: RecurrenceMatrices): Kernel {
  return gpu.kernel({
    file: spellingFile("linear-attention-matrices", m.spelling), entry: "recurrence",
    constants: { SM_M: m.config.M, SM_N: m.config.N, SM_K: m.config.K },
  });
}

const known = new WeakMap<Gpu, { matrices: RecurrenceMatrices | null; problem: string | null }>();

function probe(gpu: Gpu): { matrices: RecurrenceMatrices | null; problem: string | null } {
  const config = f16MatrixConfig(gpu);
  if (!config || !gpu.features.f16 || !gpu.features.subgroups) return { matrices: null, problem: "the device has no f16 × f16 → f32 subgroup matrices" };
  if ([config.M, config.N, config.K].some((d) => 32 % d !== 0)) return { matrices: null, problem: `matrices ${config.M}×${config.N}×${config.K} do not divide 32` };
  if (THREADS % gpu.dev.info.subgroupMaxSize !== 0) return { matrices: null, problem: `subgroups of ${gpu.dev.info.subgroupMaxSize} do not divide ${THREADS}` };
  if (WORKGROUP_BYTES > gpu.limits.maxComputeWorkgroupStorageSize) return { matrices: null, problem: `${WORKGROUP_BYTES} bytes of workgroup memory needed` };
  const found = findSpelling("linear attention", (spelling) => recurrenceKernel(gpu, { config, spelling }));
  if ("problem" in found) {
    console.error(`linear attention: no tensor-core recurrence: ${found.problem}`);
    return { matrices: null, problem: found.problem };
  }
  return { matrices: { config, spelling: found.spelling }, problem: null };
}

/** The device's matrix recurrence (compiled once to find Dawn's spelling), or null and why not. */
export function recurrenceMatrices(gpu: Gpu): { matrices: RecurrenceMatrices | null; problem: string | null } {
  let k = known.get(gpu);
  if (!k) known.set(gpu, (k = probe(gpu)));
  return k;
}
