/**
 * torch.amp.GradScaler's dynamic loss scale as a state machine (the reference for
 * src/kernels/loss-scale.ts): after each step, an overflow (any gradient Inf/NaN) multiplies the
 * scale by `backoffFactor` and restarts the count of clean steps; `growthInterval` clean steps in
 * a row multiply it by `growthFactor` (if the result is finite) and restart the count.
 */
export interface LossScaleState {
  scale: number;
  cleanSteps: number;
}

export interface LossScaleOptions {
  growthFactor?: number;
  backoffFactor?: number;
  growthInterval?: number;
}

export function lossScaleState(scale = 2 ** 16): LossScaleState {
  return { scale, cleanSteps: 0 };
}

/** The state after a step whose gradients were (`overflow`) or were not finite; f32 arithmetic as on the GPU. */
export function updateLossScale(s: LossScaleState, overflow: boolean, o: LossScaleOptions = {}): LossScaleState {
  const { growthFactor = 2, backoffFactor = 0.5, growthInterval = 2000 } = o;
  if (overflow) return { scale: Math.fround(s.scale * backoffFactor), cleanSteps: 0 };
  const clean = s.cleanSteps + 1;
  if (clean < growthInterval) return { scale: s.scale, cleanSteps: clean };
  const grown = Math.fround(s.scale * growthFactor);
  return { scale: Number.isFinite(grown) ? grown : s.scale, cleanSteps: 0 };
}

/** clip_grad_norm_ after GradScaler.unscale_: the true norm of gradients held as S·g, and the factor that turns S·g into clipped g. */
export function unscaledClip(scaledNorm: number, scale: number, maxNorm = 1): { norm: number; gradFactor: number } {
  const norm = scaledNorm / scale;
  return { norm, gradFactor: Math.min(1, maxNorm / (norm + 1e-6)) / scale };
}
