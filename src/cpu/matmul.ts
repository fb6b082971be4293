import { type FloatArray, check, checkLength, zerosLike } from "./array.ts";

/**
 * Dense matrix products, row-major. Every op here is one call of `gemm`.
 *
 *   gemm:       C[M,N] = op(A) · op(B)  (+ bias[N])  (+ previous C when accumulate)
 *   op(A) = A stored [M,K], or with transA the transpose of A stored [K,M];
 *   op(B) = B stored [K,N], or with transB the transpose of B stored [N,K].
 *
 * `batch` runs that many independent products stored back to back (A, B and C each advance by
 * one matrix; bias is shared). Each output element is summed in f64, then stored once.
 */
export interface GemmOptions<T extends FloatArray> {
  transA?: boolean;
  transB?: boolean;
  bias?: FloatArray | null;
  /** Write into this array instead of allocating; required when accumulate is set. */
  out?: T;
  /** C += product instead of C = product (gradient accumulation). */
  accumulate?: boolean;
  batch?: number;
}

export function gemm<T extends FloatArray>(
  A: T, B: FloatArray, M: number, K: number, N: number, opts: GemmOptions<T> = {},
): T {
  const { transA = false, transB = false, bias = null, accumulate = false, batch = 1 } = opts;
  checkLength(A, batch * M * K, "gemm A");
  checkLength(B, batch * K * N, "gemm B");
  if (bias) checkLength(bias, N, "gemm bias");
  check(!accumulate || opts.out !== undefined, "gemm: accumulate needs out");
  const C = opts.out ?? zerosLike(A, batch * M * N);
  checkLength(C, batch * M * N, "gemm C");
  // Element strides of op(A)(i,k) and op(B)(k,j) in their stored layouts.
  const [aI, aK] = transA ? [1, M] : [K, 1];
  const [bK, bJ] = transB ? [1, K] : [N, 1];
  const row = new Float64Array(N);
  for (let b = 0; b < batch; b++) {
    const a0 = b * M * K, b0 = b * K * N, c0 = b * M * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) row[j] = bias ? bias[j] : 0;
      // Both orders add the k terms in ascending order, so results are identical; the k-outer
      // order is chosen when B's rows are contiguous in j (cache-friendly), the dot-product one otherwise.
      if (bJ === 1) {
        for (let k = 0; k < K; k++) {
          const a = A[a0 + i * aI + k * aK], bRow = b0 + k * bK;
          for (let j = 0; j < N; j++) row[j] += a * B[bRow + j];
        }
      } else {
        for (let j = 0; j < N; j++) {
          let s = row[j];
          for (let k = 0; k < K; k++) s += A[a0 + i * aI + k * aK] * B[b0 + k * bK + j * bJ];
          row[j] = s;
        }
      }
      for (let j = 0; j < N; j++) C[c0 + i * N + j] = accumulate ? C[c0 + i * N + j] + row[j] : row[j];
    }
  }
  return C;
}

/** C[M,N] = A[M,K] · B[K,N] */
export function matmul<T extends FloatArray>(A: T, B: FloatArray, M: number, K: number, N: number, opts: GemmOptions<T> = {}): T {
  return gemm(A, B, M, K, N, { ...opts, transA: false, transB: false });
}

/** C[M,N] = A[M,K] · Bᵀ, B stored [N,K] (a Linear layer's weight layout). */
export function matmulABt<T extends FloatArray>(A: T, B: FloatArray, M: number, K: number, N: number, opts: GemmOptions<T> = {}): T {
  return gemm(A, B, M, K, N, { ...opts, transA: false, transB: true });
}

/** C[M,N] = Aᵀ · B, A stored [K,M], B stored [K,N] (weight gradients: dyᵀ·x). */
export function matmulAtB<T extends FloatArray>(A: T, B: FloatArray, M: number, K: number, N: number, opts: GemmOptions<T> = {}): T {
  return gemm(A, B, M, K, N, { ...opts, transA: true, transB: false });
}

/**
 * Linear layer like torch.nn.Linear: y[N,out] = x[N,in] · Wᵀ + b, W stored [out,in], b [out]
 * (or null for the bias-free q/k/v/out projections).
 */
export function linearForward<T extends FloatArray>(
  x: T, W: FloatArray, b: FloatArray | null, N: number, inF: number, outF: number,
): T {
  return matmulABt(x, W, N, inF, outF, { bias: b });
}

/**
 * Backward of linearForward given dy[N,out]:
 *   dx[N,in] = dy · W,   dW[out,in] = dyᵀ · x,   db[out] = Σ_rows dy   (db null when hasBias is false).
 */
export function linearBackward<T extends FloatArray>(
  x: T, W: FloatArray, dy: T, N: number, inF: number, outF: number, hasBias: boolean,
): { dx: T; dW: T; db: T | null } {
  checkLength(dy, N * outF, "linear dy");
  const dx = matmul(dy, W, N, outF, inF);
  const dW = matmulAtB(dy, x, outF, N, inF);
  let db: T | null = null;
  if (hasBias) {
    db = zerosLike(dy, outF);
    for (let j = 0; j < outF; j++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += dy[n * outF + j];
      db[j] = s;
    }
  }
  return { dx, dW, db };
}
