/**
 * Next-token sampling on the GPU (wgsl/sampling.wgsl): temperature, top-k, top-p and an optional
 * token mask over B rows of V logits, one workgroup per row, choosing exactly the token that
 * src/cpu/sampling.ts sampleToken chooses for the same logits and uniform (up to f32 rounding at a
 * boundary, see the WGSL). Row b of a batch draws u = uniform01(seed + b, counter) (src/cpu/rng.ts),
 * so every row is its own stream and the counter is the decoding step.
 *
 * Layouts: logits [B, V] f32; mask [B, V] u32 (0 = never choose; at least one allowed per row);
 * outputs i32. position: u32 [1] in GPU memory.
 */
import type { Gpu, Recorder } from "../gpu/runtime.ts";
import { checkTensorSizes, lastDim, type Tensor } from "../gpu/tensor.ts";

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
  r: Recorder, logits: Tensor, mask: Tensor | undefined, out: Tensor, position: Tensor | null, outStride: number, opts: SampleOptions, label: string | undefined,
): void {
  const V = lastDim("sample", "logits", logits);
  const B = logits.size / V;
  if (!(opts.temperature > 0)) throw new Error(`sample: temperature ${opts.temperature} must be > 0`);
  checkTensorSizes("sample", { mask: [mask ?? logits, B * V] });
  const k = r.gpu.kernel({
    file: "sampling.wgsl", entry: "sample_rows",
    constants: { V, HAS_MASK: mask !== undefined, POSITION_FROM_GPU: position !== null },
  });
  const topK = opts.topK > 0 ? Math.min(opts.topK, V) : V;
  const topP = opts.topP > 0 ? opts.topP : 2; // cumulative p never exceeds 2: no nucleus cut
  const none = placeholder(r.gpu);
  r.span(label ?? "sampling", () => `B=${B} V=${V}`, () =>
    r.dispatch(k, [logits, mask ?? none, out, position ?? none], B, {
      u32: [topK, opts.seed >>> 0, opts.counter >>> 0, outStride],
      f32: [opts.temperature, topP],
    }));
}

export interface Sample {
  /** [B, V]. */
  logits: Tensor;
  /** [B, V] u32 (0 = never choose); absent: every token allowed. */
  mask?: Tensor;
  /** [B] i32. */
  out: Tensor;
  options: SampleOptions;
  label?: string;
}

/**
 * Samples one token per row into out. The counter is part of the kernel's uniform block, which the
 * runtime caches per distinct value: a long decoding loop should use sampleAtPosition instead.
 */
export function sample(r: Recorder, o: Sample): void {
  checkTensorSizes("sample", { out: [o.out, o.logits.size / lastDim("sample", "logits", o.logits)] });
  record(r, o.logits, o.mask, o.out, null, 1, o.options, o.label);
}

export interface SampleAtPosition {
  logits: Tensor;
  mask?: Tensor;
  /** The sequence buffer [B, seqLen] i32. */
  tokens: Tensor;
  /** u32 [1]: t. */
  position: Tensor;
  options: SampleOptions;
  label?: string;
}

/**
 * Generation without a CPU round trip: reads t = position[0] from GPU memory, draws with counter
 * options.counter + t and writes the token to tokens[b, t]. The caller advances position between
 * steps (on the GPU).
 */
export function sampleAtPosition(r: Recorder, o: SampleAtPosition): void {
  const seqLen = lastDim("sampleAtPosition", "tokens", o.tokens);
  const B = o.logits.size / lastDim("sampleAtPosition", "logits", o.logits);
  checkTensorSizes("sampleAtPosition", { tokens: [o.tokens, B * seqLen] });
  record(r, o.logits, o.mask, o.tokens, o.position, seqLen, o.options, o.label);
}
