/**
 * The model's arithmetic precision (docs/MIXED-PRECISION.md). "f32": everything f32. "f16" (mixed
 * precision, as PyTorch's fp16 autocast trains): the f32 master weights stay the parameters the
 * optimizer updates; the products read f16 copies of the Linear weights (cast after every
 * optimizer step) and f16 copies of their input activations; norms, softmax statistics, the
 * linear-attention state, the loss, gradients and every reduction stay f32.
 */
import type { Gpu, Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { cast } from "../kernels/cast.ts";
import { matmul } from "../kernels/matmul.ts";
import type { Network } from "./config.ts";
import { paramSpecs, resolveWeights, type ModelWeights } from "./params.ts";

export type Precision = "f32" | "f16";
export type PrecisionChoice = Precision | "auto";

/** Parameters the products read: the Linear weights (2-D, uniform init), not the embedding table. */
export const matmulWeightNames = (network: Network): string[] =>
  paramSpecs(network).filter((s) => s.init === "uniform" && s.shape.length === 2).map((s) => s.name);

/** f16 copies of the Linear weights of `params`, refreshed from them by `record`. */
export class HalfWeights {
  readonly tensors = new Map<string, Tensor>();

  constructor(private readonly gpu: Gpu, private readonly params: ReadonlyMap<string, Tensor>, network: Network) {
    for (const name of matmulWeightNames(network)) {
      const master = params.get(name);
      if (!master) throw new Error(`f16 weights: no parameter ${name}`);
      this.tensors.set(name, gpu.tensor(master.shape, "f16", `${name} f16`));
    }
  }

  /** Records copy ← master for every Linear weight (one cast each). */
  record(r: Recorder): void {
    for (const [name, half] of this.tensors) cast(r, { src: this.params.get(name)!, dst: half, label: "f16 weights" });
  }

  destroy(): void {
    for (const t of this.tensors.values()) this.gpu.destroy(t);
  }
}

/**
 * The weight records the forward reads: every parameter from `params`, except the Linear weights,
 * which come from `half` when given.
 */
export function computeWeights(network: Network, params: ReadonlyMap<string, Tensor>, half: HalfWeights | null, who: string): ModelWeights<Tensor> {
  return resolveWeights(network, (name) => {
    const t = half?.tensors.get(name) ?? params.get(name);
    if (!t) throw new Error(`${who}: no parameter ${name}`);
    return t;
  });
}

/**
 * Resolves --precision. "auto" picks f16 where the device has shader-f16 and a start-up self-check
 * passes (a small f16 product against the CPU), else f32; `log` gets one line saying which and why.
 */
export function resolvePrecision(gpu: Gpu, choice: PrecisionChoice, log: (line: string) => void): Precision {
  if (choice === "f32") return "f32";
  if (!gpu.features.f16) {
    if (choice === "f16") throw new Error("--precision f16: this device has no shader-f16 (try --precision auto or f32)");
    log("precision f32 (auto: the device has no shader-f16)");
    return "f32";
  }
  const problem = halfSelfCheck(gpu);
  if (choice === "f16") {
    if (problem) throw new Error(`--precision f16: the f16 self-check failed: ${problem}`);
    log("precision f16 (requested; self-check passed)");
    return "f16";
  }
  log(problem ? `precision f32 (auto: the f16 self-check failed: ${problem})` : "precision f16 (auto: shader-f16 and the self-check passed)");
  return problem ? "f32" : "f16";
}

/**
 * A 24×40×56 product of f16 operands, f32 out, against the same sum on the CPU over the same
 * f16 values: null when within 1e-4 of the largest entry, else what went wrong.
 */
export function halfSelfCheck(gpu: Gpu): string | null {
  const M = 24, N = 40, K = 56;
  const a = Float16Array.from({ length: M * K }, (_, i) => Math.sin(i * 0.37));
  const b = Float16Array.from({ length: K * N }, (_, i) => Math.cos(i * 0.11));
  const [ta, tb] = [gpu.upload(a, [M, K], "self-check a"), gpu.upload(b, [K, N], "self-check b")];
  const tc = gpu.tensor([M, N], "f32", "self-check c");
  try {
    gpu.record((r) => matmul(r, { a: ta, b: tb, out: tc, label: "f16 self-check" }));
    const c = gpu.read(tc) as Float32Array;
    let worst = 0, largest = 0;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[i * K + k] * b[k * N + j];
        worst = Math.max(worst, Math.abs(c[i * N + j] - s));
        largest = Math.max(largest, Math.abs(s));
      }
    }
    return worst <= 1e-4 * Math.max(1, largest) ? null : `largest error ${worst.toExponential(2)} (largest entry ${largest.toFixed(2)})`;
  } catch (e) {
    return (e as Error).message;
  } finally {
    for (const t of [ta, tb, tc]) gpu.destroy(t);
  }
}
