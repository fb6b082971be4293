/**
 * Grammar-safe decoding on the GPU (wgsl/grammar.wgsl): the token mask [B, V] u32 (0 = forbidden)
 * for the position the cursor points at, from each sequence's tokens so far (S of them at most: the
 * last row is kept for the end token). The rules, and the CPU
 * reference this matches, are in src/generate/grammar.ts, which uses this kernel (not the reverse).
 */
import type { Recorder } from "../gpu/runtime.ts";
import { checkTensorSizes, lastDim, type Tensor } from "../gpu/tensor.ts";
import { TOKENS } from "../tokenizer/index.ts";

export interface GrammarMask {
  /** [B, S] i32. */
  tokens: Tensor;
  /** u32 [1]. */
  cursor: Tensor;
  /** [B, V] u32. */
  mask: Tensor;
  /** Also the orderings the tokenizer guarantees (see src/generate/grammar.ts). */
  strictOrder: boolean;
  label?: string;
}

/** Reads tokens and cursor; writes mask. */
export function grammarMask(r: Recorder, o: GrammarMask): void {
  const V = TOKENS.vocab;
  const S = lastDim("grammarMask", "tokens", o.tokens);
  const B = o.tokens.size / S;
  checkTensorSizes("grammarMask", { mask: [o.mask, B * V] });
  const k = r.gpu.kernel({ file: "grammar.wgsl", entry: "token_mask", constants: { V, STRICT: o.strictOrder } });
  r.span(o.label ?? "grammar", () => `B=${B} S=${S}`, () => r.dispatch(k, [o.tokens, o.cursor, o.mask], [Math.ceil(V / 64), B], { u32: [S] }));
}
