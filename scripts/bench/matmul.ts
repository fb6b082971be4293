/**
 * Matmul benchmark cases: the 4096³ reference product and every Linear product of the model at
 * B = 8 (levels of 55368, 18456 and 6152 rows; dim 512, hidden 1365, vocab 132), forward
 * (x·Wᵀ), input gradient (dy·W) and weight gradient (dW += dyᵀ·x), plus the bias gradient.
 * All f32 here; matmul-f16.ts runs the same products with f16 operands.
 */
import type { Gpu, Recorder } from "../../src/gpu/runtime.ts";
import { dtypeBytes, type Tensor } from "../../src/gpu/tensor.ts";
import { columnSums, matmul, type Matmul, type MatmulPlan } from "../../src/kernels/matmul.ts";
import type { BenchCase } from "./common.ts";

const LEVEL_ROWS = [55368, 18456, 6152];
const DIM = 512;
const HIDDEN = 1365;
const VOCAB = 132;

type FloatType = "f32" | "f16";

/** Random values in [-1, 1), written in blocks (the values only matter for power draw). */
function randomTensor(gpu: Gpu, n: number, label: string, dtype: FloatType): Tensor {
  const t = gpu.tensor([n], dtype, label);
  const values = Array.from({ length: Math.min(n, 1 << 20) }, () => 2 * Math.random() - 1);
  const block = dtype === "f16" ? Float16Array.from(values) : Float32Array.from(values);
  for (let at = 0; at < n; at += block.length) gpu.write(t, block.subarray(0, Math.min(block.length, n - at)), at);
  return t;
}

/** A case over tensors of these sizes (and dtypes, f32 by default), made on first use and freed by dispose. */
function lazyCase(
  gpu: Gpu, name: string, shape: string, flops: number, sizes: number[],
  record: (r: Recorder, t: Tensor[]) => void, dtypes: FloatType[] = sizes.map(() => "f32"),
): BenchCase {
  let tensors: Tensor[] | null = null;
  return {
    name, shape, flops,
    bytes: sizes.reduce((s, n, i) => s + n * dtypeBytes(dtypes[i]), 0),
    record(r) {
      tensors ??= sizes.map((n, i) => randomTensor(gpu, n, `${name} ${i}`, dtypes[i]));
      record(r, tensors);
    },
    dispose() {
      for (const t of tensors ?? []) gpu.destroy(t);
      tensors = null;
    },
  };
}

type ProductOptions = Pick<Matmul, "transA" | "transB" | "accumulate">;

/**
 * C = op(A)·op(B) over [M, N, K] (opts without bias); `plan` forces a tile / split (for tuning).
 * With `operands` f16, A and B are f16 and so is C, except an accumulated C (a gradient: f32).
 */
export function matmulCase(
  gpu: Gpu, name: string, M: number, N: number, K: number, opts: ProductOptions = {}, plan?: MatmulPlan, operands: FloatType = "f32",
): BenchCase {
  const out = opts.accumulate ? "f32" : operands;
  return lazyCase(gpu, name, `M=${M} N=${N} K=${K}`, 2 * M * N * K, [M * K, K * N, M * N], (r, [a, b, c]) =>
    matmul(r, { a: a.reshape(opts.transA ? [K, M] : [M, K]), b: b.reshape(opts.transB ? [N, K] : [K, N]), out: c, ...opts, plan }), [operands, operands, out]);
}

/** The 4096³ reference and the model's Linear products: forward, input gradient, weight gradient. */
export function modelProducts(): { name: string; M: number; N: number; K: number; opts: ProductOptions }[] {
  const products = [{ name: "matmul A·B", M: 4096, N: 4096, K: 4096, opts: {} }];
  const layers: [string, number, number, number][] = [];
  for (const rows of LEVEL_ROWS) {
    layers.push(["q/k/v/out proj", rows, DIM, DIM], ["proj1/proj2", rows, DIM, HIDDEN], ["proj3", rows, HIDDEN, DIM]);
  }
  layers.push(["output proj", LEVEL_ROWS[0], DIM, VOCAB]);
  for (const [what, rows, inF, outF] of layers) {
    products.push(
      { name: `${what} y = x·Wᵀ`, M: rows, N: outF, K: inF, opts: { transB: true } },
      { name: `${what} dx = dy·W`, M: rows, N: inF, K: outF, opts: {} },
      { name: `${what} dW += dyᵀ·x`, M: outF, N: inF, K: rows, opts: { transA: true, accumulate: true } },
    );
  }
  return products;
}

export function benchCases(gpu: Gpu): BenchCase[] {
  const cases = modelProducts().map((p) => matmulCase(gpu, p.name, p.M, p.N, p.K, p.opts));
  for (const [what, outF] of [["proj1 db", HIDDEN], ["proj3 db", DIM]] as const) {
    const rows = LEVEL_ROWS[0];
    cases.push(lazyCase(gpu, `${what} = Σ rows dy`, `rows=${rows} out=${outF}`, 0, [rows * outF, outF], (r, [dy, db]) =>
      columnSums(r, { x: dy, out: db, accumulate: true })));
  }
  return cases;
}
