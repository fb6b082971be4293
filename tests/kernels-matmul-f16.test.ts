import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { gemmHalf, roundHalf } from "../src/cpu/half.ts";
import { gemm } from "../src/cpu/matmul.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import type { DType, Tensor } from "../src/gpu/tensor.ts";
import { columnSums, matmul, planMatmul, TILES, type Matmul, type MatmulPlan, type Tile } from "../src/kernels/matmul.ts";
import { f16MatrixConfig, quadLoads, subgroupMatrixProblem, subgroupMatrixTile, subgroupMatrixTiles } from "../src/kernels/matmul-subgroup-matrix.ts";
import { maxRelDiff, rand } from "./helpers.ts";

/**
 * f16 operands, f32 sums (SIMT tiles, and tensor-core tiles where the device has subgroup
 * matrices; scripts/matrix-rig.sh gives lavapipe real ones): the CPU reference rounds the same
 * inputs to f16 and sums in f64, so an f32 output differs only by f32 summation (~1e-6 of the
 * largest |entry| for K ≤ 600). An f16 output is rounded once more: within one f16 ulp of its
 * value, ≤ 2^-10 of the largest |entry|.
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

/** `quads`: how the tensor-core kernel must load A's and B's quads (vec4 or scalar), checked first. */
type Case = Pick<Matmul, "transA" | "transB" | "accumulate" | "batch"> & { withBias?: boolean; out?: "f32" | "f16"; quads?: { vecA: boolean; vecB: boolean } };

/** f16 A and B through the GPU and the CPU reference, with a prior C for `accumulate`. */
function check(M: number, N: number, K: number, opts: Case = {}, plan = smallPlan(K)): void {
  const { withBias = false, out = "f32", batch = 1, quads, ...rest } = opts;
  const seed = M * 7 + N * 13 + K * 31;
  const A = rand(batch * M * K, seed), B = rand(batch * K * N, seed + 1);
  const C = rand(batch * M * N, seed + 2), bias = rand(N, seed + 3);
  const prior = out === "f16" ? roundHalf(C) : Float32Array.from(C);
  const want = gemmHalf(A, B, M, K, N, { ...rest, batch, bias: withBias ? bias : null, out: prior, outHalf: out === "f16" });
  const shapeA = [batch, ...(rest.transA ? [K, M] : [M, K])], shapeB = [batch, ...(rest.transB ? [N, K] : [K, N])];
  const got = withTensors({ A: [A, "f16", shapeA], B: [B, "f16", shapeB], C: [C, out], bias: [bias, "f32"] }, (t) => {
    const { transA = false, transB = false } = rest;
    if (quads) expect(quadLoads({ a: t.A, b: t.B, M, N, K, transA, transB, batch, strideA: M * K, strideB: K * N })).toEqual(quads);
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

describe("tensor-core tiles and quad loads (no GPU work)", () => {
  const nvidia = (storage: number) => ({
    dev: { info: { subgroupMaxSize: 32 } }, limits: { maxComputeWorkgroupStorageSize: storage, maxComputeInvocationsPerWorkgroup: 1024 },
  }) as unknown as Gpu;
  const config = { component: "f16", result: "f32", M: 16, N: 16, K: 16 } as const;
  const cut = { SG_M: 2, SG_N: 2, MAT_M: 4, MAT_N: 4, spelling: "bool argument", measuredFaster: false } as const;

  test("a 128×128 tile of 16×16 matrices: the widest epilogue strip that fits workgroup memory", () => {
    // Staged operands, padded, worst transposition: 2 · 2 · 128 · 40 bytes = 20 KiB; strips 4 · 16 · 16·EPI_N · 4 bytes.
    expect(subgroupMatrixTile(nvidia(49152), config, cut, { efficiency: 1, fixedK: 0 })).toMatchObject({ BM: 128, BN: 128, BK: 32, subgroupMatrix: { EPI_N: 4 } });
    expect(subgroupMatrixTile(nvidia(32768), config, cut, { efficiency: 1, fixedK: 0 })?.subgroupMatrix?.EPI_N).toBe(2);
    expect(subgroupMatrixTile(nvidia(16384), config, cut, { efficiency: 1, fixedK: 0 })).toBeNull();
  });

  test("quads load as vec4s only where the stored rows and the batch stride are multiples of 4", () => {
    const t = gpu.tensor([4], "f16", "operand");
    try {
      const sizes = { a: t, b: t, M: 36, N: 45, K: 40, batch: 1, strideA: 36 * 40, strideB: 40 * 45 };
      expect(quadLoads({ ...sizes, transA: false, transB: false })).toEqual({ vecA: true, vecB: false });
      expect(quadLoads({ ...sizes, transA: true, transB: true })).toEqual({ vecA: true, vecB: true });
      expect(quadLoads({ ...sizes, M: 37, transA: true, transB: false })).toEqual({ vecA: false, vecB: false });
      expect(quadLoads({ ...sizes, batch: 2, strideA: 36 * 40 + 2, transA: false, transB: true })).toEqual({ vecA: false, vecB: true });
    } finally {
      gpu.destroy(t);
    }
  });
});

describe.skipIf(!hasF16 || !gpu.features.subgroups)("the tensor-core kernel with emulated subgroup matrices (its staging, indexing and epilogue)", () => {
  // 8×8×8 matrices emulated by every invocation: slow, so small products (5-20 s a test with a
  // cold shader cache on this busy lavapipe machine).
  const emulated = (MAT_M: number, MAT_N: number, EPI_N = MAT_N): Tile => ({
    BM: 2 * MAT_M * 8, BN: 2 * MAT_N * 8, BK: 16, efficiency: 1, fixedK: 0,
    subgroupMatrix: {
      config: { component: "f16", result: "f32", M: 8, N: 8, K: 8 }, spelling: "emulated",
      subgroupSize: gpu.dev.info.subgroupMaxSize, SG_M: 2, SG_N: 2, MAT_M, MAT_N, EPI_N, measuredFaster: false,
    },
  });
  const plan = (tile: Tile, K: number, splits = 1): MatmulPlan => ({ tile, splits, kChunk: Math.ceil(Math.ceil(K / splits) / tile.BK) * tile.BK });

  // Each transposition on its own shape, so that both operands take both quad paths: 32×16
  // tiles (row and column tiles inside the matrices next to edge tiles), k steps of 16 with a
  // partial last one where K is no multiple of 16.
  const cases = [
    { transA: false, transB: false, M: 37, N: 44, K: 42, quads: { vecA: false, vecB: true } },
    { transA: false, transB: true, M: 37, N: 45, K: 40, quads: { vecA: true, vecB: true } },
    { transA: true, transB: false, M: 36, N: 45, K: 40, quads: { vecA: true, vecB: false } },
    { transA: true, transB: true, M: 37, N: 45, K: 42, quads: { vecA: false, vecB: false } },
  ];
  const word = (vec: boolean) => (vec ? "vec4" : "scalar");
  for (const { transA, transB, M, N, K, quads } of cases) {
    test(`${transA ? "Aᵀ" : "A"}·${transB ? "Bᵀ" : "B"} ${M}×${N}×${K}: A ${word(quads.vecA)} quads, B ${word(quads.vecB)}; edge tiles, batched, f16 C`, () => {
      check(M, N, K, { transA, transB, out: "f16", batch: 2, quads }, plan(emulated(2, 1), K));
    });
  }

  test("bias and accumulate into f32 through one-matrix epilogue strips; split-K with the f32 reduction", () => {
    check(19, 21, 50, { transB: true, withBias: true, accumulate: true }, plan(emulated(1, 2, 1), 50));
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
      `tiles ${matrixTiles.map((t) => `${t.BM}×${t.BN}×${t.BK} (epilogue strips of ${t.subgroupMatrix!.EPI_N})`).join(", ")}`);
  });

  // Three products per tile and transposition: one small (a single edge tile), one with odd
  // sizes (scalar quads; tiles inside the matrices next to edge tiles), one with every size a
  // multiple of 4 (vec4 quads, interior and edge tiles).
  const scalar = { vecA: false, vecB: false };
  for (const [index, tile] of matrixTiles.entries()) {
    const { BM, BN, BK } = tile;
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        test(`tile ${index} (${BM}×${BN}×${BK}) ${transA ? "Aᵀ" : "A"}·${transB ? "Bᵀ" : "B"}: edge tiles, batched, scalar and vec4 quads, f32 and f16 C`, () => {
          check(17, 33, 65, { transA, transB, quads: scalar }, plan(tile, 65));
          check(BM + 3, 2 * BN - 5, 2 * BK + 7, { transA, transB, out: "f16", batch: 2, quads: scalar }, plan(tile, 2 * BK + 7));
          check(BM + 12, 2 * BN - 4, 2 * BK + 8, { transA, transB, batch: 2, quads: { vecA: true, vecB: true } }, plan(tile, 2 * BK + 8));
        });
      }
    }
  }

  test("bias and accumulate into f32 and f16, K = 600, split-K with the f32 reduction", () => {
    const tile = matrixTiles[0];
    check(37, 29, 600, { transB: true, withBias: true, accumulate: true }, plan(tile, 600));
    check(37, 29, 600, { transB: true, withBias: true, accumulate: true, out: "f16" }, plan(tile, 600));
    check(70, 24, 500, { transB: true, withBias: true, accumulate: true }, plan(tile, 500, 4));
  });
});
