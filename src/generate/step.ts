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
export function stepBlock(
  r: Recorder, block: CachedBlock, x: Tensor, position: number, capacity: number, work: StepWorkspace, network: Network,
): void {
  const w = block.weights;
  const B = x.shape[0];
  const { dim: D, heads: H } = network;
  const hidden = hiddenDim(network);
  const qkv = (k: Tensor, v: Tensor, kvStride: number, kvOffset: number) =>
    rowsQkvRope(r, x, w.norm1, w.q, w.k, w.v, work.q, k, v, { rows: B, D, heads: H, position, kvStride, kvOffset });
  if (block.keys && block.values) {
    qkv(block.keys, block.values, capacity * D, position * D);
    attentionDecode(r, work.q, block.keys, block.values, work.att, { B, H, Lk: position + 1, capacity });
  } else {
    qkv(work.k, work.v, D, 0);
    linearAttentionStep(r, work.q, work.k, work.v, block.state!, work.att, B, H);
  }
  rowsLinear(r, work.att, w.out, null, w.headNorm, x, { rows: B, K: D, N: D, accumulate: true });
  rowsSwigluUp(r, x, w.norm2, w.w1, w.b1, w.w2, w.b2, work.g, { rows: B, K: D, hidden });
  rowsLinear(r, work.g, w.w3, w.b3, null, x, { rows: B, K: hidden, N: D, accumulate: true });
}
