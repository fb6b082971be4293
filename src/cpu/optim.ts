import { WEIGHT_DECAY } from "../train/recipe.ts";
import { type FloatArray, checkLength } from "./array.ts";
import { matmul, matmulABt } from "./matmul.ts";

/**
 * The reference optimizer (iFlame.py: class Muon with its AdamW backup, get_optimizer and
 * clip_grad_norm_); its learning rate schedule, weight decay and which parameters Muon takes are
 * the training recipe's (src/train/recipe.ts). Every update mutates its parameter and state
 * arrays in place.
 */

export interface AdamWState { m: Float32Array; v: Float32Array; step: number }

export function adamwState(n: number): AdamWState {
  return { m: new Float32Array(n), v: new Float32Array(n), step: 0 };
}

export interface AdamWOptions { lr: number; wd?: number; beta1?: number; beta2?: number; eps?: number }

/**
 * The Muon class's AdamW backup (not torch.optim.AdamW: eps is added to the uncorrected √v):
 *   step += 1;  m = β1 m + (1−β1) g;  v = β2 v + (1−β2) g²
 *   p ← p·(1 − lr·wd) − lr · (√(1−β2^step) / (1−β1^step)) · m / (eps + √v)
 */
export function adamwStep(p: FloatArray, g: ArrayLike<number>, state: AdamWState, opts: AdamWOptions): void {
  const { lr, wd = WEIGHT_DECAY, beta1 = 0.95, beta2 = 0.95, eps = 1e-8 } = opts;
  checkLength(g, p.length, "adamw grad");
  checkLength(state.m, p.length, "adamw m");
  state.step += 1;
  const stepSize = lr * Math.sqrt(1 - Math.pow(beta2, state.step)) / (1 - Math.pow(beta1, state.step));
  const decay = 1 - lr * wd;
  for (let i = 0; i < p.length; i++) {
    const m = beta1 * state.m[i] + (1 - beta1) * g[i];
    const v = beta2 * state.v[i] + (1 - beta2) * g[i] * g[i];
    state.m[i] = m;
    state.v[i] = v;
    p[i] = p[i] * decay - stepSize * (m / (eps + Math.sqrt(v)));
  }
}

/** Quintic Newton–Schulz coefficients (a, b, c) of zeropower_via_newtonschulz5. */
export const NS_COEFFS = [3.4445, -4.775, 2.0315] as const;

/**
 * Approximate orthogonalisation of G [rows, cols] (zeropower_via_newtonschulz5): work on X = G, or
 * Gᵀ when rows > cols so that X X ᵀ is the small Gram matrix; X ← X / (‖X‖_F + 1e-7); then `steps` times
 *   A = X Xᵀ,  X ← a X + (b A + c A A) X
 * and transpose back. The singular values end up roughly in [0.5, 1.5], not exactly 1 (by design).
 * The reference runs this in bfloat16; here storage is f32 with f64 sums.
 */
export function newtonSchulz5(G: ArrayLike<number>, rows: number, cols: number, steps = 5): Float32Array {
  checkLength(G, rows * cols, "newtonSchulz5 G");
  const tall = rows > cols;
  const [r, c] = tall ? [cols, rows] : [rows, cols];
  let X = new Float32Array(r * c);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) X[tall ? j * rows + i : i * cols + j] = G[i * cols + j];
  }
  let sumSq = 0;
  for (let i = 0; i < X.length; i++) sumSq += X[i] * X[i];
  const norm = Math.sqrt(sumSq) + 1e-7;
  for (let i = 0; i < X.length; i++) X[i] /= norm;
  const [a, b, cc] = NS_COEFFS;
  for (let s = 0; s < steps; s++) {
    const A = matmulABt(X, X, r, c, r);
    const AA = matmul(A, A, r, r, r);
    const poly = new Float32Array(r * r);
    for (let i = 0; i < poly.length; i++) poly[i] = b * A[i] + cc * AA[i];
    const polyX = matmul(poly, X, r, r, c);
    const next = new Float32Array(r * c);
    for (let i = 0; i < next.length; i++) next[i] = a * X[i] + polyX[i];
    X = next;
  }
  if (!tall) return X;
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[i * cols + j] = X[j * rows + i];
  }
  return out;
}

export interface MuonOptions { lr: number; wd?: number; momentum?: number; nesterov?: boolean; nsSteps?: number }

/**
 * One Muon update of a 2-D parameter p [rows, cols] (a Linear weight [out, in]) with momentum
 * buffer `buf` (zeros at the start):
 *   buf = μ·buf + g;   u = g + μ·buf (Nesterov) or buf;   O = newtonSchulz5(u)
 *   p ← p·(1 − lr·wd) − lr·0.2·√max(rows, cols) · O
 */
export function muonStep(
  p: FloatArray, g: ArrayLike<number>, buf: FloatArray, rows: number, cols: number, opts: MuonOptions,
): void {
  const { lr, wd = WEIGHT_DECAY, momentum = 0.95, nesterov = true, nsSteps = 5 } = opts;
  checkLength(p, rows * cols, "muon param");
  checkLength(g, p.length, "muon grad");
  checkLength(buf, p.length, "muon momentum");
  const u = new Float32Array(p.length);
  for (let i = 0; i < p.length; i++) {
    buf[i] = momentum * buf[i] + g[i];
    u[i] = nesterov ? g[i] + momentum * buf[i] : buf[i];
  }
  const O = newtonSchulz5(u, rows, cols, nsSteps);
  const stepSize = lr * 0.2 * Math.sqrt(Math.max(rows, cols));
  const decay = 1 - lr * wd;
  for (let i = 0; i < p.length; i++) p[i] = p[i] * decay - stepSize * O[i];
}

/** ‖g‖ over all gradient tensors together (clip_grad_norm_'s total 2-norm). */
export function globalGradNorm(grads: Iterable<FloatArray>): number {
  let sumSq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sumSq += g[i] * g[i];
  return Math.sqrt(sumSq);
}

/** The factor clip_grad_norm_ multiplies every gradient by: min(1, maxNorm / (norm + 1e-6)). */
export function clipScale(norm: number, maxNorm = 1): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}
