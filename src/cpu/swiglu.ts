import { type FloatArray, add, checkLength, zerosLike } from "./array.ts";
import { linearBackward, linearForward } from "./matmul.ts";

/**
 * SwiGLU gate, elementwise: h = silu(a) · g with silu(a) = a·σ(a).
 * In the feed-forward a = proj1 x (the gate) and g = proj2 x; a, g, h share one shape.
 */
export function swigluForward<T extends FloatArray>(a: T, g: FloatArray): T {
  checkLength(g, a.length, "swiglu g");
  const h = zerosLike(a, a.length);
  for (let i = 0; i < a.length; i++) h[i] = (a[i] / (1 + Math.exp(-a[i]))) * g[i];
  return h;
}

/** Backward given dh: da = dh·g·σ(a)(1 + a(1 − σ(a))),  dg = dh·silu(a). */
export function swigluBackward<T extends FloatArray>(a: T, g: FloatArray, dh: FloatArray): { da: T; dg: T } {
  checkLength(dh, a.length, "swiglu dh");
  const da = zerosLike(a, a.length), dg = zerosLike(a, a.length);
  for (let i = 0; i < a.length; i++) {
    const sig = 1 / (1 + Math.exp(-a[i]));
    da[i] = dh[i] * g[i] * sig * (1 + a[i] * (1 - sig));
    dg[i] = dh[i] * a[i] * sig;
  }
  return { da, dg };
}

/**
 * The block's feed-forward (reference class SwiGLU): y = proj3(silu(proj1 x) · proj2 x).
 * x, y: [N, D]; proj1, proj2: weight [hidden, D], bias [hidden]; proj3: weight [D, hidden], bias [D].
 */
export interface FeedForwardParams {
  w1: FloatArray; b1: FloatArray;
  w2: FloatArray; b2: FloatArray;
  w3: FloatArray; b3: FloatArray;
}

/** Activations kept for the backward: a = proj1 x, g = proj2 x, h = silu(a)·g, all [N, hidden]. */
export interface FeedForwardCache<T extends FloatArray> { a: T; g: T; h: T }

export function feedForwardForward<T extends FloatArray>(
  x: T, p: FeedForwardParams, N: number, D: number, hidden: number,
): { y: T; cache: FeedForwardCache<T> } {
  const a = linearForward(x, p.w1, p.b1, N, D, hidden);
  const g = linearForward(x, p.w2, p.b2, N, D, hidden);
  const h = swigluForward(a, g);
  return { y: linearForward(h, p.w3, p.b3, N, hidden, D), cache: { a, g, h } };
}

/** Backward given dy[N,D]: dx[N,D] and the gradient of every parameter (same names, d-prefixed). */
export function feedForwardBackward<T extends FloatArray>(
  x: T, p: FeedForwardParams, cache: FeedForwardCache<T>, dy: T, N: number, D: number, hidden: number,
): { dx: T; dw1: T; db1: T; dw2: T; db2: T; dw3: T; db3: T } {
  const out = linearBackward(cache.h, p.w3, dy, N, hidden, D, true);
  const { da, dg } = swigluBackward(cache.a, cache.g, out.dx);
  const gate = linearBackward(x, p.w1, da, N, D, hidden, true);
  const up = linearBackward(x, p.w2, dg, N, D, hidden, true);
  return {
    dx: add(gate.dx, up.dx),
    dw1: gate.dW, db1: gate.db!,
    dw2: up.dW, db2: up.db!,
    dw3: out.dW, db3: out.db!,
  };
}
