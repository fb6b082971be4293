import { FACTOR } from "../model/levels.ts";
import { type FloatArray, check, checkLength, zerosLike } from "./array.ts";

/**
 * The hourglass resampling ops, all over the L axis of x[B, L, D] (reference: iFlame.forward).
 * Going down a level: avgpool3. Coming back up: upsample3, then shift by 2, then w·x + skip.
 */


/** y[b, i, :] = Σ_{r<3} x[b, 3i+r, :] / divisor; x [B, 3·Lo, D] → y [B, Lo, D]. */
function windowSum<T extends FloatArray>(x: T, B: number, Lo: number, D: number, divisor: number): T {
  checkLength(x, B * Lo * FACTOR * D, "hourglass window input");
  const L = Lo * FACTOR;
  const y = zerosLike(x, B * Lo * D);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Lo; i++) {
      for (let d = 0; d < D; d++) {
        let s = 0;
        for (let r = 0; r < FACTOR; r++) s += x[(b * L + i * FACTOR + r) * D + d];
        y[(b * Lo + i) * D + d] = s / divisor;
      }
    }
  }
  return y;
}

/** y[b, t, :] = x[b, floor(t/3), :] / divisor; x [B, Lo, D] → y [B, 3·Lo, D]. */
function repeat3<T extends FloatArray>(x: T, B: number, Lo: number, D: number, divisor: number): T {
  checkLength(x, B * Lo * D, "hourglass repeat input");
  const L = Lo * FACTOR;
  const y = zerosLike(x, B * L * D);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < L; t++) {
      const src = (b * Lo + Math.floor(t / FACTOR)) * D, dst = (b * L + t) * D;
      for (let d = 0; d < D; d++) y[dst + d] = x[src + d] / divisor;
    }
  }
  return y;
}

/**
 * y[b, i, :] = mean(x[b, 3i..3i+2, :]); x [B, L, D] → y [B, L/3, D]. L must be a multiple of 3
 * (the model pads to a multiple of 9, so the reference's ceil_mode never makes a partial window).
 */
export function avgpool3Forward<T extends FloatArray>(x: T, B: number, L: number, D: number): T {
  check(L % FACTOR === 0, `avgpool3: length ${L} is not a multiple of ${FACTOR}`);
  return windowSum(x, B, L / FACTOR, D, FACTOR);
}

/** dx[b, t, :] = dy[b, floor(t/3), :] / 3; dy [B, L/3, D] → dx [B, L, D]. */
export function avgpool3Backward<T extends FloatArray>(dy: T, B: number, L: number, D: number): T {
  check(L % FACTOR === 0, `avgpool3: length ${L} is not a multiple of ${FACTOR}`);
  return repeat3(dy, B, L / FACTOR, D, FACTOR);
}

/** Nearest upsampling: y[b, t, :] = x[b, floor(t/3), :]; x [B, L, D] → y [B, 3L, D]. */
export function upsample3Forward<T extends FloatArray>(x: T, B: number, L: number, D: number): T {
  return repeat3(x, B, L, D, 1);
}

/** dx[b, i, :] = Σ_{r<3} dy[b, 3i+r, :]; dy [B, 3L, D] → dx [B, L, D]. */
export function upsample3Backward<T extends FloatArray>(dy: T, B: number, L: number, D: number): T {
  return windowSum(dy, B, L, D, 1);
}

/**
 * Shift later by `shift` positions with zero fill: y[b, t] = x[b, t − shift] for t ≥ shift, else 0.
 * The model shifts by FACTOR − 1 = 2 after each upsample, so that position t only ever sees coarse
 * summaries of windows that end at or before t (this is what keeps the hourglass causal).
 */
export function shiftForward<T extends FloatArray>(x: T, B: number, L: number, D: number, shift = FACTOR - 1): T {
  checkLength(x, B * L * D, "shift x");
  const y = zerosLike(x, x.length);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < L; t++) {
      const src = t - shift;
      if (src >= 0 && src < L) y.set(x.subarray((b * L + src) * D, (b * L + src + 1) * D), (b * L + t) * D);
    }
  }
  return y;
}

/** dx[b, t] = dy[b, t + shift] for t < L − shift, else 0 (the last `shift` rows fed nothing). */
export function shiftBackward<T extends FloatArray>(dy: T, B: number, L: number, D: number, shift = FACTOR - 1): T {
  return shiftForward(dy, B, L, D, -shift);
}

/** Weighted skip connection: y = w·x + skip (w is one entry of skip_weights2); all [B, L, D]. */
export function skipAddForward<T extends FloatArray>(x: T, skip: FloatArray, w: number): T {
  checkLength(skip, x.length, "skipAdd skip");
  const y = zerosLike(x, x.length);
  for (let i = 0; i < x.length; i++) y[i] = w * x[i] + skip[i];
  return y;
}

/** Backward given dy: dx = w·dy, dskip = dy, dw = Σ x·dy. */
export function skipAddBackward<T extends FloatArray>(x: T, w: number, dy: T): { dx: T; dskip: T; dw: number } {
  checkLength(dy, x.length, "skipAdd dy");
  const dx = zerosLike(dy, dy.length);
  let dw = 0;
  for (let i = 0; i < x.length; i++) {
    dx[i] = w * dy[i];
    dw += x[i] * dy[i];
  }
  return { dx, dskip: dy.slice() as T, dw };
}
