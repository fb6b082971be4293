/**
 * References of the fused projections of a decoding step (kernels/rows-gemv.ts): each is the
 * composition of the ops the decoder ran one by one before, over `rows` rows of one position.
 */
import { type FloatArray, add } from "./array.ts";
import { linearForward } from "./matmul.ts";
import { rmsnormForward } from "./rmsnorm.ts";
import { ropeForward } from "./rope.ts";
import { swigluForward } from "./swiglu.ts";

/** y = x̂·Wᵀ (+ bias) (+ addTo) with x̂ = RMSNorm(x) (weight normWeight) when given, else x. x [rows, K], W [N, K]. */
export function rowsLinear<T extends FloatArray>(
  x: T, W: FloatArray, bias: FloatArray | null, normWeight: FloatArray | null, rows: number, K: number, N: number, addTo?: FloatArray,
): T {
  const input = normWeight ? rmsnormForward(x, normWeight, rows, K).y : x;
  const y = linearForward(input, W, bias, rows, K, N);
  return addTo ? add(y, addTo) : y;
}

/** h = RMSNorm(x); q = RoPE(h·Wqᵀ), k = RoPE(h·Wkᵀ) at `position`, v = h·Wvᵀ; each [rows, D] with `heads` heads. */
export function rowsQkvRope<T extends FloatArray>(
  x: T, normWeight: FloatArray, Wq: FloatArray, Wk: FloatArray, Wv: FloatArray, rows: number, D: number, heads: number, position: number,
): { q: T; k: T; v: T } {
  const h = rmsnormForward(x, normWeight, rows, D).y;
  const rope = (y: T) => ropeForward(y, rows, 1, heads, D / heads, position);
  return { q: rope(linearForward(h, Wq, null, rows, D, D)), k: rope(linearForward(h, Wk, null, rows, D, D)), v: linearForward(h, Wv, null, rows, D, D) };
}

/** g = silu(h·W1ᵀ + b1) · (h·W2ᵀ + b2) with h = RMSNorm(x); x [rows, K], g [rows, hidden]. */
export function rowsSwigluUp<T extends FloatArray>(
  x: T, normWeight: FloatArray, W1: FloatArray, b1: FloatArray, W2: FloatArray, b2: FloatArray, rows: number, K: number, hidden: number,
): T {
  const h = rmsnormForward(x, normWeight, rows, K).y;
  return swigluForward(linearForward(h, W1, b1, rows, K, hidden), linearForward(h, W2, b2, rows, K, hidden));
}
