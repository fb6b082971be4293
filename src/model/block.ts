/**
 * One transformer block on the GPU, forward and backward (SPEC §2):
 *   x1 = x + out(Attn(rope(q·h1), rope(k·h1), v·h1)),  h1 = norm1(x)     (linear blocks: out(headNorm(Attn)))
 *   y  = x1 + w3·(silu(w1·h2 + b1) · (w2·h2 + b2)) + b3,  h2 = norm2(x1)
 * The same forward serves training (every activation its own tensor, kept for the backward) and
 * the decoder's prefill (in place on the level's stream: x1 and y are x, intermediates shared).
 */
import type { Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { attentionBackward, attentionForward, type AttentionShape } from "../kernels/attention.ts";
import { addInto } from "../kernels/elementwise.ts";
import { linearAttentionBackward, linearAttentionForward, type LinearAttentionScratch } from "../kernels/linear-attention.ts";
import { linearBackward, linearForward } from "../kernels/matmul.ts";
import { rmsnormBackward, rmsnormForward } from "../kernels/rmsnorm.ts";
import { ropeBackward, ropeForward, type RopeTables } from "../kernels/rope.ts";
import { swigluBackward, swigluForward } from "../kernels/swiglu.ts";
import type { BlockWeights } from "./params.ts";

/** The sizes of a block's sequence: B sequences of L positions, H heads of 32, rows = B·L. */
export interface BlockShape {
  B: number;
  L: number;
  H: number;
  D: number;
  hidden: number;
  rope: RopeTables;
}

/**
 * What a block's forward writes and its backward reads. x1 may be x, and out x1 (a residual
 * stream updated in place); h2 and rstd2 may be h1 and rstd1 when no backward follows.
 */
export interface BlockActivations {
  /** The block's input. */
  x: Tensor;
  h1: Tensor;
  rstd1: Tensor;
  /** q and k after RoPE. */
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** Attention output, heads concatenated (linear blocks: before their head norm). */
  att: Tensor;
  /** Full attention: log-sum-exp rows [B, H, L]. */
  lse: Tensor | null;
  /** Linear attention: the head norm of att, and its rstd. */
  attNorm: Tensor | null;
  rstdAtt: Tensor | null;
  x1: Tensor;
  h2: Tensor;
  rstd2: Tensor;
  p1: Tensor;
  p2: Tensor;
  /** The block's output. */
  out: Tensor;
}

/** Working tensors a forward uses and forgets: q/k before RoPE, the gate, the linear attention's chunk states. */
export interface ForwardScratch {
  raw: Tensor;
  g: Tensor;
  linear: LinearAttentionScratch | null;
}

/** Working tensors of a backward; dx holds d(out) on entry and d(x) on exit. */
export interface BackwardScratch extends ForwardScratch {
  dx: Tensor;
  dTmp: Tensor;
  dh: Tensor;
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
  datt: Tensor;
  dg: Tensor;
  dp1: Tensor;
  dp2: Tensor;
  /** rmsnorm backward partial sums. */
  norm: Tensor;
  /** attention backward's row dot products [B, H, L]. */
  delta: Tensor;
}

const attentionShape = (s: BlockShape): AttentionShape => ({ B: s.B, H: s.H, Lq: s.L, Lk: s.L, qOffset: 0 });
const linearShape = (s: BlockShape) => ({ B: s.B, L: s.L, H: s.H });

/** Records the block's forward: x → a.out, every activation into `a`. */
export function blockForward(r: Recorder, w: BlockWeights<Tensor>, a: BlockActivations, scratch: ForwardScratch, s: BlockShape): void {
  const { B, L, H, D, hidden } = s;
  const rows = B * L;
  rmsnormForward(r, a.x, w.norm1, a.h1, a.rstd1, rows, D);
  linearForward(r, a.h1, w.v, undefined, a.v, rows, D, D);
  for (const [weight, rotated] of [[w.q, a.q], [w.k, a.k]] as const) {
    linearForward(r, a.h1, weight, undefined, scratch.raw, rows, D, D);
    ropeForward(r, scratch.raw, rotated, B, L, H, s.rope);
  }
  let attended = a.att;
  if (w.headNorm) {
    linearAttentionForward(r, a.q, a.k, a.v, a.att, scratch.linear!, linearShape(s));
    rmsnormForward(r, a.att, w.headNorm, a.attNorm!, a.rstdAtt!, rows, D);
    attended = a.attNorm!;
  } else {
    attentionForward(r, a.q, a.k, a.v, a.att, a.lse!, attentionShape(s));
  }
  // x1 = x + attended·Woᵀ: copy the residual (unless in place), then let the matmul accumulate into it.
  if (a.x1 !== a.x) r.copy(a.x, a.x1);
  linearForward(r, attended, w.out, undefined, a.x1, rows, D, D, true);
  rmsnormForward(r, a.x1, w.norm2, a.h2, a.rstd2, rows, D);
  linearForward(r, a.h2, w.w1, w.b1, a.p1, rows, D, hidden);
  linearForward(r, a.h2, w.w2, w.b2, a.p2, rows, D, hidden);
  swigluForward(r, a.p1, a.p2, scratch.g, rows * hidden);
  if (a.out !== a.x1) r.copy(a.x1, a.out);
  linearForward(r, scratch.g, w.w3, w.b3, a.out, rows, hidden, D, true);
}

/**
 * Records the block's backward from scratch.dx = d(out), adding into the gradients `g`; leaves
 * d(x) in scratch.dx.
 */
export function blockBackward(
  r: Recorder, w: BlockWeights<Tensor>, g: BlockWeights<Tensor>, a: BlockActivations, s: BackwardScratch, shape: BlockShape,
): void {
  const { B, L, H, D, hidden } = shape;
  const rows = B * L;
  // out = x1 + proj3(silu(p1)·p2): the residual passes dx through unchanged.
  swigluForward(r, a.p1, a.p2, s.g, rows * hidden); // recompute the gate rather than keep it
  linearBackward(r, s.g, w.w3, s.dx, s.dg, g.w3, g.b3, rows, hidden, D, true);
  swigluBackward(r, a.p1, a.p2, s.dg, s.dp1, s.dp2, rows * hidden);
  linearBackward(r, a.h2, w.w1, s.dp1, s.dh, g.w1, g.b1, rows, D, hidden, true);
  linearBackward(r, a.h2, w.w2, s.dp2, s.dTmp, g.w2, g.b2, rows, D, hidden, true);
  addInto(r, s.dh, s.dTmp, rows * D);
  // dx += norm2's backward: now d(x1).
  rmsnormBackward(r, a.x1, w.norm2, a.rstd2, s.dh, s.dx, g.norm2, s.norm, rows, D, true, true);

  // x1 = x + out_proj(att'): d(x) = d(x1) + norm1's backward.
  linearBackward(r, w.headNorm ? a.attNorm! : a.att, w.out, s.dx, s.datt, g.out, undefined, rows, D, D, true);
  if (w.headNorm) {
    rmsnormBackward(r, a.att, w.headNorm, a.rstdAtt!, s.datt, s.dTmp, g.headNorm!, s.norm, rows, D, true);
    linearAttentionBackward(r, a.q, a.k, a.v, s.dTmp, s.dq, s.dk, s.dv, s.linear!, linearShape(shape));
  } else {
    attentionBackward(r, a.q, a.k, a.v, a.att, a.lse!, s.datt, s.dq, s.dk, s.dv, { delta: s.delta }, attentionShape(shape));
  }
  // q and k were rotated after projection: take their gradients back through RoPE first.
  ropeBackward(r, s.dq, s.raw, B, L, H, shape.rope);
  linearBackward(r, a.h1, w.q, s.raw, s.dh, g.q, undefined, rows, D, D, true);
  ropeBackward(r, s.dk, s.raw, B, L, H, shape.rope);
  linearBackward(r, a.h1, w.k, s.raw, s.dTmp, g.k, undefined, rows, D, D, true);
  addInto(r, s.dh, s.dTmp, rows * D);
  linearBackward(r, a.h1, w.v, s.dv, s.dTmp, g.v, undefined, rows, D, D, true);
  addInto(r, s.dh, s.dTmp, rows * D);
  rmsnormBackward(r, a.x, w.norm1, a.rstd1, s.dh, s.dx, g.norm1, s.norm, rows, D, true, true);
}
