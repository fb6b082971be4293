/** The GPU pairwise Chamfer kernel against the float64 CPU reference (src/cpu/eval.ts). */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { directionalMeanCpu, pairwiseChamferCpu } from "../src/cpu/eval.ts";
import { pairwiseChamfer } from "../src/eval/chamfer.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { chamferWorkgroup, directionalChamfer } from "../src/kernels/chamfer.ts";
import { maxRelDiff, rand } from "./helpers.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

/**
 * Relative to the largest entry: each squared distance is rounded in f32 (~1e-7 relative) and a
 * cloud's minima are summed in f32 over ≤ 257 points (≤ 9 tree levels): 2e-6 leaves room for both.
 */
const TOL = 2e-6;

const gpu = Gpu.get();

/** n clouds of `points` points in [-0.5, 0.5)³, each shifted a little so the clouds differ in place too. */
const clouds = (n: number, points: number, seed: number) =>
  Array.from({ length: n }, (_, i) => rand(3 * points, seed + i, 0.5).map((v, k) => v * (0.5 + 0.05 * i) + (k % 3 === 0 ? 0.02 * i : 0)));

const pack = (cs: Float32Array[], points: number) => {
  const out = new Float32Array(cs.length * points * 4);
  cs.forEach((c, i) => { for (let p = 0; p < points; p++) out.set(c.subarray(3 * p, 3 * p + 3), 4 * (i * points + p)); });
  return out;
};

describe("pairwise Chamfer on the GPU", () => {
  test("two single-triangle clouds, one lifted by 0.5: exactly 0.25 each way", () => {
    const a = Float32Array.of(0, 0, 0, 1, 0, 0, 0, 1, 0);
    const lifted = a.map((v, i) => (i % 3 === 2 ? v + 0.5 : v));
    expect([...pairwiseChamfer(gpu, [a, lifted], 3)]).toEqual([0, 0.5, 0.5, 0]);
  });

  for (const points of [64, 100, 256, 257]) {
    test(`8 clouds of ${points} points (workgroup ${chamferWorkgroup(points).WG} × ${chamferWorkgroup(points).PER_THREAD}) match the CPU`, () => {
      const cs = clouds(8, points, points);
      const got = pairwiseChamfer(gpu, cs, points);
      const want = pairwiseChamferCpu(cs);
      expect(maxRelDiff(got, want)).toBeLessThan(TOL);
      for (let i = 0; i < 8; i++) expect(got[i * 8 + i]).toBe(0);
    });
  }

  test("different clouds in a and b, a band of rows at a time: each directional mean", () => {
    const points = 96;
    const a = clouds(5, points, 1), b = clouds(3, points, 50);
    const ta = gpu.upload(pack(a, points)), tb = gpu.upload(pack(b, points)), out = gpu.tensor([5, 3]);
    for (const [rowStart, rows] of [[0, 2], [2, 3]]) {
      gpu.record((r) => directionalChamfer(r, ta, tb, out, { points, aClouds: 5, bClouds: 3, rowStart, rows }));
    }
    const got = gpu.read(out);
    [ta, tb, out].forEach((t) => gpu.destroy(t));
    const want = a.flatMap((ai) => b.map((bj) => directionalMeanCpu(ai, bj)));
    expect(maxRelDiff(got, want)).toBeLessThan(TOL);
  });

  test("the same clouds give bit-identical results on a second run (fixed reduction order)", () => {
    const cs = clouds(6, 200, 9);
    expect(pairwiseChamfer(gpu, cs, 200)).toEqual(pairwiseChamfer(gpu, cs, 200));
  });
});
