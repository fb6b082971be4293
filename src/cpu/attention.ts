import { type FloatArray, checkLength, checkLengths, zerosLike } from "./array.ts";

/**
 * Causal softmax attention per head (flash_attn_func(q, k, v, causal=True) in the reference),
 * scale 1/sqrt(hd). RoPE is applied to q and k by the caller.
 *
 * Layouts: q, k, v, o, dq, dk, dv: [B, L, H, hd] (the [B, L, D] projection viewed as heads);
 * lse: [B, L, H], the log-sum-exp of row (b, t, h)'s scaled scores, kept for the backward.
 *
 *   s_tu = scale · q_t·k_u  (u ≤ t),   lse_t = log Σ_{u≤t} exp(s_tu),
 *   P_tu = exp(s_tu − lse_t),          o_t = Σ_{u≤t} P_tu v_u
 */
export function attentionForward<T extends FloatArray>(
  q: T, k: FloatArray, v: FloatArray, B: number, L: number, H: number, hd: number,
): { o: T; lse: T } {
  const n = B * L * H * hd;
  checkLengths("attention", n, { q, k, v });
  const scale = 1 / Math.sqrt(hd);
  const o = zerosLike(q, n);
  const lse = zerosLike(q, B * L * H);
  const at = (b: number, t: number, h: number) => ((b * L + t) * H + h) * hd;
  const scores = new Float64Array(L);
  const acc = new Float64Array(hd);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < L; t++) {
        const qt = at(b, t, h);
        let max = -Infinity;
        for (let u = 0; u <= t; u++) {
          const ku = at(b, u, h);
          let s = 0;
          for (let d = 0; d < hd; d++) s += q[qt + d] * k[ku + d];
          scores[u] = s * scale;
          if (scores[u] > max) max = scores[u];
        }
        let sum = 0;
        for (let u = 0; u <= t; u++) sum += Math.exp(scores[u] - max);
        const rowLse = max + Math.log(sum);
        lse[(b * L + t) * H + h] = rowLse;
        acc.fill(0);
        for (let u = 0; u <= t; u++) {
          const p = Math.exp(scores[u] - rowLse);
          const vu = at(b, u, h);
          for (let d = 0; d < hd; d++) acc[d] += p * v[vu + d];
        }
        for (let d = 0; d < hd; d++) o[qt + d] = acc[d];
      }
    }
  }
  return { o, lse };
}

/**
 * Backward given dout[B,L,H,hd], recomputing P from lse (as flash attention does):
 *   D_t = dout_t · o_t,   dP_tu = dout_t · v_u,   dS_tu = P_tu (dP_tu − D_t)
 *   dq_t = scale Σ_{u≤t} dS_tu k_u,   dk_u = scale Σ_{t≥u} dS_tu q_t,   dv_u = Σ_{t≥u} P_tu dout_t
 */
export function attentionBackward<T extends FloatArray>(
  q: T, k: FloatArray, v: FloatArray, o: FloatArray, lse: FloatArray, dout: FloatArray,
  B: number, L: number, H: number, hd: number,
): { dq: T; dk: T; dv: T } {
  const n = B * L * H * hd;
  checkLengths("attention", n, { q, k, v, o, dout });
  checkLength(lse, B * L * H, "attention lse");
  const scale = 1 / Math.sqrt(hd);
  const dqSum = new Float64Array(n), dkSum = new Float64Array(n), dvSum = new Float64Array(n);
  const at = (b: number, t: number, h: number) => ((b * L + t) * H + h) * hd;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < L; t++) {
        const qt = at(b, t, h);
        const rowLse = lse[(b * L + t) * H + h];
        let Dt = 0;
        for (let d = 0; d < hd; d++) Dt += dout[qt + d] * o[qt + d];
        for (let u = 0; u <= t; u++) {
          const ku = at(b, u, h);
          let s = 0, dP = 0;
          for (let d = 0; d < hd; d++) {
            s += q[qt + d] * k[ku + d];
            dP += dout[qt + d] * v[ku + d];
          }
          const P = Math.exp(s * scale - rowLse);
          const dS = P * (dP - Dt);
          for (let d = 0; d < hd; d++) {
            dqSum[qt + d] += scale * dS * k[ku + d];
            dkSum[ku + d] += scale * dS * q[qt + d];
            dvSum[ku + d] += P * dout[qt + d];
          }
        }
      }
    }
  }
  const dq = zerosLike(q, n), dk = zerosLike(q, n), dv = zerosLike(q, n);
  dq.set(dqSum);
  dk.set(dkSum);
  dv.set(dvSum);
  return { dq, dk, dv };
}
