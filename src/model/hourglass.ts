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
import type { ModelWeights } from "./params.ts";

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

/**
 * Records the forward from the tokens to dec1's output for B sequences; `runLevel(i)` records
 * level i's blocks.
 */
export function hourglassForward(r: Recorder, w: ModelWeights<Tensor>, io: HourglassStreams, B: number, runLevel: (level: number) => void): void {
  const { inputs, outputs } = io;
  embeddingForward(r, { tokens: io.tokens, table: w.embedding, out: io.embedded });
  rmsnormForward(r, { x: io.embedded, weight: w.norm, y: inputs[0], rstd: io.rstd });
  runLevel(0);
  avgPool3Forward(r, { x: outputs[0], y: inputs[1], B });
  runLevel(1);
  avgPool3Forward(r, { x: outputs[1], y: inputs[2], B });
  runLevel(2);
  upsampleShiftAddForward(r, { x: outputs[2], skip: outputs[1], weights: w.skipWeights, index: 0, out: inputs[3], B });
  runLevel(3);
  upsampleShiftAddForward(r, { x: outputs[3], skip: outputs[0], weights: w.skipWeights, index: 1, out: inputs[4], B });
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
  r: Recorder, w: ModelWeights<Tensor>, g: ModelWeights<Tensor>, io: HourglassStreams, d: HourglassGradients, B: number,
  runLevel: (level: number) => void,
): void {
  const [d0, d1, d2, d3, d4] = d.levels;
  const { outputs } = io;
  const upsampleBackward = (dout: Tensor, x: Tensor, index: number, dx: Tensor) =>
    upsampleShiftAddBackward(r, { dout, x, weights: w.skipWeights, index, dx, dweights: g.skipWeights, scratch: d.upsampleScratch, B, accumulate: true });
  runLevel(4);
  // dec1 input = w1·shift2(up(dec0 out)) + enc0 out: the skip's gradient is d(dec1 input) itself.
  upsampleBackward(d4, outputs[3], 1, d3);
  r.copy(d4, d0);
  runLevel(3);
  upsampleBackward(d3, outputs[2], 0, d2);
  r.copy(d3, d1);
  runLevel(2);
  // bottleneck input = avgpool3(enc1 out), enc1 input = avgpool3(enc0 out)
  avgPool3Backward(r, { dy: d2, dx: d1, B, accumulate: true });
  runLevel(1);
  avgPool3Backward(r, { dy: d1, dx: d0, B, accumulate: true });
  runLevel(0);
  rmsnormBackward(r, {
    x: io.embedded, weight: w.norm, rstd: io.rstd, dy: d0, dx: d.dEmbedded, dweight: g.norm, scratch: d.normScratch, accumulate: true,
  });
  embeddingBackward(r, { tokens: io.tokens, dout: d.dEmbedded, dtable: g.embedding, scratch: d.embeddingScratch, accumulate: true });
}
