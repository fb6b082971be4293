/**
 * Half precision (IEEE binary16) on the CPU: what an f16 tensor stores. The mixed-precision
 * references round their inputs here, compute in f64 like every CPU op (kernels sum in f32),
 * and round an f16 output once where a kernel writes it.
 */
import { type FloatArray, checkLength } from "./array.ts";
import { gemm, type GemmOptions } from "./matmul.ts";

/** x rounded to the nearest f16 (ties to even; beyond ±65504 → ±Infinity), held as f32. */
export function roundHalf(x: ArrayLike<number>): Float32Array {
  return Float32Array.from(x, (v) => Math.f16round(v));
}

/**
 * gemm with f16 operands: A and B rounded to f16, products summed in f64, then C (with its
 * prior value under `accumulate`) rounded to f16 when `outHalf`. Bias is f32, as in the kernel.
 */
export function gemmHalf(
  A: FloatArray, B: FloatArray, M: number, K: number, N: number,
  opts: Omit<GemmOptions<Float32Array>, "out"> & { out?: Float32Array; outHalf?: boolean } = {},
): Float32Array {
  const { outHalf = false, ...rest } = opts;
  const batch = rest.batch ?? 1;
  if (rest.out) checkLength(rest.out, batch * M * N, "gemmHalf C");
  const C = gemm(roundHalf(A), roundHalf(B), M, K, N, { ...rest, out: rest.out ?? new Float32Array(batch * M * N) });
  if (outHalf) C.set(roundHalf(C));
  return C;
}
