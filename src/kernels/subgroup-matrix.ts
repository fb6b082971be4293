/**
 * Subgroup matrices (tensor cores: Vulkan cooperative matrices behind Dawn's experimental
 * subgroup-matrix feature), as the kernels that use them share them (matmul-subgroup-matrix.ts,
 * attention-matrices.ts). Such a kernel's module is one spelling of the matrix builtins
 * (wgsl/subgroup-matrix*.wgsl: the matrix types and their loads and stores) followed by the
 * kernel's body, which declares the workgroup arrays they read and write.
 *
 * Dawn has spelled the loads and stores two ways (majorness as a bool argument, later as a
 * template argument); a kernel's first compile picks the one this Dawn accepts (`findSpelling`).
 * The third, "emulated", holds matrices in plain arrays: slow, for tests of the bodies on
 * devices without subgroup matrices.
 */
import type { SubgroupMatrixConfig } from "../../ffi/webgpu.ts";
import type { KernelSpec, ScalarType } from "../gpu/kernel.ts";
import type { Gpu, Kernel } from "../gpu/runtime.ts";

/** The file of each spelling of Dawn's builtins (see the module comment). */
const SPELLINGS = { "bool argument": "subgroup-matrix.wgsl", "template argument": "subgroup-matrix-templated.wgsl" } as const;
export type Spelling = keyof typeof SPELLINGS | "emulated";
const FILES: Record<Spelling, string> = { ...SPELLINGS, emulated: "subgroup-matrix-emulated.wgsl" };

/** The matrices a kernel is built for: the device's shape, the spelling, and the subgroup width. */
export interface MatrixSetup {
  config: SubgroupMatrixConfig;
  spelling: Spelling;
  /** The adapter's largest subgroup size: workgroup sizes are multiples of it. */
  subgroupSize: number;
}

/** The device's f16 × f16 → f32 matrix shape (the largest, or the largest passing `fits`), or null. */
export function f16MatrixConfig(gpu: Gpu, fits: (c: SubgroupMatrixConfig) => boolean = () => true): SubgroupMatrixConfig | null {
  const configs = (gpu.features.subgroupMatrix ?? []).filter((c) => c.component === "f16" && c.result === "f32" && fits(c));
  return configs.sort((x, y) => y.M * y.N * y.K - x.M * x.N * x.K)[0] ?? null;
}

/** The setup of this device's f16 matrices with a spelling still to find, or null without them. */
export function deviceMatrices(gpu: Gpu, fits?: (c: SubgroupMatrixConfig) => boolean): MatrixSetup | null {
  const config = f16MatrixConfig(gpu, fits);
  if (!config || !gpu.features.f16 || !gpu.features.subgroups) return null;
  return { config, spelling: "bool argument", subgroupSize: gpu.dev.info.subgroupMaxSize };
}

/**
 * The kernel of `spec.file` (a body) on `m`'s matrices: constants SM_M, SM_N, SM_K (the matrix
 * shape) and SUBGROUP_SIZE, type MAT_T (the matrices' component type) join the spec's.
 */
export function matrixKernel(gpu: Gpu, m: MatrixSetup, spec: KernelSpec): Kernel {
  return gpu.kernel({
    ...spec,
    file: `${spec.file} (${m.spelling})`,
    code: `//#include "${FILES[m.spelling]}"\n//#include "${spec.file}"\n`,
    constants: { ...spec.constants, SM_M: m.config.M, SM_N: m.config.N, SM_K: m.config.K, SUBGROUP_SIZE: m.subgroupSize },
    types: { ...spec.types, MAT_T: m.config.component as ScalarType },
  });
}

/** The spelling in which `compile` succeeds (it throws otherwise), or the errors of both. */
export function findSpelling(compile: (spelling: Spelling) => unknown): { spelling: Spelling } | { problem: string } {
  const errors: string[] = [];
  for (const spelling of Object.keys(SPELLINGS) as (keyof typeof SPELLINGS)[]) {
    try {
      compile(spelling);
      return { spelling };
    } catch (e) {
      errors.push(`${spelling}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  return { problem: `the subgroup-matrix kernel compiles in neither spelling (${errors.join("; ")})` };
}
