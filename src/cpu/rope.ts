import { type FloatArray, check, checkLength, zerosLike } from "./array.ts";

/**
 * "Half-truncated" rotary embedding (reference: multihead_flashdiff_2.py, class Rotary).
 *
 * For head dim hd (a multiple of 4) there are hd/2 angular frequencies:
 *   f_j = (1/1024)^(j / (hd/4 − 1))  for j < hd/4   (torch.linspace(0, 1, hd/4) exponents; hd/4 = 1 gives f_0 = 1)
 *   f_j = 0                          for hd/4 ≤ j < hd/2   (those pairs are never rotated)
 * hd = 32: f_j = (1/1024)^(j/7), j = 0..7, then 8 zeros.
 *
 * A head vector x[0..hd) is split into halves x1 = x[0..hd/2), x2 = x[hd/2..hd); pair j is
 * (x1[j], x2[j]) with angle θ = t·f_j at position t:
 *   y1 = x1·cos θ + x2·sin θ,   y2 = −x1·sin θ + x2·cos θ
 * Positions are t = offset + l for row l of the sequence; a full forward uses offset 0 at every
 * hourglass level (each level's own sequence), a cached decode step passes its level position.
 *
 * Precision as the reference: f_j and θ = fround(t · f_j) are f32, and the tables hold f32 cos/sin
 * (f_j may differ from torch's by an ulp). GPU code should upload ropeTables rather than
 * evaluate cos/sin of large f32 angles itself.
 */
export function ropeFrequencies(hd: number): Float32Array {
  check(hd % 4 === 0, `rope: head dim ${hd} is not a multiple of 4`);
  const rotated = hd / 4;
  const f = new Float32Array(hd / 2); // second quarter stays 0
  for (let j = 0; j < rotated; j++) {
    const exponent = rotated === 1 ? 0 : Math.fround(j / (rotated - 1));
    f[j] = Math.pow(1 / 1024, exponent);
  }
  return f;
}

/** cos θ and sin θ for positions offset..offset+L−1: each [L, hd/2], row l = position offset + l. */
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
 * Rotates every head vector of x[B,L,H,hd] by +θ (direction 1) or −θ (direction −1). The rotation
 * is orthogonal, so rotating by −θ is its transpose: that is the backward.
 */
function rotate<T extends FloatArray>(
  x: T, B: number, L: number, H: number, hd: number, offset: number, direction: 1 | -1,
): T {
  checkLength(x, B * L * H * hd, "rope x");
  const { cos, sin } = ropeTables(L, hd, offset);
  const half = hd / 2;
  const y = zerosLike(x, x.length);
  for (let b = 0; b < B; b++) {
    for (let l = 0; l < L; l++) {
      for (let h = 0; h < H; h++) {
        const base = ((b * L + l) * H + h) * hd;
        for (let j = 0; j < half; j++) {
          const c = cos[l * half + j], s = direction * sin[l * half + j];
          const x1 = x[base + j], x2 = x[base + half + j];
          y[base + j] = x1 * c + x2 * s;
          y[base + half + j] = -x1 * s + x2 * c;
        }
      }
    }
  }
  return y;
}

/** y[B,L,H,hd] = RoPE(x) at positions offset + l. */
export function ropeForward<T extends FloatArray>(x: T, B: number, L: number, H: number, hd: number, offset = 0): T {
  return rotate(x, B, L, H, hd, offset, 1);
}

/** dx = Rᵀ dy: the inverse rotation applied to the upstream gradient dy[B,L,H,hd]. */
export function ropeBackward<T extends FloatArray>(dy: T, B: number, L: number, H: number, hd: number, offset = 0): T {
  return rotate(dy, B, L, H, hd, offset, -1);
}
