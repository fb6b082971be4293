import { describe, expect, test } from "bun:test";
import { embeddingBackward, embeddingForward } from "../src/cpu/embedding.ts";
import { dot, gradcheck } from "../src/cpu/gradcheck.ts";
import {
  avgpool3Backward, avgpool3Forward, shiftBackward, shiftForward, skipAddBackward, skipAddForward,
  upsample3Backward, upsample3Forward,
} from "../src/cpu/hourglass.ts";
import { gemm, linearBackward, linearForward, matmul, matmulABt, matmulAtB } from "../src/cpu/matmul.ts";
import { randomUniform } from "../src/util/rng.ts";
import { rmsnormBackward, rmsnormForward } from "../src/cpu/rmsnorm.ts";
import { ropeBackward, ropeForward } from "../src/cpu/rope.ts";
import { ropeFrequencies, ropeTables } from "../src/model/tables.ts";
import { feedForwardBackward, feedForwardForward, swigluBackward, swigluForward } from "../src/cpu/swiglu.ts";

/** Gradient checks run in f64; 1e-6 relative separates rounding (~1e-9) from wrong formulas. */
const TOL = 1e-6;
const rand = randomUniform;

function expectGradient(f: () => number, x: Float64Array, analytic: ArrayLike<number>, count = 12): void {
  const r = gradcheck(f, x, analytic, { count });
  if (r.maxError > TOL) console.error("gradcheck worst", r.worst);
  expect(r.maxError).toBeLessThan(TOL);
}

describe("gradcheck", () => {
  test("accepts a right gradient and rejects a wrong one", () => {
    const x = rand(5, 1);
    const f = () => dot(x, x) + Math.sin(x[2]);
    const right = Float64Array.from(x, (v, i) => 2 * v + (i === 2 ? Math.cos(v) : 0));
    expect(gradcheck(f, x, right, { count: 5 }).maxError).toBeLessThan(TOL);
    const wrong = right.slice();
    wrong[2] += 0.01;
    expect(gradcheck(f, x, wrong, { count: 5 }).maxError).toBeGreaterThan(1e-3);
  });
});

describe("matmul", () => {
  test("2x2 product by hand, with bias and accumulate", () => {
    const A = Float32Array.of(1, 2, 3, 4), B = Float32Array.of(5, 6, 7, 8);
    expect([...matmul(A, B, 2, 2, 2)]).toEqual([19, 22, 43, 50]);
    expect([...matmul(A, B, 2, 2, 2, { bias: Float32Array.of(1, -1) })]).toEqual([20, 21, 44, 49]);
    const C = Float32Array.of(1, 1, 1, 1);
    matmul(A, B, 2, 2, 2, { out: C, accumulate: true });
    expect([...C]).toEqual([20, 23, 44, 51]);
  });

  test("transposed variants and batches agree with the plain product", () => {
    const M = 3, K = 4, N = 5, batch = 2;
    const A = rand(batch * M * K, 2), B = rand(batch * K * N, 3);
    const transpose = (X: Float64Array, rows: number, cols: number) => {
      const T = new Float64Array(X.length);
      for (let b = 0; b < X.length / (rows * cols); b++)
        for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) T[b * rows * cols + j * rows + i] = X[b * rows * cols + i * cols + j];
      return T;
    };
    const C = matmul(A, B, M, K, N, { batch });
    for (let b = 0; b < batch; b++) {
      const one = matmul(A.subarray(b * M * K, (b + 1) * M * K), B.subarray(b * K * N, (b + 1) * K * N), M, K, N);
      for (let i = 0; i < M * N; i++) expect(C[b * M * N + i]).toBeCloseTo(one[i], 12);
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += A[b * M * K + i * K + k] * B[b * K * N + k * N + j];
          expect(C[b * M * N + i * N + j]).toBeCloseTo(s, 12);
        }
      }
    }
    const viaABt = matmulABt(A, transpose(B, K, N), M, K, N, { batch });
    const viaAtB = matmulAtB(transpose(A, M, K), B, M, K, N, { batch });
    const viaBoth = gemm(transpose(A, M, K), transpose(B, K, N), M, K, N, { batch, transA: true, transB: true });
    for (let i = 0; i < C.length; i++) {
      expect(viaABt[i]).toBeCloseTo(C[i], 12);
      expect(viaAtB[i]).toBeCloseTo(C[i], 12);
      expect(viaBoth[i]).toBeCloseTo(C[i], 12);
    }
  });

  test("f32 inputs give f32 outputs, f64 give f64", () => {
    expect(matmul(new Float32Array(4), new Float64Array(4), 2, 2, 2)).toBeInstanceOf(Float32Array);
    expect(matmul(new Float64Array(4), new Float32Array(4), 2, 2, 2)).toBeInstanceOf(Float64Array);
  });

  test("linear backward", () => {
    const N = 4, inF = 5, outF = 3;
    const x = rand(N * inF, 4), W = rand(outF * inF, 5), b = rand(outF, 6), r = rand(N * outF, 7);
    const f = () => dot(linearForward(x, W, b, N, inF, outF), r);
    const g = linearBackward(x, W, r, N, inF, outF, true);
    expectGradient(f, x, g.dx);
    expectGradient(f, W, g.dW);
    expectGradient(f, b, g.db!);
    expect(linearBackward(x, W, r, N, inF, outF, false).db).toBeNull();
  });
});

describe("rmsnorm", () => {
  test("forward: unit RMS rows times the weight, rstd kept", () => {
    const N = 3, D = 8;
    const x = rand(N * D, 8, 3), w = rand(D, 9);
    const { y, rstd } = rmsnormForward(x, w, N, D);
    for (let n = 0; n < N; n++) {
      let ms = 0;
      for (let d = 0; d < D; d++) ms += x[n * D + d] ** 2 / D;
      expect(rstd[n]).toBeCloseTo(1 / Math.sqrt(ms + 1e-5), 12);
      for (let d = 0; d < D; d++) expect(y[n * D + d]).toBeCloseTo(x[n * D + d] * rstd[n] * w[d], 12);
    }
  });

  test("backward", () => {
    const N = 3, D = 8;
    const x = rand(N * D, 10), w = rand(D, 11), r = rand(N * D, 12);
    const f = () => dot(rmsnormForward(x, w, N, D).y, r);
    const g = rmsnormBackward(x, w, rmsnormForward(x, w, N, D).rstd, r, N, D);
    expectGradient(f, x, g.dx, 24);
    expectGradient(f, w, g.dw, D);
  });
});

describe("rope", () => {
  test("frequencies: (1/1024)^(j/(hd/4-1)) then zeros", () => {
    const f32 = ropeFrequencies(32);
    expect(f32.length).toBe(16);
    for (let j = 0; j < 8; j++) expect(f32[j]).toBeCloseTo(Math.pow(1 / 1024, j / 7), 7);
    for (let j = 8; j < 16; j++) expect(f32[j]).toBe(0);
    expect([...ropeFrequencies(8)]).toEqual([1, 1 / 1024, 0, 0]);
    expect([...ropeFrequencies(4)]).toEqual([1, 0]);
  });

  test("rotation: identity at position 0, pairs (j, j+hd/2), zero-frequency pairs untouched, norm kept", () => {
    const B = 1, L = 4, H = 2, hd = 8;
    const x = rand(B * L * H * hd, 13);
    const y = ropeForward(x, B, L, H, hd);
    for (let i = 0; i < H * hd; i++) expect(y[i]).toBe(x[i]);
    const { cos, sin } = ropeTables(L, hd);
    const t = 3, h = 1, base = (t * H + h) * hd, j = 1; // pair (1, 5), f = 1/1024
    expect(cos[t * 4 + j]).toBeCloseTo(Math.cos(3 / 1024), 7);
    expect(y[base + j]).toBeCloseTo(x[base + j] * cos[t * 4 + j] + x[base + 4 + j] * sin[t * 4 + j], 12);
    expect(y[base + 4 + j]).toBeCloseTo(-x[base + j] * sin[t * 4 + j] + x[base + 4 + j] * cos[t * 4 + j], 12);
    for (const d of [2, 3, 6, 7]) expect(y[base + d]).toBe(x[base + d]);
    expect(dot(y, y)).toBeCloseTo(dot(x, x), 5); // f32 cos/sin tables: cos²+sin² = 1 to ~1e-8
  });

  test("offset continues the positions of a longer sequence", () => {
    const H = 1, hd = 16;
    const x = rand(8 * H * hd, 14);
    const full = ropeForward(x, 1, 8, H, hd);
    const tail = ropeForward(x.slice(5 * hd), 1, 3, H, hd, 5);
    for (let i = 0; i < tail.length; i++) expect(tail[i]).toBeCloseTo(full[5 * hd + i], 12);
  });

  test("backward is the transpose rotation", () => {
    const B = 2, L = 5, H = 2, hd = 8;
    const x = rand(B * L * H * hd, 15), r = rand(x.length, 16);
    const f = () => dot(ropeForward(x, B, L, H, hd, 7), r);
    expectGradient(f, x, ropeBackward(r, B, L, H, hd, 7), 24);
  });
});

describe("swiglu", () => {
  test("gate forward and backward", () => {
    const a = rand(10, 17, 4), g = rand(10, 18), r = rand(10, 19);
    const h = swigluForward(a, g);
    expect(h[0]).toBeCloseTo((a[0] / (1 + Math.exp(-a[0]))) * g[0], 14);
    const f = () => dot(swigluForward(a, g), r);
    const d = swigluBackward(a, g, r);
    expectGradient(f, a, d.da, 10);
    expectGradient(f, g, d.dg, 10);
  });

  test("feed-forward backward", () => {
    const N = 3, D = 4, hidden = 10;
    const p = {
      w1: rand(hidden * D, 20), b1: rand(hidden, 21), w2: rand(hidden * D, 22),
      b2: rand(hidden, 23), w3: rand(D * hidden, 24), b3: rand(D, 25),
    };
    const x = rand(N * D, 26, 2), r = rand(N * D, 27);
    const f = () => dot(feedForwardForward(x, p, N, D, hidden).y, r);
    const g = feedForwardBackward(x, p, feedForwardForward(x, p, N, D, hidden).cache, r, N, D, hidden);
    expectGradient(f, x, g.dx);
    expectGradient(f, p.w1, g.dw1);
    expectGradient(f, p.b1, g.db1);
    expectGradient(f, p.w2, g.dw2);
    expectGradient(f, p.b2, g.db2);
    expectGradient(f, p.w3, g.dw3);
    expectGradient(f, p.b3, g.db3);
  });
});

describe("embedding", () => {
  test("lookup and scatter-add with repeated tokens", () => {
    const V = 5, D = 3, tokens = [4, 1, 4, 0];
    const table = rand(V * D, 28), r = rand(tokens.length * D, 29);
    const out = embeddingForward(tokens, table, V, D);
    expect([...out.subarray(0, D)]).toEqual([...table.subarray(4 * D, 5 * D)]);
    const f = () => dot(embeddingForward(tokens, table, V, D), r);
    const g = embeddingBackward(tokens, r, V, D);
    expectGradient(f, table, g, V * D);
    expect([...g.subarray(2 * D, 3 * D)]).toEqual([0, 0, 0]); // token 2 unused
    expect(() => embeddingForward([5], table, V, D)).toThrow();
  });
});

describe("hourglass ops", () => {
  const B = 2, L = 9, D = 2;

  test("forward values", () => {
    const x = Float64Array.from({ length: B * L * D }, (_, i) => i);
    const pooled = avgpool3Forward(x, B, L, D);
    expect([...pooled.subarray(0, 4)]).toEqual([2, 3, 8, 9]); // mean of rows 0..2 then 3..5, per channel
    const up = upsample3Forward(pooled, B, L / 3, D);
    expect([...up.subarray(0, 8)]).toEqual([2, 3, 2, 3, 2, 3, 8, 9]);
    const shifted = shiftForward(x, B, L, D);
    expect([...shifted.subarray(0, 6)]).toEqual([0, 0, 0, 0, 0, 1]);
    expect([...shifted.subarray(L * D, L * D + 6)]).toEqual([0, 0, 0, 0, 18, 19]); // batch 1 starts with zeros too
    expect([...skipAddForward(Float64Array.of(1, 2), Float64Array.of(10, 20), 3)]).toEqual([13, 26]);
  });

  test("backwards", () => {
    const x = rand(B * L * D, 30), xs = rand(B * (L / 3) * D, 31);
    const rPool = rand(B * (L / 3) * D, 32), rFull = rand(B * L * D, 33);
    expectGradient(() => dot(avgpool3Forward(x, B, L, D), rPool), x, avgpool3Backward(rPool, B, L, D), 18);
    expectGradient(() => dot(upsample3Forward(xs, B, L / 3, D), rFull), xs, upsample3Backward(rFull, B, L / 3, D), 12);
    expectGradient(() => dot(shiftForward(x, B, L, D), rFull), x, shiftBackward(rFull, B, L, D), 36);
    const skip = rand(B * L * D, 34), w = Float64Array.of(0.7);
    const g = skipAddBackward(x, w[0], rFull);
    const f = () => dot(skipAddForward(x, skip, w[0]), rFull);
    expectGradient(f, x, g.dx);
    expectGradient(f, skip, g.dskip);
    expectGradient(f, w, [g.dw], 1);
  });
});
