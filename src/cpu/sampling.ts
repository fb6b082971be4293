import { check } from "./array.ts";

/**
 * Next-token sampling as the reference's generate_sequence: temperature, then softmax, then top-k,
 * then top-p on the top-k probabilities (not renormalised in between), then a multinomial draw.
 * Here the draw takes its uniform u ∈ [0, 1) from the caller (src/util/rng.ts uniform01(seed, counter)), so
 * given logits and u the chosen token is deterministic and a GPU kernel can reproduce it.
 */
export interface SamplingOptions {
  temperature: number;
  /** Keep the topK most probable tokens; ≤ 0 keeps all (reference default 50). */
  topK: number;
  /** Nucleus threshold; ≤ 0 disables it (reference default 0.95). */
  topP: number;
  /** Optional [V]: tokens with mask[i] = 0 can never be drawn (applied before the softmax). */
  mask?: Uint8Array;
}

export const DEFAULT_SAMPLING: SamplingOptions = { temperature: 1, topK: 50, topP: 0.95 };

/**
 * The unnormalised weights the draw uses, [V] in f64 (0 = filtered out):
 * 1. z_i = logits_i / temperature; masked tokens get weight 0 throughout.
 * 2. p = softmax(z) over the allowed tokens.
 * 3. Rank tokens by p descending, ties by lower token id first.
 * 4. top-k: keep ranks 0..topK−1.
 * 5. top-p: walking the ranks with c_r = Σ_{s≤r} p (kept ones), drop rank r > 0 when c_{r−1} > topP
 *    (so the token that crosses topP is kept, and rank 0 always is).
 */
export function samplingWeights(logits: ArrayLike<number>, opts: SamplingOptions): Float64Array {
  const V = logits.length;
  check(opts.temperature > 0, `sampling: temperature ${opts.temperature} must be > 0`);
  check(!opts.mask || opts.mask.length === V, "sampling: mask length differs from vocabulary");
  const allowed = (i: number) => !opts.mask || opts.mask[i] !== 0;
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (allowed(i)) max = Math.max(max, logits[i] / opts.temperature);
  check(max > -Infinity, "sampling: every token is masked");
  const p = new Float64Array(V);
  let sum = 0;
  for (let i = 0; i < V; i++) {
    if (!allowed(i)) continue;
    p[i] = Math.exp(logits[i] / opts.temperature - max);
    sum += p[i];
  }
  for (let i = 0; i < V; i++) p[i] /= sum;

  const rank = Array.from({ length: V }, (_, i) => i).sort((a, b) => p[b] - p[a] || a - b);
  const keep = opts.topK > 0 ? Math.min(opts.topK, V) : V;
  const weights = new Float64Array(V);
  let cumulative = 0;
  for (let r = 0; r < keep; r++) {
    if (opts.topP > 0 && r > 0 && cumulative > opts.topP) break;
    weights[rank[r]] = p[rank[r]];
    cumulative += p[rank[r]];
  }
  return weights;
}

/**
 * Inverse-CDF draw in token-id order: the smallest i with Σ_{j≤i} w_j > u · Σ_j w_j, where w is
 * samplingWeights (the last kept token if rounding leaves none).
 */
export function sampleToken(logits: ArrayLike<number>, u: number, opts: SamplingOptions = DEFAULT_SAMPLING): number {
  check(u >= 0 && u < 1, `sampling: uniform ${u} outside [0, 1)`);
  const w = samplingWeights(logits, opts);
  let total = 0;
  for (let i = 0; i < w.length; i++) total += w[i];
  const threshold = u * total;
  let cumulative = 0, last = 0;
  for (let i = 0; i < w.length; i++) {
    if (w[i] === 0) continue;
    cumulative += w[i];
    last = i;
    if (cumulative > threshold) return i;
  }
  return last;
}
