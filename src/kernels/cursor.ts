/**
 * The decoding cursor: a u32 [1] in GPU memory holding the position the sampler writes next
 * (kernels/sampling.ts sampleAtPosition reads it too). Steps recorded together read it instead of
 * a position baked in at record time, so each step consumes the token the previous one sampled
 * with no CPU round trip (wgsl/embed-at-cursor.wgsl, advance-cursor.wgsl).
 * tokens: the sequence buffer [B, S] i32.
 */
import type { Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { RMSNORM_EPS } from "../model/constants.ts";
import { TOKENS } from "../tokenizer/tokens.ts";
import sumSrc from "../../wgsl/workgroup-sum.wgsl" with { type: "text" };
import embedSrc from "../../wgsl/embed-at-cursor.wgsl" with { type: "text" };
import advanceSrc from "../../wgsl/advance-cursor.wgsl" with { type: "text" };

/**
 * out[b] = RMSNorm(table[tokens[b, cursor − 1]]) (weight normWeight [D]): the normalised embedding
 * [B, D] of each sequence's newest token, the input of the first level.
 */
export function embedAtCursor(
  r: Recorder, tokens: Tensor, cursor: Tensor, table: Tensor, normWeight: Tensor, out: Tensor, B: number, S: number, D: number,
): void {
  if (tokens.size < B * S || out.size < B * D || table.size % D !== 0 || normWeight.size < D) throw new Error(`embedAtCursor: shapes do not fit B=${B} S=${S} D=${D}`);
  const k = r.gpu.kernel({ file: "workgroup-sum.wgsl+embed-at-cursor.wgsl", code: sumSrc + embedSrc, entry: "embed", constants: { D, EPS: { f32: RMSNORM_EPS } } });
  r.dispatch(k, [tokens, cursor, table, normWeight, out], B, { u32: [S] });
}

/**
 * Ends a step: ended[b] = cursor where tokens[b, cursor] is the first end token of the sequence
 * (ended [B] i32, 0 while there is none), then cursor += 1.
 */
export function advanceCursor(r: Recorder, tokens: Tensor, cursor: Tensor, ended: Tensor, B: number, S: number): void {
  if (tokens.size < B * S || ended.size < B) throw new Error(`advanceCursor: shapes do not fit B=${B} S=${S}`);
  const k = r.gpu.kernel({ file: "advance-cursor.wgsl", code: advanceSrc, entry: "advance", constants: { END: { i32: TOKENS.end } } });
  r.dispatch(k, [tokens, cursor, ended], 1, { u32: [B, S] });
}
