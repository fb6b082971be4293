import { ropeTables } from "../model/tables.ts";
import { type FloatArray, checkLength, zerosLike } from "./array.ts";

/**
 * "Half-truncated" rotary embedding (reference: multihead_flashdiff_2.py, class Rotary), with the
 * frequencies and tables of src/model/tables.ts. A head vector x[0..hd) is split into halves
 * x1 = x[0..hd/2), x2 = x[hd/2..hd); pair j is (x1[j], x2[j]) with angle θ = t·f_j at position t:
 *   y1 = x1·cos θ + x2·sin θ,   y2 = −x1·sin θ + x2·cos θ
 * Positions are t = offset + l for row l of the sequence; a full forward uses offset 0 at every
 * hourglass level (each level's own sequence), a cached decode step passes its level position.
 */

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
