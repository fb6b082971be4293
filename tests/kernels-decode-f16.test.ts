/**
 * The fused decoding projections (kernels/rows-gemv.ts) reading f16 weights: against the CPU
 * references (src/cpu/rows-gemv.ts, f64) on the same weights rounded to f16, so only f32
 * summation differs: max |gpu − cpu| over max |cpu| below 1e-5, as with f32 weights.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { roundHalf } from "../src/cpu/half.ts";
import { rowsLinear as cpuRowsLinear, rowsQkvRope as cpuRowsQkvRope, rowsSwigluUp as cpuRowsSwigluUp } from "../src/cpu/rows-gemv.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import type { Tensor } from "../src/gpu/tensor.ts";
import { rowsLinear, rowsQkvRope, rowsSwigluUp } from "../src/kernels/rows-gemv.ts";
import { maxRelDiff, rand } from "./helpers.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const TOLERANCE = 1e-5;
const gpu = Gpu.get();
if (!gpu.features.f16) console.log(`kernels-decode-f16: skipped, the adapter has no shader-f16 (${gpu.describe()})`);
const f64 = (a: Float32Array) => Float64Array.from(a);
const normWeight = (n: number, seed: number) => Float32Array.from(rand(n, seed), (v) => 1 + 0.5 * v);
/** A weight rounded to f16: the host copy the reference reads, and the f16 tensor. */
const halfWeight = (n: number, seed: number, shape: number[]) => {
  const host = roundHalf(rand(n, seed, 0.2));
  return { host, tensor: gpu.upload(Float16Array.from(host), shape, "f16 weight") };
};

function free(...tensors: Tensor[]): void {
  for (const t of tensors) gpu.destroy(t);
}

describe.skipIf(!gpu.features.f16)("decoding projections with f16 weights", () => {
  test("rowsLinear: norm, bias and accumulate over an odd K·N; a plain product over 3 rows", () => {
    for (const c of [{ rows: 10, K: 97, N: 67, norm: true, bias: true }, { rows: 3, K: 64, N: 132, norm: false, bias: false }]) {
      const seed = c.rows * 1000 + c.K + c.N;
      const x = rand(c.rows * c.K, seed, 2), bias = rand(c.N, seed + 2), nw = normWeight(c.K, seed + 3), y0 = rand(c.rows * c.N, seed + 4);
      const W = halfWeight(c.N * c.K, seed + 1, [c.N, c.K]);
      const t = { x: gpu.upload(x), W: W.tensor, bias: gpu.upload(bias), nw: gpu.upload(nw), y: gpu.upload(y0) };
      gpu.record((r) => rowsLinear(r, { x: t.x, weight: t.W, bias: c.bias ? t.bias : undefined, normWeight: c.norm ? t.nw : undefined, y: t.y, accumulate: true }));
      const want = cpuRowsLinear(f64(x), W.host, c.bias ? bias : null, c.norm ? nw : null, c.rows, c.K, c.N, y0);
      expect(maxRelDiff(gpu.read(t.y), want)).toBeLessThan(TOLERANCE);
      free(...Object.values(t));
    }
  });

  test("rowsQkvRope: q, k, v of 3 rows at position 5", () => {
    const D = 64, heads = 2, rows = 3, position = 5;
    const x = rand(rows * D, 7, 2), nw = normWeight(D, 8);
    const [Wq, Wk, Wv] = [2, 3, 4].map((i) => halfWeight(D * D, 10 + i, [D, D]));
    const want = cpuRowsQkvRope(f64(x), nw, Wq.host, Wk.host, Wv.host, rows, D, heads, position);
    const t = { x: gpu.upload(x), nw: gpu.upload(nw), Wq: Wq.tensor, Wk: Wk.tensor, Wv: Wv.tensor, q: gpu.tensor([rows, D]), k: gpu.tensor([rows, D]), v: gpu.tensor([rows, D]) };
    gpu.record((r) => rowsQkvRope(r, { x: t.x, normWeight: t.nw, wq: t.Wq, wk: t.Wk, wv: t.Wv, q: t.q, kOut: t.k, vOut: t.v, kvStride: D, kvOffset: 0, heads, position }));
    expect(maxRelDiff(gpu.read(t.q), want.q)).toBeLessThan(TOLERANCE);
    expect(maxRelDiff(gpu.read(t.k), want.k)).toBeLessThan(TOLERANCE);
    expect(maxRelDiff(gpu.read(t.v), want.v)).toBeLessThan(TOLERANCE);
    free(...Object.values(t));
  });

  test("rowsSwigluUp: 3 rows, hidden 97", () => {
    const K = 64, rows = 3, hidden = 97;
    const x = rand(rows * K, 20, 2), nw = normWeight(K, 21);
    const [W1, W2] = [2, 3].map((i) => halfWeight(hidden * K, 22 + i, [hidden, K]));
    const [b1, b2] = [4, 5].map((i) => rand(hidden, 22 + i));
    const t = { x: gpu.upload(x), nw: gpu.upload(nw), W1: W1.tensor, b1: gpu.upload(b1), W2: W2.tensor, b2: gpu.upload(b2), g: gpu.tensor([rows, hidden]) };
    gpu.record((r) => rowsSwigluUp(r, { x: t.x, normWeight: t.nw, w1: t.W1, b1: t.b1, w2: t.W2, b2: t.b2, g: t.g }));
    expect(maxRelDiff(gpu.read(t.g), cpuRowsSwigluUp(f64(x), nw, W1.host, b1, W2.host, b2, rows, K, hidden))).toBeLessThan(TOLERANCE);
    free(...Object.values(t));
  });

  test("mixed weight types in one call are refused", () => {
    const D = 64;
    const t = { x: gpu.tensor([1, D]), nw: gpu.tensor([D]), wq: gpu.tensor([D, D], "f16"), wk: gpu.tensor([D, D]), wv: gpu.tensor([D, D], "f16"), q: gpu.tensor([1, D]) };
    expect(() => gpu.record((r) => rowsQkvRope(r, { x: t.x, normWeight: t.nw, wq: t.wq, wk: t.wk, wv: t.wv, q: t.q, kOut: t.q, vOut: t.q, kvStride: D, kvOffset: 0, heads: 2, position: 0 })))
      .toThrow("rowsQkvRope: wk (tensor) is f32, expected f16 like wq");
    free(...Object.values(t));
  });
});
