import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { gemm, linearBackward as cpuLinearBackward, linearForward as cpuLinearForward } from "../src/cpu/matmul.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import type { Tensor } from "../src/gpu/tensor.ts";
import { linearBackward, linearForward, matmul, planMatmul, TILES, type Matmul, type MatmulPlan } from "../src/kernels/matmul.ts";
import { rand } from "./helpers.ts";

/**
 * GPU vs the f64-summed CPU reference: max |error| relative to the largest |entry| of the
 * reference, for sums of K ≤ 600 products of values in [-1, 1) (f32 rounding gives ~1e-6).
 */
const REL_TOL = 1e-4;
/** Central differences of the f32 GPU forward (eps 1e-2): error relative to |numeric| + |analytic|. */
const FD_EPS = 1e-2;
const FD_TOL = 1e-2;

// Every new kernel specialisation takes lavapipe a second or more to compile.
setDefaultTimeout(120_000);

const gpu = Gpu.get();

function maxRelDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let err = 0, scale = 0;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return err / Math.max(scale, 1e-30);
}

function withTensors<T>(arrays: Record<string, Float32Array>, fn: (t: Record<string, Tensor>) => T, shapes: Record<string, number[]> = {}): T {
  const t: Record<string, Tensor> = {};
  for (const [name, data] of Object.entries(arrays)) t[name] = gpu.upload(data, shapes[name] ?? [data.length], name);
  try {
    return fn(t);
  } finally {
    for (const v of Object.values(t)) gpu.destroy(v);
  }
}

/** Packed products through the GPU and the CPU reference, with a prior C for `accumulate`. */
type CheckOptions = Pick<Matmul, "transA" | "transB" | "accumulate" | "batch"> & { withBias?: boolean };

function check(M: number, N: number, K: number, opts: CheckOptions = {}, plan?: MatmulPlan): void {
  const { withBias = false, batch = 1, ...rest } = opts;
  const seed = M * 7 + N * 13 + K * 31;
  const A = rand(batch * M * K, seed), B = rand(batch * K * N, seed + 1);
  const C = rand(batch * M * N, seed + 2), bias = rand(N, seed + 3);
  const want = gemm(A, B, M, K, N, { ...rest, batch, bias: withBias ? bias : null, out: Float32Array.from(C) });
  const shapes = {
    A: [batch, ...(rest.transA ? [K, M] : [M, K])], B: [batch, ...(rest.transB ? [N, K] : [K, N])], C: [batch, M, N],
  };
  const got = withTensors({ A, B, C, bias }, (t) => {
    gpu.record((r) => matmul(r, { a: t.A, b: t.B, out: t.C, ...rest, batch, bias: withBias ? t.bias : undefined, plan }));
    return gpu.read(t.C);
  }, shapes);
  expect(maxRelDiff(got, want)).toBeLessThan(REL_TOL);
}

describe("matmul", () => {
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      test(`${transA ? "Aᵀ" : "A"}·${transB ? "Bᵀ" : "B"}, 17×33×65`, () => check(17, 33, 65, { transA, transB }));
    }
  }

  test("odd shapes: 1×1×1, a single row, K not a multiple of 4, K = 600", () => {
    check(1, 1, 1);
    check(1, 300, 129);
    check(45, 3, 7);
    check(40, 50, 600);
  });

  test("bias and accumulate (C += A·Bᵀ + bias)", () => {
    check(37, 29, 50, { transB: true, withBias: true, accumulate: true });
  });

  test("every tile of the table, on a shape that is no multiple of any", () => {
    for (const tile of TILES) check(130, 70, 100, { transA: true }, { tile, splits: 1, kChunk: 104 });
  });

  test("split-K adds the partial products in a fixed order, with bias and accumulate", () => {
    const tile = TILES[3];
    check(40, 24, 500, { transB: true, withBias: true, accumulate: true }, { tile, splits: 4, kChunk: 128 });
    check(40, 24, 500, { transB: true, withBias: true, accumulate: true }, { tile, splits: 1, kChunk: 512 });
  });

  test("interior tiles (loaded without bounds checks) next to edge tiles: split-K, batched, every form", () => {
    const tile = TILES[4]; // 32×32: most tiles of these shapes are interior
    check(70, 72, 300, { transB: true, withBias: true, accumulate: true }, { tile, splits: 3, kChunk: 104 });
    for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
      check(66, 40, 44, { transA, transB, batch: 2 }, { tile, splits: 1, kChunk: 48 });
    }
  });

  test("batch with strides: items spaced apart, a shared B (stride 0)", () => {
    const [M, N, K, batch] = [20, 12, 9, 3];
    const [sA, sB, sC] = [M * K + 5, 0, M * N + 11];
    const A = rand((batch - 1) * sA + M * K, 1), B = rand(K * N, 2);
    const C0 = rand((batch - 1) * sC + M * N, 3);
    const got = withTensors({ A, B, C: C0 }, (t) => {
      gpu.record((r) => matmul(r, { a: t.A, b: t.B, out: t.C, sizes: { M, N, K }, transA: true, batch, strideA: sA, strideB: sB, strideC: sC }));
      return gpu.read(t.C);
    });
    const want = Float32Array.from(C0);
    for (let i = 0; i < batch; i++) {
      const item = gemm(A.subarray(i * sA, i * sA + M * K), B, M, K, N, { transA: true });
      want.set(item, i * sC);
    }
    expect(maxRelDiff(got, want)).toBeLessThan(REL_TOL);
  });

  test("the plan: large tiles for large products, smaller ones for small, split-K for long K", () => {
    expect(planMatmul(4096, 4096, 4096)).toMatchObject({ tile: { BM: 128, BN: 128 }, splits: 1 });
    expect(planMatmul(55368, 512, 512).splits).toBe(1);
    expect(planMatmul(64, 64, 64).tile.BM * planMatmul(64, 64, 64).tile.BN).toBeLessThanOrEqual(64 * 64);
    for (const [M, N] of [[512, 512], [1365, 512], [512, 1365], [132, 512]]) {
      const plan = planMatmul(M, N, 55368);
      expect(plan.splits).toBeGreaterThan(1);
      expect(plan.kChunk % plan.tile.BK).toBe(0);
      expect(Math.ceil(55368 / plan.kChunk)).toBe(plan.splits);
    }
  });
});

describe("linear", () => {
  const [rows, inF, outF] = [33, 24, 20];

  function setup(seed: number) {
    return { x: rand(rows * inF, seed), w: rand(outF * inF, seed + 1), b: rand(outF, seed + 2), dy: rand(rows * outF, seed + 3) };
  }

  test("forward y = x·Wᵀ + b and with accumulate y += x·Wᵀ", () => {
    const { x, w, b } = setup(10);
    const y0 = rand(rows * outF, 14);
    const want = cpuLinearForward(x, w, b, rows, inF, outF);
    const [got, gotAcc] = withTensors({ x, w, b, y: new Float32Array(rows * outF), y0 }, (t) => {
      gpu.record((r) => {
        linearForward(r, { x: t.x, weight: t.w, bias: t.b, y: t.y });
        linearForward(r, { x: t.x, weight: t.w, y: t.y0, accumulate: true });
      });
      return [gpu.read(t.y), gpu.read(t.y0)];
    }, { w: [outF, inF] });
    expect(maxRelDiff(got, want)).toBeLessThan(REL_TOL);
    const noBias = cpuLinearForward(x, w, null, rows, inF, outF);
    expect(maxRelDiff(gotAcc, noBias.map((v, i) => v + y0[i]))).toBeLessThan(REL_TOL);
  });

  for (const accumulate of [false, true]) {
    test(`backward matches the CPU (accumulateGrads=${accumulate})`, () => {
      const { x, w, dy } = setup(20);
      const dw0 = rand(outF * inF, 25), db0 = rand(outF, 26);
      const want = cpuLinearBackward(x, w, dy, rows, inF, outF, true);
      const got = withTensors({ x, w, dy, dx: new Float32Array(rows * inF), dw: dw0, db: db0 }, (t) => {
        gpu.record((r) => linearBackward(r, { x: t.x, weight: t.w, dy: t.dy, dx: t.dx, dweight: t.dw, dbias: t.db, accumulate }));
        return { dx: gpu.read(t.dx), dw: gpu.read(t.dw), db: gpu.read(t.db) };
      }, { w: [outF, inF] });
      const plus = (g: ArrayLike<number>, prior: Float32Array) => Float32Array.from(g, (v, i) => (accumulate ? v + prior[i] : v));
      expect(maxRelDiff(got.dx, want.dx)).toBeLessThan(REL_TOL);
      expect(maxRelDiff(got.dw, plus(want.dW, dw0))).toBeLessThan(REL_TOL);
      expect(maxRelDiff(got.db, plus(want.db!, db0))).toBeLessThan(REL_TOL);
    });
  }

  test("backward without dx and db writes only dw", () => {
    const { x, w, dy } = setup(30);
    const want = cpuLinearBackward(x, w, dy, rows, inF, outF, false);
    const got = withTensors({ x, w, dy, dw: new Float32Array(outF * inF) }, (t) => {
      gpu.record((r) => linearBackward(r, { x: t.x, weight: t.w, dy: t.dy, dweight: t.dw }));
      return gpu.read(t.dw);
    }, { w: [outF, inF] });
    expect(maxRelDiff(got, want.dW)).toBeLessThan(REL_TOL);
  });

  test("gradients match finite differences of the GPU forward", () => {
    const [n, i, o] = [3, 5, 4];
    const x = rand(n * i, 40), w = rand(o * i, 41), b = rand(o, 42), g = rand(n * o, 43);
    withTensors({ x, w, b, g, y: new Float32Array(n * o), dx: new Float32Array(n * i), dw: new Float32Array(o * i), db: new Float32Array(o) }, (t) => {
      gpu.record((r) => linearBackward(r, { x: t.x, weight: t.w, dy: t.g, dx: t.dx, dweight: t.dw, dbias: t.db }));
      const analytic = { x: gpu.read(t.dx), w: gpu.read(t.dw), b: gpu.read(t.db) };
      // loss = Σ y·g, so d loss / d y = g.
      const loss = () => {
        gpu.record((r) => linearForward(r, { x: t.x, weight: t.w, bias: t.b, y: t.y }));
        const y = gpu.read(t.y);
        let s = 0;
        for (let k = 0; k < y.length; k++) s += y[k] * g[k];
        return s;
      };
      for (const [name, host] of [["x", x], ["w", w], ["b", b]] as const) {
        for (let k = 0; k < host.length; k += 3) {
          const saved = host[k];
          host[k] = saved + FD_EPS;
          gpu.write(t[name], host);
          const up = loss();
          host[k] = saved - FD_EPS;
          gpu.write(t[name], host);
          const down = loss();
          host[k] = saved;
          gpu.write(t[name], host);
          const numeric = (up - down) / (2 * FD_EPS);
          const a = analytic[name][k];
          expect(Math.abs(a - numeric) / Math.max(Math.abs(a) + Math.abs(numeric), 1e-3)).toBeLessThan(FD_TOL);
        }
      }
    }, { w: [o, i] });
  });
});
