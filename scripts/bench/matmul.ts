/**
 * Matmul benchmark cases: the 4096³ reference product and every Linear product of the model at
 * B = 8 (levels of 55368, 18456 and 6152 rows; dim 512, hidden 1365, vocab 132), forward
 * (x·Wᵀ), input gradient (dy·W) and weight gradient (dW += dyᵀ·x), plus the bias gradient.
 */
import type { Gpu, Recorder } from "../../src/gpu/runtime.ts";
import type { Tensor } from "../../src/gpu/tensor.ts";
import { columnSums, matmul, type Matmul, type MatmulPlan } from "../../src/kernels/matmul.ts";
import type { BenchCase } from "./common.ts";

const LEVEL_ROWS = [55368, 18456, 6152];
const DIM = 512;
const HIDDEN = 1365;
const VOCAB = 132;

/** Random values in [-1, 1), written in blocks (the values only matter for power draw). */
function randomTensor(gpu: Gpu, n: number, label: string): Tensor {
  const t = gpu.tensor([n], "f32", label);
  const block = Float32Array.from({ length: Math.min(n, 1 << 20) }, () => 2 * Math.random() - 1);
  for (let at = 0; at < n; at += block.length) gpu.write(t, block.subarray(0, Math.min(block.length, n - at)), at);
  return t;
}

/** A case over tensors of these sizes, made on first use and freed by dispose. */
function lazyCase(
  gpu: Gpu, name: string, shape: string, flops: number, sizes: number[],
  record: (r: Recorder, t: Tensor[]) => void,
): BenchCase {
  let tensors: Tensor[] | null = null;
  return {
    name, shape, flops,
    bytes: 4 * sizes.reduce((s, n) => s + n, 0),
    record(r) {
      tensors ??= sizes.map((n, i) => randomTensor(gpu, n, `${name} ${i}`));
      record(r, tensors);
    },
    dispose() {
      for (const t of tensors ?? []) gpu.destroy(t);
      tensors = null;
    },
  };
}

/** C = op(A)·op(B) over [M, N, K] (opts without bias); `plan` forces a tile / split (for tuning). */
export function matmulCase(
  gpu: Gpu, name: string, M: number, N: number, K: number, opts: Pick<Matmul, "transA" | "transB" | "accumulate"> = {}, plan?: MatmulPlan,
): BenchCase {
  return lazyCase(gpu, name, `M=${M} N=${N} K=${K}`, 2 * M * N * K, [M * K, K * N, M * N], (r, [a, b, c]) =>
    matmul(r, { a: a.reshape(opts.transA ? [K, M] : [M, K]), b: b.reshape(opts.transB ? [N, K] : [K, N]), out: c, ...opts, plan }));
}

export function benchCases(gpu: Gpu): BenchCase[] {
  const cases = [matmulCase(gpu, "matmul A·B", 4096, 4096, 4096)];
  const layers: [string, number, number, number][] = [];
  for (const rows of LEVEL_ROWS) {
    layers.push(["q/k/v/out proj", rows, DIM, DIM], ["proj1/proj2", rows, DIM, HIDDEN], ["proj3", rows, HIDDEN, DIM]);
  }
  layers.push(["output proj", LEVEL_ROWS[0], DIM, VOCAB]);
  for (const [what, rows, inF, outF] of layers) {
    cases.push(
      matmulCase(gpu, `${what} y = x·Wᵀ`, rows, outF, inF, { transB: true }),
      matmulCase(gpu, `${what} dx = dy·W`, rows, inF, outF),
      matmulCase(gpu, `${what} dW += dyᵀ·x`, outF, inF, rows, { transA: true, accumulate: true }),
    );
  }
  for (const [what, outF] of [["proj1 db", HIDDEN], ["proj3 db", DIM]] as const) {
    const rows = LEVEL_ROWS[0];
    cases.push(lazyCase(gpu, `${what} = Σ rows dy`, `rows=${rows} out=${outF}`, 0, [rows * outF, outF], (r, [dy, db]) =>
      columnSums(r, { x: dy, out: db, accumulate: true })));
  }
  return cases;
}
