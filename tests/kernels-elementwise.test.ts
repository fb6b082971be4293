import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { Gpu } from "../src/gpu/runtime.ts";
import { addInto, sumRows } from "../src/kernels/elementwise.ts";
import { rand } from "./helpers.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

/** Sums over P rows (f32 on the GPU, f64 here): relative to the sum of magnitudes. */
const REL_TOL = 1e-5;

const gpu = Gpu.get();

describe("elementwise", () => {
  test("addInto: x += y (exact f32 adds)", () => {
    const n = 1000;
    const x = rand(n, 1), y = rand(n, 2);
    const tx = gpu.upload(x), ty = gpu.upload(y);
    gpu.record((r) => addInto(r, { x: tx, y: ty }));
    expect([...gpu.read(tx)]).toEqual([...x.map((v, i) => v + y[i])]);
    [tx, ty].forEach((t) => gpu.destroy(t));
  });

  for (const [P, cols] of [[1, 1], [7, 3], [1000, 1], [300, 100], [37, 2000]]) {
    test(`sumRows matches the CPU and is bit-identical run to run, P=${P} cols=${cols}`, () => {
      const partials = rand(P * cols, P + cols);
      const offset = 2, prior = rand(cols + offset, 5);
      const tp = gpu.upload(partials, [P, cols]), out = gpu.upload(prior), acc = gpu.upload(prior);
      gpu.record((r) => {
        sumRows(r, { partials: tp, out: out, offset });
        sumRows(r, { partials: tp, out: acc, offset, accumulate: true });
      });
      const first = gpu.read(out) as Float32Array, added = gpu.read(acc) as Float32Array;
      expect([...first.subarray(0, offset)]).toEqual([...prior.subarray(0, offset)]); // untouched
      for (let c = 0; c < cols; c++) {
        let sum = 0, mag = 0;
        for (let p = 0; p < P; p++) {
          sum += partials[p * cols + c];
          mag += Math.abs(partials[p * cols + c]);
        }
        expect(Math.abs(first[offset + c] - sum)).toBeLessThanOrEqual(REL_TOL * mag);
        expect(Math.abs(added[offset + c] - (sum + prior[offset + c]))).toBeLessThanOrEqual(REL_TOL * (mag + 1));
      }
      gpu.record((r) => sumRows(r, { partials: tp, out: out, offset }));
      expect([...gpu.read(out)]).toEqual([...first]);
      [tp, out, acc].forEach((t) => gpu.destroy(t));
    });
  }
});
