/**
 * The network's position and decay tables: RoPE's cosines and sines, and the linear attention's
 * per-head decay slopes. Computed once on the host, in the reference's precision; the kernels
 * upload them and the CPU reference reads them. A leaf: it imports nothing.
 */

/**
 * "Half-truncated" RoPE frequencies (multihead_flashdiff_2.py, class Rotary): for head dim hd (a
 * multiple of 4) there are hd/2 of them,
 *   f_j = (1/1024)^(j / (hd/4 − 1))  for j < hd/4   (torch.linspace(0, 1, hd/4) exponents; hd/4 = 1 gives f_0 = 1)
 *   f_j = 0                          for hd/4 ≤ j < hd/2   (those pairs are never rotated)
 * hd = 32: f_j = (1/1024)^(j/7), j = 0..7, then 8 zeros. f_j is f32 (it may differ from torch's
 * by an ulp).
 */
export function ropeFrequencies(hd: number): Float32Array {
  if (hd % 4 !== 0) throw new Error(`rope: head dim ${hd} is not a multiple of 4`);
  const rotated = hd / 4;
  const f = new Float32Array(hd / 2); // second quarter stays 0
  for (let j = 0; j < rotated; j++) {
    const exponent = rotated === 1 ? 0 : Math.fround(j / (rotated - 1));
    f[j] = Math.pow(1 / 1024, exponent);
  }
  return f;
}

/**
 * cos θ and sin θ of pair j at positions offset..offset+L−1, θ = fround(t · f_j) as the reference
 * (an f32 angle), each [L, hd/2], row l = position offset + l. Kernels upload these rather than
 * evaluate cos/sin of large f32 angles themselves.
 */
export function ropeTables(L: number, hd: number, offset = 0): { cos: Float32Array; sin: Float32Array } {
  const f = ropeFrequencies(hd);
  const half = hd / 2;
  const cos = new Float32Array(L * half);
  const sin = new Float32Array(L * half);
  for (let l = 0; l < L; l++) {
    for (let j = 0; j < half; j++) {
      const theta = Math.fround(Math.fround(offset + l) * f[j]);
      cos[l * half + j] = Math.cos(theta);
      sin[l * half + j] = Math.sin(theta);
    }
  }
  return { cos, sin };
}

/**
 * The linear attention's decay slopes: ALiBi slopes, as lightning_attn.utils._build_slope_tensor
 * (stored f32 there):
 *   n a power of 2: s_i = start^(i+1), start = 2^(−8/n)     (n = 16: s_h = 2^(−0.5(h+1)))
 *   otherwise, with p the largest power of 2 below n: the p slopes for p, followed by the
 *   even-indexed slopes for 2p (0th, 2nd, ...), first n − p of them.
 */
export function alibiSlopes(n: number): Float32Array {
  if (!Number.isInteger(n) || n < 1) throw new Error(`alibiSlopes: bad head count ${n}`);
  const powerOf2 = (m: number) => {
    const start = Math.pow(2, -8 / m);
    return Array.from({ length: m }, (_, i) => start * Math.pow(start, i));
  };
  const slopes = (m: number): number[] => {
    if (Number.isInteger(Math.log2(m))) return powerOf2(m);
    const p = Math.pow(2, Math.floor(Math.log2(m)));
    return powerOf2(p).concat(slopes(2 * p).filter((_, i) => i % 2 === 0).slice(0, m - p));
  };
  return Float32Array.from(slopes(n));
}
