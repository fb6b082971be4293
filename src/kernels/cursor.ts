/**
 * The decoding cursor: a u32 [1] in GPU memory holding the position the sampler writes next
 * (kernels/sampling.ts sampleAtPosition reads it too). Steps recorded together read it instead of
 * a position baked in at record time, so each step consumes the token the previous one sampled
 * with no CPU round trip (wgsl/embed-at-cursor.wgsl, advance-cursor.wgsl).
 * tokens: the sequence buffer [B, S] i32.
 */
import type { Recorder } from "../gpu/runtime.ts";
import { checkTensorSizes, lastDim, type Tensor } from "../gpu/tensor.ts";
import { TOKENS } from "../tokenizer/index.ts";
import { RMSNORM_EPS } from "./rmsnorm.ts";

export interface EmbedAtCursor {
  /** The sequence buffer [B, S] i32. */
  tokens: Tensor;
  /** u32 [1]. */
  cursor: Tensor;
  /** [V, D]. */
  table: Tensor;
  /** [D]. */
  normWeight: Tensor;
  /** [B, D]. */
  out: Tensor;
  label?: string;
}

/**
 * out[b] = RMSNorm(table[tokens[b, cursor − 1]]) (weight normWeight): the normalised embedding of
 * each sequence's newest token, the input of the first level.
 */
export function embedAtCursor(r: Recorder, o: EmbedAtCursor): void {
  const S = lastDim("embedAtCursor", "tokens", o.tokens);
  const B = o.tokens.size / S;
  const D = lastDim("embedAtCursor", "table", o.table);
  checkTensorSizes("embedAtCursor", { normWeight: [o.normWeight, D], out: [o.out, B * D] });
  const k = r.gpu.kernel({ file: "embed-at-cursor.wgsl", entry: "embed", constants: { D, EPS: { f32: RMSNORM_EPS } } });
  r.span(o.label ?? "embedding", () => `at cursor B=${B} D=${D}`, () => r.dispatch(k, [o.tokens, o.cursor, o.table, o.normWeight, o.out], B, { u32: [S] }));
}

/**
 * Ends a step: ended[b] = cursor where tokens[b, cursor] is the first end token of the sequence
 * (ended [B] i32, 0 while there is none), then cursor += 1.
 */
export function advanceCursor(r: Recorder, o: { tokens: Tensor; cursor: Tensor; ended: Tensor; label?: string }): void {
  const S = lastDim("advanceCursor", "tokens", o.tokens);
  const B = o.tokens.size / S;
  checkTensorSizes("advanceCursor", { ended: [o.ended, B] });
  const k = r.gpu.kernel({ file: "advance-cursor.wgsl", entry: "advance", constants: { END: { i32: TOKENS.end } } });
  r.span(o.label ?? "cursor", () => `B=${B}`, () => r.dispatch(k, [o.tokens, o.cursor, o.ended], 1, { u32: [B, S] }));
}
