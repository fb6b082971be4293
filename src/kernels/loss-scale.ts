/**
 * Dynamic loss scaling for f16 training, on the GPU with no readback (wgsl/loss-scale.wgsl),
 * with torch.amp.GradScaler's semantics and defaults: the scale S starts at 2^16
 * (createOptimStep(gpu, { lossScale: LOSS_SCALE_INIT })); the backward pass starts from the loss
 * gradient times S (scaleByLossScale); gradNorm divides by S and flags Inf/NaN, so the optimizer
 * kernels see unscaled gradients and skip an overflowed step (parameters and their state stay
 * untouched); updateLossScale then halves S after an overflow, or doubles it after 2000 clean
 * steps in a row. S and its growth tracker live in the optimizer's step tensor (optim.ts STEP).
 *
 * A step:  scaleByLossScale(dlogits) → backward → gradNorm → optimizer updates → updateLossScale.
 * One difference from PyTorch: a skipped step still advances the AdamW bias-correction count
 * (the CPU writes it without reading the flag back).
 */
import { grid1d, type Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { STEP } from "./optim.ts";

export const LOSS_SCALE_INIT = 2 ** 16;

export interface LossScaleUpdate {
  /** The optimizer's step tensor (createOptimStep), after gradNorm has flagged this step. */
  step: Tensor;
  growthFactor?: number;
  backoffFactor?: number;
  growthInterval?: number;
  label?: string;
}

/** x *= S (the loss gradient that seeds the backward pass). Reads the step tensor, updates x (f32). */
export function scaleByLossScale(r: Recorder, o: { x: Tensor; step: Tensor; label?: string }): void {
  if (o.x.dtype !== "f32") throw new Error(`scaleByLossScale: x (${o.x.label}) is ${o.x.dtype}, expected f32`);
  const n = o.x.size;
  const k = r.gpu.kernel({ file: "scale-by-loss-scale.wgsl", entry: "scale_by_loss_scale", constants: { STEP_LOSS_SCALE: STEP.lossScale } });
  const { workgroups, row } = grid1d(n, 256);
  r.span(o.label ?? "loss scale", () => `n=${n}`, () => r.dispatch(k, [o.x, o.step], workgroups, { u32: [n, row] }));
}

/** GradScaler.update() on the GPU: adjusts S and its growth tracker in the step tensor. */
export function updateLossScale(r: Recorder, o: LossScaleUpdate): void {
  const { growthFactor = 2, backoffFactor = 0.5, growthInterval = 2000 } = o;
  const k = r.gpu.kernel({
    file: "loss-scale.wgsl", entry: "update_loss_scale",
    constants: {
      STEP_LOSS_SCALE: STEP.lossScale, STEP_CLEAN_STEPS: STEP.cleanSteps, STEP_NON_FINITE: STEP.nonFinite,
      GROWTH: { f32: growthFactor }, BACKOFF: { f32: backoffFactor }, GROWTH_INTERVAL: growthInterval,
    },
  });
  r.span(o.label ?? "loss scale", () => "update", () => r.dispatch(k, [o.step], 1));
}
