import { type FloatArray, check, checkLength } from "./array.ts";
import { uniform01 } from "../util/rng.ts";

/**
 * Finite-difference gradient checker. For a scalar function f of the array x (f reads x; x is
 * perturbed in place and restored), compares the analytic gradient at a few random coordinates i
 * with the central difference (f(x + eps·e_i) − f(x − eps·e_i)) / (2 eps).
 *
 * Run f in f64 (Float64Array inputs) for meaningful results: with eps = 1e-6 the difference is
 * then accurate to ~1e-9 relative, so a tolerance around 1e-6 separates rounding from real bugs.
 *
 * Error per coordinate: |analytic − numeric| / max(|analytic| + |numeric|, floor); `floor` stops
 * coordinates whose true gradient is ~0 from producing huge relative errors out of rounding noise.
 */
export interface GradcheckOptions {
  /** Coordinates to check (all of them when ≥ x.length). */
  count?: number;
  eps?: number;
  floor?: number;
  /** Seed of the coordinate choice. */
  seed?: number;
}

export interface GradcheckResult {
  maxError: number;
  /** The coordinate with the largest error. */
  worst: { index: number; analytic: number; numeric: number };
  checked: number;
}

export function gradcheck(
  f: () => number, x: FloatArray, analytic: ArrayLike<number>, opts: GradcheckOptions = {},
): GradcheckResult {
  const { count = 8, eps = 1e-6, floor = 1e-8, seed = 1 } = opts;
  checkLength(analytic, x.length, "gradcheck analytic gradient");
  check(x.length > 0, "gradcheck: empty input");
  const indices = count >= x.length
    ? Array.from({ length: x.length }, (_, i) => i)
    : Array.from({ length: count }, (_, j) => Math.floor(uniform01(seed, j) * x.length));
  const result: GradcheckResult = { maxError: -1, worst: { index: -1, analytic: 0, numeric: 0 }, checked: indices.length };
  for (const i of indices) {
    const saved = x[i];
    x[i] = saved + eps;
    const plus = f();
    x[i] = saved - eps;
    const minus = f();
    x[i] = saved;
    const numeric = (plus - minus) / (2 * eps);
    const error = Math.abs(analytic[i] - numeric) / Math.max(Math.abs(analytic[i]) + Math.abs(numeric), floor);
    if (error > result.maxError) result.worst = { index: i, analytic: analytic[i], numeric };
    result.maxError = Math.max(result.maxError, error);
  }
  return result;
}

/** Σ a_i b_i in f64; with b random, f(x) = dot(op(x), b) makes b the upstream gradient of op. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkLength(b, a.length, "dot");
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
