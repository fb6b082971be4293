/**
 * Counter-based random numbers: a value depends only on (seed, counter), so the CPU and a WGSL
 * kernel produce bit-identical uniforms with no state to carry between dispatches.
 *
 * pcgHash is the "PCG hash" of Jarzynski & Olano, "Hash Functions for GPU Rendering" (JCGT 2020),
 * all arithmetic on u32 with wrap-around. In WGSL:
 *
 *   fn pcg_hash(v: u32) -> u32 {
 *     let state = v * 747796405u + 2891336453u;
 *     let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
 *     return (word >> 22u) ^ word;
 *   }
 *   fn uniform01(seed: u32, counter: u32) -> f32 {
 *     return f32(pcg_hash(counter ^ pcg_hash(seed)) >> 8u) * (1.0 / 16777216.0);
 *   }
 *
 * uniform01 keeps the top 24 bits so the result is an exact f32 in [0, 1) with no rounding.
 */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** Uniform in [0, 1), a multiple of 2^-24, determined by (seed, counter); both taken mod 2^32. */
export function uniform01(seed: number, counter: number): number {
  return (pcgHash((counter ^ pcgHash(seed)) >>> 0) >>> 8) / 16777216;
}

/** Standard normal from the uniforms at `counter` and `counter + 1` (Box–Muller, cosine branch). */
export function normal(seed: number, counter: number): number {
  const u1 = 1 - uniform01(seed, counter); // in (0, 1]: log stays finite
  const u2 = uniform01(seed, counter + 1);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** n values uniform in [-scale, scale) from stream `seed` (test data). */
export function randomUniform(n: number, seed: number, scale = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * (2 * uniform01(seed, i) - 1);
  return out;
}
