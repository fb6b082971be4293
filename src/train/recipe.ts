/**
 * The reference's training recipe (iFlame.py: get_optimizer and the LambdaLR schedule): the
 * learning rate schedule, the weight decay and which parameters Muon updates. Plain functions
 * of numbers and names, read by the GPU optimizer, the trainer and the CPU optimizer reference.
 */

export const LR = 1e-3;
export const MIN_LR = 1.28e-6;
export const WEIGHT_DECAY = 0.1;

/**
 * Which parameters Muon updates — the reference's exact rule: ndim ≥ 2 and the name contains
 * neither "embed_tokens" nor "output_proj". NB: the embedding is named "embedding", so
 * embedding.weight [132, D] IS updated by Muon in the reference (SPEC §3 says it is excluded);
 * output_proj.weight, biases, norm weights and skip_weights2 go to the AdamW part.
 */
export function usesMuon(name: string, shape: readonly number[]): boolean {
  return shape.length >= 2 && !name.includes("embed_tokens") && !name.includes("output_proj");
}

/**
 * Learning rate of optimizer step `step` (0-based; the reference's LambdaLR gives step 0 lr 0)
 * out of `totalSteps`, with warmup = floor(totalSteps / 10) steps:
 *   step < warmup:  lr · step / max(1, warmup)
 *   otherwise:      minLr + (lr − minLr) · ½(1 + cos(π · (step − warmup) / max(1, totalSteps − warmup)))
 */
export function learningRate(step: number, totalSteps: number, lr = LR, minLr = MIN_LR): number {
  if (!(step >= 0 && totalSteps > 0)) throw new Error(`learningRate: bad step ${step} of ${totalSteps}`);
  const warmup = Math.floor(totalSteps / 10);
  if (step < warmup) return (lr * step) / Math.max(1, warmup);
  const progress = (step - warmup) / Math.max(1, totalSteps - warmup);
  return minLr + (lr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
