/**
 * When the subgroup-matrix (tensor-core) kernels run, on devices that offer them:
 *   "measured" (the default): a tensor-core kernel is chosen only where its figures, measured on
 *              a GPU and recorded beside the kernel (docs/BENCHMARKS.md), beat its SIMT form;
 *   "force":   wherever the device can run one (benchmarks, and tests of the kernels);
 *   "off":     never.
 * Why a default that waits for measurements: on an H200 the first tensor-core matmul tiles ran at
 * 3–7 TFLOP/s against 33 for the f16 SIMT kernel, and f16 training that used them was slower
 * than f32. A kernel that has not beaten SIMT on real hardware is not picked by itself.
 *
 * Set by $IFLAME_TENSOR_CORES (read once) or by `setTensorCores` (tests, benchmarks).
 */
import { z } from "zod";

export const TensorCoresSchema = z.enum(["measured", "force", "off"]);
export type TensorCores = z.infer<typeof TensorCoresSchema>;

let policy: TensorCores | null = null;

/** The policy in force (see the module comment). */
export function tensorCores(): TensorCores {
  if (policy === null) {
    const raw = process.env.IFLAME_TENSOR_CORES ?? "measured";
    const parsed = TensorCoresSchema.safeParse(raw);
    if (!parsed.success) throw new Error(`IFLAME_TENSOR_CORES=${raw}: expected one of ${TensorCoresSchema.options.join(", ")}`);
    policy = parsed.data;
  }
  return policy;
}

/** Sets the policy for the rest of the process; returns the one it replaces. */
export function setTensorCores(next: TensorCores): TensorCores {
  const previous = tensorCores();
  policy = next;
  return previous;
}

/**
 * Whether a tensor-core kernel the device can run should run: `measuredFaster` is what the
 * kernel's recorded GPU figures say against its SIMT form (false while unmeasured).
 */
export function useTensorCores(o: { measuredFaster: boolean }): boolean {
  const p = tensorCores();
  return p === "force" || (p === "measured" && o.measuredFaster);
}
