import { RMSNORM_EPS } from "../model/constants.ts";
import { type FloatArray, checkLength, zerosLike } from "./array.ts";

/**
 * RMSNorm over the last axis, as the reference's rms_norm.py (computed in f32 there):
 *   rstd[n] = 1 / sqrt(mean_d x[n,d]² + eps),   y[n,d] = (x[n,d] · rstd[n]) · w[d]
 * x, y: [N, D] (N = B·L rows); w: [D]; rstd: [N], kept for the backward as the GPU does.
 */

export function rmsnormForward<T extends FloatArray>(
  x: T, w: FloatArray, N: number, D: number, eps = RMSNORM_EPS,
): { y: T; rstd: T } {
  checkLength(x, N * D, "rmsnorm x");
  checkLength(w, D, "rmsnorm weight");
  const y = zerosLike(x, N * D);
  const rstd = zerosLike(x, N);
  for (let n = 0; n < N; n++) {
    let sumSq = 0;
    for (let d = 0; d < D; d++) sumSq += x[n * D + d] * x[n * D + d];
    const r = 1 / Math.sqrt(sumSq / D + eps);
    rstd[n] = r;
    for (let d = 0; d < D; d++) y[n * D + d] = x[n * D + d] * r * w[d];
  }
  return { y, rstd };
}

/**
 * Backward given dy[N,D]. With x̂ = x·rstd and g = dy·w:
 *   dw[d] = Σ_n dy[n,d] x̂[n,d],   dx[n,:] = rstd[n] · (g[n,:] − x̂[n,:] · mean_d(g[n,d] x̂[n,d]))
 * (the second term is the derivative through rstd, which depends on the whole row).
 */
export function rmsnormBackward<T extends FloatArray>(
  x: T, w: FloatArray, rstd: FloatArray, dy: T, N: number, D: number,
): { dx: T; dw: T } {
  checkLength(dy, N * D, "rmsnorm dy");
  const dx = zerosLike(x, N * D);
  const dwSum = new Float64Array(D);
  for (let n = 0; n < N; n++) {
    const r = rstd[n];
    let gDotXhat = 0;
    for (let d = 0; d < D; d++) {
      const i = n * D + d;
      const xhat = x[i] * r;
      dwSum[d] += dy[i] * xhat;
      gDotXhat += dy[i] * w[d] * xhat;
    }
    const meanGXhat = gDotXhat / D;
    for (let d = 0; d < D; d++) {
      const i = n * D + d;
      dx[i] = r * (dy[i] * w[d] - x[i] * r * meanGXhat);
    }
  }
  const dw = zerosLike(x, D);
  dw.set(dwSum);
  return { dx, dw };
}
