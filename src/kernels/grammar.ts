/**
 * Grammar-safe decoding on the GPU (wgsl/grammar.wgsl): the token mask [B, V] u32 (0 = forbidden)
 * for the position the cursor points at, from each sequence's tokens so far (S of them at most: the
 * last row is kept for the end token). The rules, and the CPU
 * reference this matches, are in src/generate/grammar.ts.
 */
import type { Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import type { GrammarOptions } from "../generate/grammar.ts";
import { TOKENS } from "../tokenizer/tokens.ts";
import src from "../../wgsl/grammar.wgsl" with { type: "text" };

/** Reads tokens [B, S] i32 and cursor u32 [1]; writes mask [B, V]. */
export function grammarMask(r: Recorder, tokens: Tensor, cursor: Tensor, mask: Tensor, B: number, S: number, opts: GrammarOptions): void {
  const V = TOKENS.vocab;
  if (tokens.size < B * S || mask.size < B * V) throw new Error(`grammarMask: shapes do not fit B=${B} S=${S}`);
  const k = r.gpu.kernel({ file: "grammar.wgsl", code: src, entry: "token_mask", constants: { V, STRICT: opts.strictOrder } });
  r.dispatch(k, [tokens, cursor, mask], [Math.ceil(V / 64), B], { u32: [S] });
}
