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

/**
 * What a block's tensors do not say: B sequences of L positions (rows = B·L), H heads of 32, and
 * the RoPE tables. Widths come from the tensors' shapes.
 */
export interface BlockShape {
  B: number;
  L: number;
  H: number;
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
  const { B, H } = s;
  rmsnormForward(r, { x: a.x, weight: w.norm1, y: a.h1, rstd: a.rstd1 });
  linearForward(r, { x: a.h1, weight: w.v, y: a.v });
  for (const [weight, rotated] of [[w.q, a.q], [w.k, a.k]] as const) {
    linearForward(r, { x: a.h1, weight, y: scratch.raw });
    ropeForward(r, { x: scratch.raw, out: rotated, B, H, tables: s.rope });
  }
  let attended = a.att;
  if (w.headNorm) {
    linearAttentionForward(r, { q: a.q, k: a.k, v: a.v, out: a.att, scratch: scratch.linear!, shape: linearShape(s) });
    rmsnormForward(r, { x: a.att, weight: w.headNorm, y: a.attNorm!, rstd: a.rstdAtt! });
    attended = a.attNorm!;
  } else {
    attentionForward(r, { q: a.q, k: a.k, v: a.v, out: a.att, lse: a.lse!, shape: attentionShape(s) });
  }
  // x1 = x + attended·Woᵀ: copy the residual (unless in place), then let the matmul accumulate into it.
  if (a.x1 !== a.x) r.copy(a.x, a.x1);
  linearForward(r, { x: attended, weight: w.out, y: a.x1, accumulate: true });
  rmsnormForward(r, { x: a.x1, weight: w.norm2, y: a.h2, rstd: a.rstd2 });
  linearForward(r, { x: a.h2, weight: w.w1, bias: w.b1, y: a.p1 });
  linearForward(r, { x: a.h2, weight: w.w2, bias: w.b2, y: a.p2 });
  swigluForward(r, { a: a.p1, b: a.p2, h: scratch.g });
  if (a.out !== a.x1) r.copy(a.x1, a.out);
  linearForward(r, { x: scratch.g, weight: w.w3, bias: w.b3, y: a.out, accumulate: true });
}

/**
 * Records the block's backward from scratch.dx = d(out), adding into the gradients `g`; leaves
 * d(x) in scratch.dx.
 */
export function blockBackward(
  r: Recorder, w: BlockWeights<Tensor>, g: BlockWeights<Tensor>, a: BlockActivations, s: BackwardScratch, shape: BlockShape,
): void {
  const { B, H } = shape;
  // out = x1 + proj3(silu(p1)·p2): the residual passes dx through unchanged.
  swigluForward(r, { a: a.p1, b: a.p2, h: s.g }); // recompute the gate rather than keep it
  linearBackward(r, { x: s.g, weight: w.w3, dy: s.dx, dx: s.dg, dweight: g.w3, dbias: g.b3, accumulate: true });
  swigluBackward(r, { a: a.p1, b: a.p2, dh: s.dg, da: s.dp1, db: s.dp2 });
  linearBackward(r, { x: a.h2, weight: w.w1, dy: s.dp1, dx: s.dh, dweight: g.w1, dbias: g.b1, accumulate: true });
  linearBackward(r, { x: a.h2, weight: w.w2, dy: s.dp2, dx: s.dTmp, dweight: g.w2, dbias: g.b2, accumulate: true });
  addInto(r, { x: s.dh, y: s.dTmp });
  // dx += norm2's backward: now d(x1).
  rmsnormBackward(r, { x: a.x1, weight: w.norm2, rstd: a.rstd2, dy: s.dh, dx: s.dx, dweight: g.norm2, scratch: s.norm, accumulate: true, addToDx: true });

  // x1 = x + out_proj(att'): d(x) = d(x1) + norm1's backward.
  linearBackward(r, { x: w.headNorm ? a.attNorm! : a.att, weight: w.out, dy: s.dx, dx: s.datt, dweight: g.out, accumulate: true });
  if (w.headNorm) {
    rmsnormBackward(r, { x: a.att, weight: w.headNorm, rstd: a.rstdAtt!, dy: s.datt, dx: s.dTmp, dweight: g.headNorm!, scratch: s.norm, accumulate: true });
    linearAttentionBackward(r, { q: a.q, k: a.k, v: a.v, dOut: s.dTmp, dq: s.dq, dk: s.dk, dv: s.dv, scratch: s.linear!, shape: linearShape(shape) });
  } else {
    attentionBackward(r, {
      q: a.q, k: a.k, v: a.v, out: a.att, lse: a.lse!, dOut: s.datt, dq: s.dq, dk: s.dk, dv: s.dv, delta: s.delta, shape: attentionShape(shape),
    });
  }
  // q and k were rotated after projection: take their gradients back through RoPE first.
  ropeBackward(r, { x: s.dq, out: s.raw, B, H, tables: shape.rope });
  linearBackward(r, { x: a.h1, weight: w.q, dy: s.raw, dx: s.dh, dweight: g.q, accumulate: true });
  ropeBackward(r, { x: s.dk, out: s.raw, B, H, tables: shape.rope });
  linearBackward(r, { x: a.h1, weight: w.k, dy: s.raw, dx: s.dTmp, dweight: g.k, accumulate: true });
  addInto(r, { x: s.dh, y: s.dTmp });
  linearBackward(r, { x: a.h1, weight: w.v, dy: s.dv, dx: s.dTmp, dweight: g.v, accumulate: true });
  addInto(r, { x: s.dh, y: s.dTmp });
  rmsnormBackward(r, { x: a.x, weight: w.norm1, rstd: a.rstd1, dy: s.dh, dx: s.dx, dweight: g.norm1, scratch: s.norm, accumulate: true, addToDx: true });
}
