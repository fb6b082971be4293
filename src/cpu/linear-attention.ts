import { type FloatArray, checkLength, checkLengths, zerosLike } from "./array.ts";

/**
 * Decayed linear attention ("lightning attention" with decay, lightning_attn_func in the reference),
 * per head h with slope s_h (alibiSlopes, src/model/tables.ts); no softmax, no scale, no normaliser. RoPE is applied to q, k by the
 * caller; the RMSNorm over the concatenated heads and the out projection belong to the block.
 *
 * Layouts: q, k, v, o: [B, L, H, hd]; recurrent state S: [B, H, hd, hd] with S[b,h][d][e] indexed
 * (key dim d, value dim e).
 *
 * Quadratic form:  o_t = Σ_{u≤t} exp(−s_h (t−u)) (q_t·k_u) v_u
 * Recurrent form:  S_t = exp(−s_h) S_{t−1} + k_tᵀ v_t,   o_t = q_t S_t     (S_{−1} = 0)
 * They are equal; the recurrent one is what cached decoding runs one token at a time. The quadratic
 * form evaluates each decay exp(−s_h (t−u)) directly, the recurrent one multiplies by exp(−s_h) per
 * step (both in f64 here), so in f32 they agree to rounding, not bit for bit.
 */

/** Quadratic (direct) form: o[B,L,H,hd] from q, k, v [B,L,H,hd] and slopes [H]. */
export function linearAttentionForward<T extends FloatArray>(
  q: T, k: FloatArray, v: FloatArray, B: number, L: number, H: number, hd: number, slopes: FloatArray,
): T {
  const n = B * L * H * hd;
  checkLengths("linear attention", n, { q, k, v });
  checkLength(slopes, H, "linear attention slopes");
  const o = zerosLike(q, n);
  const at = (b: number, t: number, h: number) => ((b * L + t) * H + h) * hd;
  const acc = new Float64Array(hd);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < L; t++) {
        const qt = at(b, t, h);
        acc.fill(0);
        for (let u = 0; u <= t; u++) {
          const ku = at(b, u, h);
          let qk = 0;
          for (let d = 0; d < hd; d++) qk += q[qt + d] * k[ku + d];
          const w = Math.exp(-slopes[h] * (t - u)) * qk;
          for (let e = 0; e < hd; e++) acc[e] += w * v[ku + e];
        }
        for (let e = 0; e < hd; e++) o[qt + e] = acc[e];
      }
    }
  }
  return o;
}

/**
 * One recurrent update for one (batch, head): S ← ratio·S + kᵀv, then o = q·S.
 * S is hd×hd at S[s0..]; q, k, v, o are hd-vectors at their offsets.
 */
function decayStep(
  S: FloatArray, s0: number, q: FloatArray, q0: number, k: FloatArray, k0: number,
  v: FloatArray, v0: number, o: FloatArray, o0: number, ratio: number, hd: number,
): void {
  for (let d = 0; d < hd; d++) {
    for (let e = 0; e < hd; e++) S[s0 + d * hd + e] = ratio * S[s0 + d * hd + e] + k[k0 + d] * v[v0 + e];
  }
  for (let e = 0; e < hd; e++) {
    let s = 0;
    for (let d = 0; d < hd; d++) s += q[q0 + d] * S[s0 + d * hd + e];
    o[o0 + e] = s;
  }
}

/**
 * Recurrent form over a whole sequence: o[B,L,H,hd]. `state` [B,H,hd,hd] is the S before the first
 * row (zeros when omitted, i.e. a fresh sequence); the returned state is S after the last row.
 */
export function linearAttentionRecurrent<T extends FloatArray>(
  q: T, k: FloatArray, v: FloatArray, B: number, L: number, H: number, hd: number, slopes: FloatArray,
  state?: FloatArray,
): { o: T; state: T } {
  const n = B * L * H * hd;
  checkLengths("linear attention", n, { q, k, v });
  checkLength(slopes, H, "linear attention slopes");
  const S = zerosLike(q, B * H * hd * hd);
  if (state) {
    checkLength(state, S.length, "linear attention state");
    S.set(state);
  }
  const o = zerosLike(q, n);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const ratio = Math.exp(-slopes[h]);
      for (let t = 0; t < L; t++) {
        const x0 = ((b * L + t) * H + h) * hd;
        decayStep(S, (b * H + h) * hd * hd, q, x0, k, x0, v, x0, o, x0, ratio, hd);
      }
    }
  }
  return { o, state: S };
}

/**
 * One decode step: q, k, v are one position's [B, H, hd]; `state` [B,H,hd,hd] is updated in place
 * (S_{t−1} → S_t). Returns o_t [B, H, hd].
 */
export function linearAttentionStep<T extends FloatArray>(
  q: T, k: FloatArray, v: FloatArray, state: FloatArray, B: number, H: number, hd: number, slopes: FloatArray,
): T {
  const n = B * H * hd;
  checkLengths("linear attention step", n, { q, k, v });
  checkLength(state, B * H * hd * hd, "linear attention step state");
  checkLength(slopes, H, "linear attention slopes");
  const o = zerosLike(q, n);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const x0 = (b * H + h) * hd;
      decayStep(state, x0 * hd, q, x0, k, x0, v, x0, o, x0, Math.exp(-slopes[h]), hd);
    }
  }
  return o;
}

/**
 * Backward of the quadratic form given dout[B,L,H,hd]. With M_tu = exp(−s_h (t−u)) for u ≤ t:
 *   dq_t = Σ_{u≤t} M_tu (dout_t·v_u) k_u
 *   dk_u = Σ_{t≥u} M_tu (dout_t·v_u) q_t
 *   dv_u = Σ_{t≥u} M_tu (q_t·k_u) dout_t
 */
export function linearAttentionBackward<T extends FloatArray>(
  q: T, k: FloatArray, v: FloatArray, dout: FloatArray, B: number, L: number, H: number, hd: number,
  slopes: FloatArray,
): { dq: T; dk: T; dv: T } {
  const n = B * L * H * hd;
  checkLengths("linear attention", n, { q, k, v, dout });
  checkLength(slopes, H, "linear attention slopes");
  const dqSum = new Float64Array(n), dkSum = new Float64Array(n), dvSum = new Float64Array(n);
  const at = (b: number, t: number, h: number) => ((b * L + t) * H + h) * hd;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < L; t++) {
        const qt = at(b, t, h);
        for (let u = 0; u <= t; u++) {
          const ku = at(b, u, h);
          const M = Math.exp(-slopes[h] * (t - u));
          let qk = 0, dA = 0;
          for (let d = 0; d < hd; d++) {
            qk += q[qt + d] * k[ku + d];
            dA += dout[qt + d] * v[ku + d];
          }
          for (let d = 0; d < hd; d++) {
            dqSum[qt + d] += M * dA * k[ku + d];
            dkSum[ku + d] += M * dA * q[qt + d];
            dvSum[ku + d] += M * qk * dout[qt + d];
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
