/**
 * The hourglass wiring on the GPU (SPEC §2), forward and backward, written once: training
 * (src/model/model.ts) and the decoder's prefill (src/generate/prefill.ts) both run it, each with
 * its own buffers and its own way of running a level's blocks.
 *
 *   x = RMSNorm(Embedding(tokens))
 *   enc0 @ L;   skip0 = x;  x = avgpool3(x)
 *   enc1 @ L/3; skip1 = x;  x = avgpool3(x)
 *   bottleneck @ L/9 (bottlenecke then bottleneckd)
 *   x = skip_weights2[0]·shift2(upsample3(x)) + skip1;  dec0 @ L/3
 *   x = skip_weights2[1]·shift2(upsample3(x)) + skip0;  dec1 @ L
 *   logits = output_proj(x)                              (no final norm; the caller's)
 */
import type { Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { embeddingBackward, embeddingForward } from "../kernels/embedding.ts";
import { avgPool3Backward, avgPool3Forward, upsampleShiftAddBackward, upsampleShiftAddForward } from "../kernels/hourglass.ts";
import { rmsnormBackward, rmsnormForward } from "../kernels/rmsnorm.ts";
import { FACTOR } from "./levels.ts";
import type { ModelWeights } from "./params.ts";

/** B sequences of L tokens (a multiple of 9), width D. */
export interface HourglassShape {
  B: number;
  L: number;
  D: number;
}

/** The streams between levels. A level may run in place (its input tensor is its output). */
export interface HourglassStreams {
  /** [B, L] i32. */
  tokens: Tensor;
  /** The embedding rows before the norm, and the norm's rstd. */
  embedded: Tensor;
  rstd: Tensor;
  /** Each level's first block's input and last block's output, [enc0, enc1, bottleneck, dec0, dec1]. */
  inputs: readonly Tensor[];
  outputs: readonly Tensor[];
}

/** Records the forward from the tokens to dec1's output; `runLevel(i)` records level i's blocks. */
export function hourglassForward(
  r: Recorder, w: ModelWeights<Tensor>, io: HourglassStreams, { B, L, D }: HourglassShape, runLevel: (level: number) => void,
): void {
  const L1 = L / FACTOR, L2 = L1 / FACTOR;
  const { inputs, outputs } = io;
  embeddingForward(r, io.tokens, w.embedding, io.embedded, B * L, D);
  rmsnormForward(r, io.embedded, w.norm, inputs[0], io.rstd, B * L, D);
  runLevel(0);
  avgPool3Forward(r, outputs[0], inputs[1], B, L, D);
  runLevel(1);
  avgPool3Forward(r, outputs[1], inputs[2], B, L1, D);
  runLevel(2);
  upsampleShiftAddForward(r, outputs[2], outputs[1], w.skipWeights, 0, inputs[3], B, L2, D);
  runLevel(3);
  upsampleShiftAddForward(r, outputs[3], outputs[0], w.skipWeights, 1, inputs[4], B, L1, D);
  runLevel(4);
}

/** The backward's working tensors: each level's gradient stream, and the scratch of the joins. */
export interface HourglassGradients {
  /** d(level output) on entry to a level's backward, d(level input) after it; [B·n, D] per level. */
  levels: readonly Tensor[];
  dEmbedded: Tensor;
  /** upsampleScratchSize(B, L/3, D), embeddingScratchSize(B·L, V, D) and rmsnormScratchSize(B·L, D) elements. */
  upsampleScratch: Tensor;
  embeddingScratch: Tensor;
  normScratch: Tensor;
}

/**
 * Records the backward from d(dec1 output) in d.levels[4] to the embedding, adding into the
 * gradients `g`; `runLevel(i)` records level i's blocks' backward (d.levels[i] in place).
 */
export function hourglassBackward(
  r: Recorder, w: ModelWeights<Tensor>, g: ModelWeights<Tensor>, io: HourglassStreams, d: HourglassGradients,
  { B, L, D }: HourglassShape, runLevel: (level: number) => void,
): void {
  const L1 = L / FACTOR, L2 = L1 / FACTOR;
  const [d0, d1, d2, d3, d4] = d.levels;
  const { outputs } = io;
  runLevel(4);
  // dec1 input = w1·shift2(up(dec0 out)) + enc0 out: the skip's gradient is d(dec1 input) itself.
  upsampleShiftAddBackward(r, d4, outputs[3], w.skipWeights, 1, d3, g.skipWeights, d.upsampleScratch, B, L1, D, true);
  r.copy(d4, d0);
  runLevel(3);
  upsampleShiftAddBackward(r, d3, outputs[2], w.skipWeights, 0, d2, g.skipWeights, d.upsampleScratch, B, L2, D, true);
  r.copy(d3, d1);
  runLevel(2);
  // bottleneck input = avgpool3(enc1 out), enc1 input = avgpool3(enc0 out)
  avgPool3Backward(r, d2, d1, B, L1, D, true);
  runLevel(1);
  avgPool3Backward(r, d1, d0, B, L, D, true);
  runLevel(0);
  rmsnormBackward(r, io.embedded, w.norm, io.rstd, d0, d.dEmbedded, g.norm, d.normScratch, B * L, D, true);
  embeddingBackward(r, io.tokens, d.dEmbedded, g.embedding, d.embeddingScratch, B * L, w.embedding.shape[0], D, true);
}
