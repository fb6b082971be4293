/**
 * Next-token sampling on the GPU (wgsl/sampling.wgsl): temperature, top-k, top-p and an optional
 * token mask over B rows of V logits, one workgroup per row, choosing exactly the token that
 * src/cpu/sampling.ts sampleToken chooses for the same logits and uniform (up to f32 rounding at a
 * boundary, see the WGSL). Row b of a batch draws u = uniform01(seed + b, counter) (src/util/rng.ts),
 * so every row is its own stream and the counter is the decoding step.
 *
 * Layouts: logits [B, V] f32; mask [B, V] u32 (0 = never choose; at least one allowed per row);
 * outputs i32. position: u32 [1] in GPU memory.
 */
import type { Gpu, Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import src from "../../wgsl/sampling.wgsl" with { type: "text" };

export interface SampleOptions {
  temperature: number;
  /** Keep the topK most probable tokens; ≤ 0 keeps all. */
  topK: number;
  /** Nucleus threshold; ≤ 0 disables it. */
  topP: number;
  seed: number;
  /** The draw's counter (with the position variant: added to position[0]). */
  counter: number;
}

/** Bound where a kernel variant reads no mask or position (the bindings are fixed per file). */
const unused = new WeakMap<Gpu, Tensor>();
function placeholder(gpu: Gpu): Tensor {
  let t = unused.get(gpu);
  if (!t) unused.set(gpu, (t = gpu.tensor([1], "u32", "sampling placeholder")));
  return t;
}

function record(
  r: Recorder, logits: Tensor, mask: Tensor | null, out: Tensor, position: Tensor | null,
  B: number, V: number, outStride: number, opts: SampleOptions,
): void {
  if (!(opts.temperature > 0)) throw new Error(`sample: temperature ${opts.temperature} must be > 0`);
  if (logits.size < B * V || (mask && mask.size < B * V)) throw new Error(`sample: logits/mask smaller than [${B}, ${V}]`);
  const k = r.gpu.kernel({
    file: "sampling.wgsl", code: src, entry: "sample_rows",
    constants: { V, HAS_MASK: mask !== null, POSITION_FROM_GPU: position !== null },
  });
  const topK = opts.topK > 0 ? Math.min(opts.topK, V) : V;
  const topP = opts.topP > 0 ? opts.topP : 2; // cumulative p never exceeds 2: no nucleus cut
  const none = placeholder(r.gpu);
  r.dispatch(k, [logits, mask ?? none, out, position ?? none], B, {
    u32: [topK, opts.seed >>> 0, opts.counter >>> 0, outStride],
    f32: [opts.temperature, topP],
  });
}

/**
 * Samples one token per row into out [B] i32. Reads logits [B, V] and mask [B, V] (or null).
 * The counter is part of the kernel's uniform block, which the runtime caches per distinct value:
 * a long decoding loop should use sampleAtPosition instead.
 */
export function sample(
  r: Recorder, logits: Tensor, mask: Tensor | null, out: Tensor, B: number, V: number, opts: SampleOptions,
): void {
  record(r, logits, mask, out, null, B, V, 1, opts);
}

/**
 * Generation without a CPU round trip: reads t = position[0] from GPU memory, draws with counter
 * opts.counter + t and writes the token to tokens[b·seqLen + t] (tokens [B, seqLen] i32). The
 * caller advances position between steps (on the GPU).
 */
export function sampleAtPosition(
  r: Recorder, logits: Tensor, mask: Tensor | null, tokens: Tensor, position: Tensor,
  B: number, V: number, seqLen: number, opts: SampleOptions,
): void {
  if (tokens.size < B * seqLen) throw new Error(`sampleAtPosition: tokens smaller than [${B}, ${seqLen}]`);
  record(r, logits, mask, tokens, position, B, V, seqLen, opts);
}
