/**
 * The training loss (wgsl/cross-entropy.wgsl): softmax cross-entropy of logits [B, L, V] against
 * the next tokens, SPEC §3 (logits[:, 8:-1] vs tokens[:, 9:], pad 129 ignored), fused with its
 * gradient. tokens: [B, L] i32. Writes dlogits [B, L, V] (every row: zero where ignored) and
 * stats[0..3) = [loss sum, count of non-pad targets, correct argmax count], so mean loss =
 * stats[0] / stats[1] and accuracy = stats[2] / stats[1].
 */
import { grid1d, type Recorder } from "../gpu/runtime.ts";
import { checkTensorSizes, lastDim, type Tensor } from "../gpu/tensor.ts";
import { FIRST_LOSS_POSITION, PAD_TOKEN } from "../cpu/cross-entropy.ts";
import { sumRows } from "./elementwise.ts";

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
    for (let p = FIRST_LOSS_POSITION + 1; p < L; p++) if (tokens[b * L + p] !== PAD_TOKEN) count++;
  }
  return count;
}

/** Elements of the scratch tensor crossEntropy needs. */
export function crossEntropyScratchSize(B: number, L: number): number {
  return 3 * Math.ceil((B * L) / ROWS);
}

export interface CrossEntropy {
  /** [B·L, V] (or [B, L, V]). */
  logits: Tensor;
  /** [B, L] i32. */
  tokens: Tensor;
  /** scale[0], the factor of dlogits, normally 1 / countTargets: a tensor, not a parameter, so a new count per batch makes no new uniform block. */
  scale: Tensor;
  dlogits: Tensor;
  stats: Tensor;
  /** ≥ crossEntropyScratchSize(B, L) elements. */
  scratch: Tensor;
  /** stats += instead of = (sums over micro-batches). */
  accumulate?: boolean;
  label?: string;
}

/** Reads logits, tokens and scale; writes dlogits and stats[0..3) (or adds into stats). */
export function crossEntropy(r: Recorder, o: CrossEntropy): void {
  const L = lastDim("crossEntropy", "tokens", o.tokens);
  const rows = o.tokens.size;
  const V = lastDim("crossEntropy", "logits", o.logits);
  const groups = Math.ceil(rows / ROWS);
  checkTensorSizes("crossEntropy", { logits: [o.logits, rows * V], dlogits: [o.dlogits, rows * V], stats: [o.stats, 3], scratch: [o.scratch, 3 * groups] });
  const k = r.gpu.kernel({
    file: "cross-entropy.wgsl", entry: "forward",
    constants: { V, LANES, ROWS, FIRST: FIRST_LOSS_POSITION, IGNORE: { i32: PAD_TOKEN } },
  });
  const { workgroups, row } = grid1d(groups, 1);
  r.span(o.label ?? "cross-entropy", () => `rows=${rows} V=${V}`, () => {
    r.dispatch(k, [o.logits, o.tokens, o.scale, o.dlogits, o.scratch], workgroups, { u32: [rows, L, row] });
    sumRows(r, { partials: o.scratch.head(3 * groups).reshape([groups, 3]), out: o.stats, accumulate: o.accumulate });
  });
}
