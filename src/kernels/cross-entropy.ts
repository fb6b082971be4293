/**
 * The training loss (wgsl/cross-entropy.wgsl): softmax cross-entropy of logits [B, L, V] against
 * the next tokens, SPEC §3 (logits[:, 8:-1] vs tokens[:, 9:], pad 129 ignored), fused with its
 * gradient. tokens: [B, L] i32. Writes dlogits [B, L, V] (every row: zero where ignored) and
 * stats[0..3) = [loss sum, count of non-pad targets, correct argmax count], so mean loss =
 * stats[0] / stats[1] and accuracy = stats[2] / stats[1].
 */
import { grid1d, type Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { FIRST_LOSS_POSITION } from "../model/constants.ts";
import { TOKENS } from "../tokenizer/tokens.ts";
import { sumRows } from "./elementwise.ts";
import src from "../../wgsl/cross-entropy.wgsl" with { type: "text" };

/** Rows per workgroup, and threads per row (V = 132 → 5 classes per thread). */
const ROWS = 8;
const LANES = 32;

/**
 * Non-pad loss targets in a batch: tokens[b, p + 1] for 8 ≤ p ≤ L − 2 (host side, from the
 * batch's tokens), so the caller can set scale = 1 / count before the GPU pass.
 */
export function countTargets(tokens: ArrayLike<number>, B: number, L: number): number {
  let count = 0;
  for (let b = 0; b < B; b++) {
    for (let p = FIRST_LOSS_POSITION + 1; p < L; p++) if (tokens[b * L + p] !== TOKENS.pad) count++;
  }
  return count;
}

/** Elements of the scratch tensor crossEntropy needs. */
export function crossEntropyScratchSize(B: number, L: number): number {
  return 3 * Math.ceil((B * L) / ROWS);
}

/**
 * Reads logits, tokens and scale[0] (the factor of dlogits, normally 1 / countTargets: a tensor,
 * not a parameter, so a new count per batch makes no new uniform block); writes dlogits and
 * stats[0..3) (or adds into stats with `accumulate`, to sum over micro-batches).
 * scratch: ≥ crossEntropyScratchSize(B, L) elements.
 */
export function crossEntropy(
  r: Recorder, logits: Tensor, tokens: Tensor, scale: Tensor, dlogits: Tensor, stats: Tensor, scratch: Tensor,
  B: number, L: number, V: number, accumulate = false,
): void {
  const rows = B * L;
  const groups = Math.ceil(rows / ROWS);
  if (scratch.size < 3 * groups) throw new Error(`crossEntropy: scratch has ${scratch.size} elements, needs ${3 * groups}`);
  const k = r.gpu.kernel({
    file: "cross-entropy.wgsl", code: src, entry: "forward",
    constants: { V, LANES, ROWS, FIRST: FIRST_LOSS_POSITION, IGNORE: { i32: TOKENS.pad } },
  });
  const { workgroups, row } = grid1d(groups, 1);
  r.dispatch(k, [logits, tokens, scale, dlogits, scratch], workgroups, { u32: [rows, L, row] });
  sumRows(r, scratch, stats, groups, 3, 0, accumulate);
}
