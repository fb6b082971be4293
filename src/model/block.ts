/**
 * One transformer block on the GPU, forward and backward (SPEC §2):
 *   x1 = x + out(Attn(rope(q·h1), rope(k·h1), v·h1)),  h1 = norm1(x)     (linear blocks: out(headNorm(Attn)))
 *   y  = x1 + w3·(silu(w1·h2 + b1) · (w2·h2 + b2)) + b3,  h2 = norm2(x1)
 * The same forward serves training (every activation its own tensor, kept for the backward) and
 * the decoder's prefill (in place on the level's stream: x1 and y are x, intermediates shared).
 *
 * Precision follows the tensors (model/precision.ts): with f16 weights, h1 and h2 are f16 and
 * `scratch.half` is given; the products then read f16 operands (the norms' outputs, the attention
 * input and output, the gate cast to f16), everything else stays f32. The backward casts each
 * product's incoming gradient dy to f16 once (as PyTorch's autocast backward of an fp16 Linear
 * gets fp16 dy; the loss scale keeps it from underflowing), so dx = dy·W and dW = dyᵀ·x are
 * f16 × f16 products summed in f32; their outputs stay f32.
 */
import type { Gpu, Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { attentionBackward, attentionForward, type AttentionShape } from "../kernels/attention.ts";
import { cast } from "../kernels/cast.ts";
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
  /** norm1(x), in the weights' precision (the q, k, v projections' input). */
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
  /** f16 models: the out projection's input (att, or attNorm in linear blocks) in f16. */
  attHalf: Tensor | null;
  x1: Tensor;
  /** norm2(x1), in the weights' precision. */
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
  /** f16 models: the f16 operands of the products and the attention. */
  half: HalfScratch | null;
}

/** What an f16 block casts through; rows as the level's (a prefill uses their head). */
export interface HalfScratch {
  /** f32 [rows, D]: a norm's output on its way to the f16 h1 or h2. */
  staging: Tensor;
  /** f16 [rows, D]: full attention's q, k, v. */
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** f16 [rows, hidden]: the gate, the last projection's input. */
  g: Tensor;
}

/** Allocates an f16 block's casting scratch for `rows` rows. */
export function halfScratch(gpu: Gpu, rows: number, D: number, hidden: number, label: string): HalfScratch {
  const h = (width: number, name: string) => gpu.tensor([rows, width], "f16", `${label} ${name} f16`);
  return { staging: gpu.tensor([rows, D], "f32", `${label} norm staging`), q: h(D, "q"), k: h(D, "k"), v: h(D, "v"), g: h(hidden, "gate") };
}

/** y = RMSNorm(x) with y in either precision: an f16 y goes through the f32 staging rows and a cast. */
function normInto(r: Recorder, o: { x: Tensor; weight: Tensor; y: Tensor; rstd: Tensor }, half: HalfScratch | null): void {
  if (o.y.dtype === "f32") return rmsnormForward(r, o);
  const staged = half!.staging.head(o.y.shape[0]);
  rmsnormForward(r, { ...o, y: staged });
  cast(r, { src: staged, dst: o.y });
}

/** f16 copies of q, k, v for full attention (f16 models), else the f32 tensors themselves. */
function attentionInputs(r: Recorder, a: BlockActivations, half: HalfScratch | null): { q: Tensor; k: Tensor; v: Tensor } {
  if (!half) return { q: a.q, k: a.k, v: a.v };
  const rows = a.q.shape[0];
  const copies = { q: half.q.head(rows), k: half.k.head(rows), v: half.v.head(rows) };
  for (const key of ["q", "k", "v"] as const) cast(r, { src: a[key], dst: copies[key] });
  return copies;
}

/** The gate silu(p1)·p2 into scratch.g, and the last projection's input: the gate, or its f16 copy. */
function gate(r: Recorder, a: BlockActivations, s: ForwardScratch): Tensor {
  swigluForward(r, { a: a.p1, b: a.p2, h: s.g });
  if (!s.half) return s.g;
  const g = s.half.g.head(s.g.shape[0]);
  cast(r, { src: s.g, dst: g });
  return g;
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
  /**
   * f16 models: where each product's dy is cast to f16 before its backward; a flat f16 tensor of
   * at least as many elements as the largest dy (one tensor may serve every level: each cast is
   * read by its own product before the next one writes).
   */
  dyHalf: Tensor | null;
}

/**
 * The dy a product's backward reads: `dy` itself, or (f16 models) its f16 copy in `dyHalf`, so that
 * dx = dy·W and dW = dyᵀ·x take f16 operands on both sides (the tensor-core tiles need that; the
 * sums stay f32). A loss-scaled dy beyond f16's range becomes ±Inf here, and the gradients it
 * reaches turn non-finite: the optimizer's overflow check then skips the step and halves the scale.
 */
export function productGradient(r: Recorder, dy: Tensor, dyHalf: Tensor | null): Tensor {
  if (!dyHalf) return dy;
  const copy = dyHalf.head(dy.size).reshape([...dy.shape]);
  cast(r, { src: dy, dst: copy, label: "f16 dy" });
  return copy;
}

const attentionShape = (s: BlockShape): AttentionShape => ({ B: s.B, H: s.H, Lq: s.L, Lk: s.L, qOffset: 0 });
const linearShape = (s: BlockShape) => ({ B: s.B, L: s.L, H: s.H });

/** Records the block's forward: x → a.out, every activation into `a`. */
export function blockForward(r: Recorder, w: BlockWeights<Tensor>, a: BlockActivations, scratch: ForwardScratch, s: BlockShape): void {
  const { B, H } = s;
  normInto(r, { x: a.x, weight: w.norm1, y: a.h1, rstd: a.rstd1 }, scratch.half);
  linearForward(r, { x: a.h1, weight: w.v, y: a.v });
  for (const [weight, rotated] of [[w.q, a.q], [w.k, a.k]] as const) {
    linearForward(r, { x: a.h1, weight, y: scratch.raw });
    ropeForward(r, { x: scratch.raw, out: rotated, B, H, tables: s.rope });
  }
  let attended = a.att;
  if (w.headNorm) {
    linearAttentionForward(r, { q: a.q, k: a.k, v: a.v, out: a.att, scratch: scratch.linear!, shape: linearShape(s), precision: scratch.half ? "f16" : "f32" });
    rmsnormForward(r, { x: a.att, weight: w.headNorm, y: a.attNorm!, rstd: a.rstdAtt! });
    attended = a.attNorm!;
  } else {
    attentionForward(r, { ...attentionInputs(r, a, scratch.half), out: a.att, lse: a.lse!, shape: attentionShape(s) });
  }
  if (a.attHalf) {
    cast(r, { src: attended, dst: a.attHalf });
    attended = a.attHalf;
  }
  // x1 = x + attended·Woᵀ: copy the residual (unless in place), then let the matmul accumulate into it.
  if (a.x1 !== a.x) r.copy(a.x, a.x1);
  linearForward(r, { x: attended, weight: w.out, y: a.x1, accumulate: true });
  normInto(r, { x: a.x1, weight: w.norm2, y: a.h2, rstd: a.rstd2 }, scratch.half);
  linearForward(r, { x: a.h2, weight: w.w1, bias: w.b1, y: a.p1 });
  linearForward(r, { x: a.h2, weight: w.w2, bias: w.b2, y: a.p2 });
  const g = gate(r, a, scratch);
  if (a.out !== a.x1) r.copy(a.x1, a.out);
  linearForward(r, { x: g, weight: w.w3, bias: w.b3, y: a.out, accumulate: true });
}

/**
 * Records the block's backward from scratch.dx = d(out), adding into the gradients `g`; leaves
 * d(x) in scratch.dx.
 */
export function blockBackward(
  r: Recorder, w: BlockWeights<Tensor>, g: BlockWeights<Tensor>, a: BlockActivations, s: BackwardScratch, shape: BlockShape,
): void {
  const { B, H } = shape;
  const dy = (t: Tensor) => productGradient(r, t, s.dyHalf);
  // Every dx below stays f32: each flows into an f32 step (swiglu's, a norm's, attention's
  // backward, the residual sums), where f16 would only add a rounding and a cast back.
  // out = x1 + proj3(silu(p1)·p2): the residual passes dx through unchanged.
  const g3 = gate(r, a, s); // recompute the gate rather than keep it
  linearBackward(r, { x: g3, weight: w.w3, dy: dy(s.dx), dx: s.dg, dweight: g.w3, dbias: g.b3, accumulate: true });
  swigluBackward(r, { a: a.p1, b: a.p2, dh: s.dg, da: s.dp1, db: s.dp2 });
  linearBackward(r, { x: a.h2, weight: w.w1, dy: dy(s.dp1), dx: s.dh, dweight: g.w1, dbias: g.b1, accumulate: true });
  linearBackward(r, { x: a.h2, weight: w.w2, dy: dy(s.dp2), dx: s.dTmp, dweight: g.w2, dbias: g.b2, accumulate: true });
  addInto(r, { x: s.dh, y: s.dTmp });
  // dx += norm2's backward: now d(x1).
  rmsnormBackward(r, { x: a.x1, weight: w.norm2, rstd: a.rstd2, dy: s.dh, dx: s.dx, dweight: g.norm2, scratch: s.norm, accumulate: true, addToDx: true });

  // x1 = x + out_proj(att'): d(x) = d(x1) + norm1's backward. Attention's dOut (datt) stays f32:
  // the attention kernels take f32 dOut.
  linearBackward(r, { x: a.attHalf ?? (w.headNorm ? a.attNorm! : a.att), weight: w.out, dy: dy(s.dx), dx: s.datt, dweight: g.out, accumulate: true });
  if (w.headNorm) {
    rmsnormBackward(r, { x: a.att, weight: w.headNorm, rstd: a.rstdAtt!, dy: s.datt, dx: s.dTmp, dweight: g.headNorm!, scratch: s.norm, accumulate: true });
    linearAttentionBackward(r, {
      q: a.q, k: a.k, v: a.v, dOut: s.dTmp, dq: s.dq, dk: s.dk, dv: s.dv, scratch: s.linear!, shape: linearShape(shape), precision: s.half ? "f16" : "f32",
    });
  } else {
    attentionBackward(r, {
      ...attentionInputs(r, a, s.half), out: a.att, lse: a.lse!, dOut: s.datt, dq: s.dq, dk: s.dk, dv: s.dv, delta: s.delta, shape: attentionShape(shape),
    });
  }
  // q and k were rotated after projection: take their gradients back through RoPE first.
  ropeBackward(r, { x: s.dq, out: s.raw, B, H, tables: shape.rope });
  linearBackward(r, { x: a.h1, weight: w.q, dy: dy(s.raw), dx: s.dh, dweight: g.q, accumulate: true });
  ropeBackward(r, { x: s.dk, out: s.raw, B, H, tables: shape.rope });
  linearBackward(r, { x: a.h1, weight: w.k, dy: dy(s.raw), dx: s.dTmp, dweight: g.k, accumulate: true });
  addInto(r, { x: s.dh, y: s.dTmp });
  linearBackward(r, { x: a.h1, weight: w.v, dy: dy(s.dv), dx: s.dTmp, dweight: g.v, accumulate: true });
  addInto(r, { x: s.dh, y: s.dTmp });
  rmsnormBackward(r, { x: a.x, weight: w.norm1, rstd: a.rstd1, dy: s.dh, dx: s.dx, dweight: g.norm1, scratch: s.norm, accumulate: true, addToDx: true });
}
