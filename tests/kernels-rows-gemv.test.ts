/**
 * The fused projections of a decoding step (kernels/rows-gemv.ts) against their CPU references
 * (src/cpu/rows-gemv.ts, in f64 on the same f32 inputs): max |gpu − cpu| over max |cpu| below
 * 1e-5. Shapes cover one row, a partial tile of rows and more than one tile (8 rows a tile), an
 * input width that is no multiple of the lanes, output columns that leave a workgroup part empty,
 * and every columns-per-workgroup choice.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { rowsLinear as cpuRowsLinear, rowsQkvRope as cpuRowsQkvRope, rowsSwigluUp as cpuRowsSwigluUp } from "../src/cpu/rows-gemv.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import type { Tensor } from "../src/gpu/tensor.ts";
import { rowsLinear, rowsQkvRope, rowsSwigluUp, type ColumnsPerGroup } from "../src/kernels/rows-gemv.ts";
import { maxRelDiff, rand } from "./helpers.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const TOLERANCE = 1e-5;
const gpu = Gpu.get();
const f64 = (a: Float32Array) => Float64Array.from(a);
/** A norm weight around 1, as trained ones are. */
const normWeight = (n: number, seed: number) => Float32Array.from(rand(n, seed), (v) => 1 + 0.5 * v);

function free(...tensors: Tensor[]): void {
  for (const t of tensors) gpu.destroy(t);
}

describe("rowsLinear", () => {
  const cases: { rows: number; K: number; N: number; norm: boolean; bias: boolean; accumulate: boolean; cols?: ColumnsPerGroup }[] = [
    { rows: 1, K: 64, N: 64, norm: false, bias: false, accumulate: true, cols: 2 },
    { rows: 3, K: 97, N: 64, norm: false, bias: true, accumulate: true, cols: 4 },
    { rows: 10, K: 64, N: 66, norm: true, bias: false, accumulate: true, cols: 8 },
    { rows: 3, K: 64, N: 132, norm: false, bias: true, accumulate: false },
  ];
  for (const c of cases) {
    test(`rows=${c.rows} K=${c.K} N=${c.N} norm=${c.norm} bias=${c.bias} accumulate=${c.accumulate} cols=${c.cols ?? "default"}`, () => {
      const seed = c.rows * 1000 + c.K + c.N;
      const x = rand(c.rows * c.K, seed, 2), W = rand(c.N * c.K, seed + 1, 0.2), bias = rand(c.N, seed + 2), nw = normWeight(c.K, seed + 3);
      const y0 = rand(c.rows * c.N, seed + 4);
      const t = { x: gpu.upload(x), W: gpu.upload(W, [c.N, c.K]), bias: gpu.upload(bias), nw: gpu.upload(nw), y: gpu.upload(y0) };
      gpu.record((r) => rowsLinear(r, { x: t.x, weight: t.W, bias: c.bias ? t.bias : undefined, normWeight: c.norm ? t.nw : undefined, y: t.y, accumulate: c.accumulate, cols: c.cols }));
      const want = cpuRowsLinear(f64(x), W, c.bias ? bias : null, c.norm ? nw : null, c.rows, c.K, c.N, c.accumulate ? y0 : undefined);
      expect(maxRelDiff(gpu.read(t.y), want)).toBeLessThan(TOLERANCE);
      free(...Object.values(t));
    });
  }
});

describe("rowsQkvRope", () => {
  const D = 64, heads = 2, capacity = 7;
  for (const [rows, position, cols] of [[1, 0, 2], [3, 5, 4], [10, 300, 8], [3, 6, undefined]] as const) {
    test(`rows=${rows} position=${position} cols=${cols ?? "default"}: q, and k, v into a cache and into plain rows`, () => {
      const seed = 100 + rows + position;
      const x = rand(rows * D, seed, 2), nw = normWeight(D, seed + 1);
      const [Wq, Wk, Wv] = [2, 3, 4].map((i) => rand(D * D, seed + i, 0.2));
      const want = cpuRowsQkvRope(f64(x), nw, Wq, Wk, Wv, rows, D, heads, position);
      const at = Math.min(position, capacity - 1);
      const cache = rand(rows * capacity * D, seed + 5);
      const t = {
        x: gpu.upload(x), nw: gpu.upload(nw), Wq: gpu.upload(Wq), Wk: gpu.upload(Wk), Wv: gpu.upload(Wv),
        q: gpu.tensor([rows, D]), k: gpu.tensor([rows, D]), v: gpu.tensor([rows, D]), keys: gpu.upload(cache), values: gpu.upload(cache),
      };
      const inputs = { x: t.x, normWeight: t.nw, wq: t.Wq, wk: t.Wk, wv: t.Wv, q: t.q, heads, position, cols };
      gpu.record((r) => {
        rowsQkvRope(r, { ...inputs, kOut: t.keys, vOut: t.values, kvStride: capacity * D, kvOffset: at * D });
        rowsQkvRope(r, { ...inputs, kOut: t.k, vOut: t.v, kvStride: D, kvOffset: 0 });
      });
      expect(maxRelDiff(gpu.read(t.q), want.q)).toBeLessThan(TOLERANCE);
      expect(maxRelDiff(gpu.read(t.k), want.k)).toBeLessThan(TOLERANCE);
      expect(maxRelDiff(gpu.read(t.v), want.v)).toBeLessThan(TOLERANCE);
      for (const [tensor, rowsWanted] of [[t.keys, want.k], [t.values, want.v]] as const) {
        const expected = cache.slice();
        for (let b = 0; b < rows; b++) expected.set(rowsWanted.subarray(b * D, (b + 1) * D), (b * capacity + at) * D);
        expect(maxRelDiff(gpu.read(tensor), expected)).toBeLessThan(TOLERANCE);
      }
      free(...Object.values(t));
    });
  }
});

describe("rowsSwigluUp", () => {
  const K = 64;
  for (const [rows, hidden, cols] of [[1, 96, 2], [3, 97, 4], [10, 97, 8], [3, 96, undefined]] as const) {
    test(`rows=${rows} hidden=${hidden} cols=${cols ?? "default"}`, () => {
      const seed = 200 + rows + hidden;
      const x = rand(rows * K, seed, 2), nw = normWeight(K, seed + 1);
      const [W1, W2] = [2, 3].map((i) => rand(hidden * K, seed + i, 0.3));
      const [b1, b2] = [4, 5].map((i) => rand(hidden, seed + i));
      const t = {
        x: gpu.upload(x), nw: gpu.upload(nw), W1: gpu.upload(W1, [hidden, K]), b1: gpu.upload(b1), W2: gpu.upload(W2, [hidden, K]), b2: gpu.upload(b2),
        g: gpu.tensor([rows, hidden]),
      };
      gpu.record((r) => rowsSwigluUp(r, { x: t.x, normWeight: t.nw, w1: t.W1, b1: t.b1, w2: t.W2, b2: t.b2, g: t.g, cols }));
      expect(maxRelDiff(gpu.read(t.g), cpuRowsSwigluUp(f64(x), nw, W1, b1, W2, b2, rows, K, hidden))).toBeLessThan(TOLERANCE);
      free(...Object.values(t));
    });
  }
});
