import { FIRST_LOSS_POSITION } from "../model/constants.ts";
import { TOKENS } from "../tokenizer/tokens.ts";
import { type FloatArray, checkLength, zerosLike } from "./array.ts";

/** Pad targets are ignored (CrossEntropyLoss(ignore_index=129) in the reference). */
const PAD_TOKEN = TOKENS.pad;

/**
 * Per-position targets for the reference's loss, which compares logits[:, 8:-1] with tokens[:, 9:].
 * Returns targets [B·L] aligned with the full logits [B, L, V]: targets[b·L + p] = tokens[b, p+1]
 * for 8 ≤ p ≤ L−2, and PAD_TOKEN (ignored) elsewhere, so crossEntropy over all B·L rows gives
 * exactly the reference's loss, and its dlogits is already the gradient of the full logits.
 */
export function lossTargets(tokens: ArrayLike<number>, B: number, L: number): Int32Array {
  checkLength(tokens, B * L, "lossTargets tokens");
  const targets = new Int32Array(B * L).fill(PAD_TOKEN);
  for (let b = 0; b < B; b++) {
    for (let p = FIRST_LOSS_POSITION; p < L - 1; p++) targets[b * L + p] = tokens[b * L + p + 1];
  }
  return targets;
}

/**
 * Softmax cross-entropy over V classes for logits [N, V] and targets [N]; rows whose target is
 * `ignoreIndex` contribute nothing. The reference reduces by the mean over non-ignored rows, so
 *   lossSum = Σ_rows (lse_n − logits[n, target_n]),   count = number of non-ignored rows,
 *   correct = non-ignored rows whose argmax (first maximum, like torch) equals the target,
 *   dlogits[n, :] = (softmax(logits[n, :]) − onehot(target_n)) / count   (gradient of lossSum / count),
 * dlogits is zero on ignored rows and everywhere when count is 0.
 */
export function crossEntropy<T extends FloatArray>(
  logits: T, targets: ArrayLike<number>, N: number, V: number, ignoreIndex = PAD_TOKEN,
): { lossSum: number; count: number; correct: number; dlogits: T } {
  checkLength(logits, N * V, "crossEntropy logits");
  checkLength(targets, N, "crossEntropy targets");
  let count = 0;
  for (let n = 0; n < N; n++) if (targets[n] !== ignoreIndex) count++;
  let lossSum = 0, correct = 0;
  const dlogits = zerosLike(logits, N * V);
  for (let n = 0; n < N; n++) {
    const target = targets[n];
    if (target === ignoreIndex) continue;
    const row = n * V;
    let argmax = 0;
    for (let c = 1; c < V; c++) if (logits[row + c] > logits[row + argmax]) argmax = c;
    const max = logits[row + argmax];
    let sum = 0;
    for (let c = 0; c < V; c++) sum += Math.exp(logits[row + c] - max);
    const lse = max + Math.log(sum);
    lossSum += lse - logits[row + target];
    if (argmax === target) correct++;
    for (let c = 0; c < V; c++) {
      dlogits[row + c] = (Math.exp(logits[row + c] - lse) - (c === target ? 1 : 0)) / count;
    }
  }
  return { lossSum, count, correct, dlogits };
}
