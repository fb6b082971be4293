import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { gemmHalf, roundHalf } from "../src/cpu/half.ts";
import { gemm } from "../src/cpu/matmul.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import type { DType, Tensor } from "../src/gpu/tensor.ts";
import { columnSums, matmul, planMatmul, TILES, type Matmul, type MatmulPlan, type Tile } from "../src/kernels/matmul.ts";
import { f16MatrixConfig, subgroupMatrixProblem, subgroupMatrixTiles } from "../src/kernels/matmul-subgroup-matrix.ts";
import { maxRelDiff, rand } from "./helpers.ts";

/**
 * f16 operands, f32 sums (SIMT tiles, and tensor-core tiles where the device has subgroup matrices): the CPU reference rounds the same inputs to f16 and sums in f64, so an
 * f32 output differs only by f32 summation (~1e-6 of the largest |entry| for K ≤ 600). An f16
 * output is rounded once more: within one f16 ulp of its value, ≤ 2^-10 of the largest |entry|.
 */
const F32_OUT_TOL = 1e-4;
const F16_OUT_TOL = 2 ** -10;

// Lavapipe compiles each specialisation in seconds (tens of seconds for large tiles on a busy
// machine), so most cases share the smallest tile and a few flag combinations.
setDefaultTimeout(120_000);
const SMALL = TILES[TILES.length - 1];
const smallPlan = (K: number): MatmulPlan => ({ tile: SMALL, splits: 1, kChunk: Math.max(SMALL.BK, Math.ceil(K / SMALL.BK) * SMALL.BK) });

const gpu = Gpu.get();
const hasF16 = gpu.features.f16;
if (!hasF16) console.log(`kernels-matmul-f16: skipped, the adapter has no shader-f16 (${gpu.describe()})`);

/** Uploads each array as the given dtype (f16 arrays are rounded on the way) and shape (default flat). */
function withTensors<T>(arrays: Record<string, [Float32Array, DType, number[]?]>, fn: (t: Record<string, Tensor>) => T): T {
  const t: Record<string, Tensor> = {};
  for (const [name, [data, dtype, shape]] of Object.entries(arrays)) {
    t[name] = gpu.upload(dtype === "f16" ? Float16Array.from(data) : data, shape ?? [data.length], name);
  }
  try {
    return fn(t);
  } finally {
    for (const v of Object.values(t)) gpu.destroy(v);
  }
}

type Case = Pick<Matmul, "transA" | "transB" | "accumulate" | "batch"> & { withBias?: boolean; out?: "f32" | "f16" };

/** f16 A and B through the GPU and the CPU reference, with a prior C for `accumulate`. */
function check(M: number, N: number, K: number, opts: Case = {}, plan = smallPlan(K)): void {
  const { withBias = false, out = "f32", batch = 1, ...rest } = opts;
  const seed = M * 7 + N * 13 + K * 31;
  const A = rand(batch * M * K, seed), B = rand(batch * K * N, seed + 1);
  const C = rand(batch * M * N, seed + 2), bias = rand(N, seed + 3);
  const prior = out === "f16" ? roundHalf(C) : Float32Array.from(C);
  const want = gemmHalf(A, B, M, K, N, { ...rest, batch, bias: withBias ? bias : null, out: prior, outHalf: out === "f16" });
  const shapeA = [batch, ...(rest.transA ? [K, M] : [M, K])], shapeB = [batch, ...(rest.transB ? [N, K] : [K, N])];
  const got = withTensors({ A: [A, "f16", shapeA], B: [B, "f16", shapeB], C: [C, out], bias: [bias, "f32"] }, (t) => {
    gpu.record((r) => matmul(r, { a: t.A, b: t.B, out: t.C, ...rest, batch, bias: withBias ? t.bias : undefined, plan }));
    return gpu.read(t.C);
  });
  expect(maxRelDiff(got, want)).toBeLessThan(out === "f16" ? F16_OUT_TOL : F32_OUT_TOL);
}

describe.skipIf(!hasF16)("matmul with f16 operands", () => {
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      const out = transA ? "f16" : "f32";
      test(`${transA ? "Aᵀ" : "A"}·${transB ? "Bᵀ" : "B"}, 17×33×65 and batched 66×40×44, ${out} C`, () => {
        check(17, 33, 65, { transA, transB, out });
        check(66, 40, 44, { transA, transB, out, batch: 2 });
      });
    }
  }

  test("odd shapes: 1×1×1, a single row, K not a multiple of 4, K = 600", () => {
    check(1, 1, 1);
    check(1, 300, 129);
    check(45, 3, 7);
    check(40, 50, 600);
  });

  test("bias and accumulate (C += A·Bᵀ + bias), into f32 and into f16", () => {
    check(37, 29, 50, { transB: true, withBias: true, accumulate: true });
    check(37, 29, 50, { transB: true, withBias: true, accumulate: true, out: "f16" });
  });

  test("a 64×64 tile on a shape that is no multiple of it (edge tiles next to interior ones)", () => {
    check(130, 70, 100, { transA: true, out: "f16" }, { tile: TILES[3], splits: 1, kChunk: 104 });
  });

  test("split-K: f32 partials, then f32 or f16 C with bias and accumulate", () => {
    const tile = SMALL;
    check(40, 24, 500, { transB: true, withBias: true, accumulate: true }, { tile, splits: 4, kChunk: 128 });
    check(40, 24, 500, { transB: true, withBias: true, accumulate: true, out: "f16" }, { tile, splits: 4, kChunk: 128 });
  });

  test("mixed operands: f32 A (a gradient) times f16 B (an activation), f32 C", () => {
    const [M, N, K] = [24, 20, 70];
    const A = rand(K * M, 5), B = rand(K * N, 6);
    const want = gemm(A, roundHalf(B), M, K, N, { transA: true });
    const got = withTensors({ A: [A, "f32", [K, M]], B: [B, "f16", [K, N]], C: [new Float32Array(M * N), "f32"] }, (t) => {
      gpu.record((r) => matmul(r, { a: t.A, b: t.B, out: t.C, transA: true, plan: smallPlan(K) }));
      return gpu.read(t.C);
    });
    expect(maxRelDiff(got, want)).toBeLessThan(F32_OUT_TOL);
  });

  test("column sums of an f16 matrix (the bias gradient) into f32, with accumulate", () => {
    const [rows, cols] = [1100, 37];
    const x = rand(rows * cols, 7), prior = rand(cols, 8);
    const xh = roundHalf(x);
    const want = Float32Array.from(prior, (p, j) => {
      let s = p;
      for (let i = 0; i < rows; i++) s += xh[i * cols + j];
      return s;
    });
    const got = withTensors({ x: [x, "f16", [rows, cols]], out: [prior, "f32"] }, (t) => {
      gpu.record((r) => columnSums(r, { x: t.x, out: t.out, accumulate: true }));
      return gpu.read(t.out);
    });
    expect(maxRelDiff(got, want)).toBeLessThan(F32_OUT_TOL);
  });

  test("integer tensors are refused with a clear error", () => {
    withTensors({ A: [new Float32Array(4), "f16", [2, 2]], C: [new Float32Array(4), "f32"] }, (t) => {
      const bad = gpu.tensor([2, 2], "u32", "indices");
      try {
        expect(() => gpu.record((r) => matmul(r, { a: t.A, b: bad, out: t.C }))).toThrow("matmul: b (indices) is u32, expected f32 or f16");
      } finally {
        gpu.destroy(bad);
      }
    });
  });
});

describe.skipIf(!hasF16)("f16 tensors", () => {
  test("an odd-length f16 upload reads back exactly; views of it refuse partial words", () => {
    const data = Float16Array.from([1.5, -2.25, 65504, 6.1e-5, 0.1, -0]);
    const odd = data.subarray(0, 5);
    const t = gpu.upload(odd, [5], "odd");
    try {
      expect(Array.from(gpu.read(t))).toEqual(Array.from(odd));
      expect(t.byteLength).toBe(10);
      expect(() => gpu.write(t, odd.subarray(0, 1), 1)).toThrow("is not whole 4-byte words");
    } finally {
      gpu.destroy(t);
    }
  });
});

describe.skipIf(!hasF16 || !gpu.features.subgroups)("the tensor-core kernel with emulated subgroup matrices (its staging, indexing and epilogue)", () => {
  // 8×8×8 matrices held as plain arrays by every invocation: slow, so small products.
  const emulated = (MAT_M: number, MAT_N: number): Tile => ({
    BM: 2 * MAT_M * 8, BN: 2 * MAT_N * 8, BK: 16, efficiency: 1, fixedK: 0,
    subgroupMatrix: {
      config: { component: "f16", result: "f32", M: 8, N: 8, K: 8 }, spelling: "emulated",
      subgroupSize: gpu.dev.info.subgroupMaxSize, SG_M: 2, SG_N: 2, MAT_M, MAT_N, measuredFaster: false,
    },
  });
  const plan = (tile: Tile, K: number, splits = 1): MatmulPlan => ({ tile, splits, kChunk: Math.ceil(Math.ceil(K / splits) / tile.BK) * tile.BK });

  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      test(`${transA ? "Aᵀ" : "A"}·${transB ? "Bᵀ" : "B"}: edge tiles, batched, f16 C`, () => {
        check(37, 45, 40, { transA, transB, out: "f16", batch: 2 }, plan(emulated(2, 1), 40));
      });
    }
  }

  test("bias and accumulate into f32; split-K with the f32 reduction", () => {
    check(19, 21, 50, { transB: true, withBias: true, accumulate: true }, plan(emulated(1, 2), 50));
    check(19, 21, 50, { withBias: true, accumulate: true }, plan(emulated(1, 2), 50, 3));
  });
});

const matrixConfig = f16MatrixConfig(gpu);
const matrixTiles = subgroupMatrixTiles(gpu);
if (!matrixConfig) {
  console.log(`kernels-matmul-f16: tensor-core tiles skipped, the device has no f16 × f16 → f32 subgroup-matrix configuration (${gpu.describe()}; configs: ${JSON.stringify(gpu.features.subgroupMatrix)})`);
}

describe.skipIf(!matrixConfig)("matmul on subgroup matrices (tensor cores)", () => {
  const plan = (tile: (typeof matrixTiles)[number], K: number, splits = 1): MatmulPlan =>
    ({ tile, splits, kChunk: Math.ceil(Math.ceil(K / splits) / tile.BK) * tile.BK });

  test("the kernel compiles (in one of Dawn's spellings)", () => {
    expect(subgroupMatrixProblem(gpu)).toBeNull();
    expect(matrixTiles.length).toBeGreaterThan(0);
    console.log(`subgroup matrices: ${JSON.stringify(matrixConfig)}; builtins spelled with the majorness as a ${matrixTiles[0].subgroupMatrix!.spelling}; ` +
      `tiles ${matrixTiles.map((t) => `${t.BM}×${t.BN}×${t.BK}`).join(", ")}`);
  });

  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      test(`${transA ? "Aᵀ" : "A"}·${transB ? "Bᵀ" : "B"} on every tile: edge tiles, batched, f32 and f16 C`, () => {
        for (const tile of matrixTiles) {
          check(17, 33, 65, { transA, transB }, plan(tile, 65));
          check(tile.BM + 3, 2 * tile.BN - 5, 2 * tile.BK + 7, { transA, transB, out: "f16", batch: 2 }, plan(tile, 2 * tile.BK + 7));
        }
      });
    }
  }

  test("bias and accumulate into f32 and f16, K = 600, split-K with the f32 reduction", () => {
    const tile = matrixTiles[0];
    check(37, 29, 600, { transB: true, withBias: true, accumulate: true }, plan(tile, 600));
    check(37, 29, 600, { transB: true, withBias: true, accumulate: true, out: "f16" }, plan(tile, 600));
    check(70, 24, 500, { transB: true, withBias: true, accumulate: true }, plan(tile, 500, 4));
  });
});
