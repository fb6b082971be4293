/**
 * A decoding step's block: one position per sequence against the block's cache, five dispatches,
 * the norms, RoPE, the cache append, the gate and the residual adds fused into the projections
 * (kernels/rows-gemv.ts) — at a few rows a step is bound by its count of dispatches. The same
 * arithmetic as model/block.ts's forward, reading the same per-block weight records.
 */
import type { Gpu, Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { attentionDecode } from "../kernels/attention-decode.ts";
import { linearAttentionStep } from "../kernels/linear-attention.ts";
import { rowsLinear, rowsQkvRope, rowsSwigluUp } from "../kernels/rows-gemv.ts";
import { HEAD_DIM, hiddenDim, type Network } from "../model/config.ts";
import type { BlockWeights } from "../model/params.ts";

/** A block's weights and its decoding cache. */
export interface CachedBlock {
  weights: BlockWeights<Tensor>;
  /** Full attention: RoPE'd keys and values of every position so far, [B, capacity, H, 32]. */
  keys: Tensor | null;
  values: Tensor | null;
  /** Linear attention: S [B, H, 32, 32]. */
  state: Tensor | null;
}

/** The cache of a block whose level holds `capacity` positions. */
export function allocateCache(gpu: Gpu, weights: BlockWeights<Tensor>, B: number, H: number, capacity: number): CachedBlock {
  const p = weights.spec.prefix;
  if (weights.headNorm) return { weights, keys: null, values: null, state: gpu.tensor([B, H, HEAD_DIM, HEAD_DIM], "f32", `${p} state`) };
  return {
    weights,
    keys: gpu.tensor([B, capacity, H, HEAD_DIM], "f32", `${p} keys`),
    values: gpu.tensor([B, capacity, H, HEAD_DIM], "f32", `${p} values`),
    state: null,
  };
}

/** The working tensors of a step's blocks, [B, ·] (the fused kernels keep every other intermediate on chip). */
export interface StepWorkspace {
  /** Full blocks write k and v straight into their caches; linear blocks here. */
  q: Tensor;
  k: Tensor;
  v: Tensor;
  att: Tensor;
  g: Tensor;
}

export function allocateStepWorkspace(gpu: Gpu, network: Network, B: number): StepWorkspace {
  const t = (width: number, label: string) => gpu.tensor([B, width], "f32", `decoder step ${label}`);
  const D = network.dim;
  return { q: t(D, "q"), k: t(D, "k"), v: t(D, "v"), att: t(D, "attention"), g: t(hiddenDim(network), "gate") };
}

/**
 * Records x ← x + Attn(norm1(x)); x ← x + SwiGLU(norm2(x)) for the B rows of x [B, D] at the level
 * position `position`, appending to the block's cache; `capacity` is the level's.
 */
export function stepBlock(r: Recorder, block: CachedBlock, x: Tensor, position: number, capacity: number, work: StepWorkspace, H: number): void {
  const w = block.weights;
  const [B, D] = x.shape;
  const qkv = (kOut: Tensor, vOut: Tensor, kvStride: number, kvOffset: number) => rowsQkvRope(r, {
    x, normWeight: w.norm1, wq: w.q, wk: w.k, wv: w.v, q: work.q, kOut, vOut, kvStride, kvOffset, heads: H, position, label: "qkv",
  });
  if (block.keys && block.values) {
    qkv(block.keys, block.values, capacity * D, position * D);
    attentionDecode(r, { q: work.q, keys: block.keys, values: block.values, out: work.att, shape: { B, H, Lk: position + 1, capacity } });
  } else {
    qkv(work.k, work.v, D, 0);
    linearAttentionStep(r, { q: work.q, k: work.k, v: work.v, state: block.state!, out: work.att });
  }
  rowsLinear(r, { x: work.att, weight: w.out, normWeight: w.headNorm ?? undefined, y: x, accumulate: true, label: "out proj" });
  rowsSwigluUp(r, { x, normWeight: w.norm2, w1: w.w1, b1: w.b1, w2: w.w2, b2: w.b2, g: work.g, label: "feed-forward" });
  rowsLinear(r, { x: work.g, weight: w.w3, bias: w.b3, y: x, accumulate: true, label: "feed-forward" });
}
