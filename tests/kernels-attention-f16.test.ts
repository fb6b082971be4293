import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { Gpu } from "../src/gpu/runtime.ts";
import { attentionForward, type AttentionShape } from "../src/kernels/attention.ts";
import { f16AttentionErrors } from "./helpers.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

/**
 * f16 q, k, v and out with f32 statistics and sums: the CPU reference runs on the same
 * f16-rounded inputs, so lse differs by f32 arithmetic only (absolute 2e-4, as the f32 kernels)
 * and out by that plus one f16 rounding (|out| ≤ 1: 2^-11). Gradients (f32): relative 1e-3 to
 * the largest reference entry, the reference backward reading the GPU's own out and lse.
 */
const OUT_TOL = 2e-4;
const OUT_F16_TOL = OUT_TOL + 2 ** -11;
const GRAD_TOL = 1e-3;
const HD = 32;

const gpu = Gpu.get();
if (!gpu.features.f16) console.log(`kernels-attention-f16: skipped, the adapter has no shader-f16 (${gpu.describe()})`);

describe.skipIf(!gpu.features.f16)("attention with f16 q, k, v", () => {
  for (const [B, L, H] of [[2, 7, 3], [1, 65, 2], [2, 130, 2]]) {
    test(`forward and backward match the CPU on rounded inputs, B=${B} L=${L} H=${H}`, () => {
      const e = f16AttentionErrors(gpu, B, L, H);
      expect(e.out).toBeLessThan(OUT_F16_TOL);
      expect(e.lse).toBeLessThan(OUT_TOL);
      for (const name of ["dq", "dk", "dv"] as const) expect(e[name]).toBeLessThan(GRAD_TOL);
    });
  }

  test("k and v must match q's type; gradients must be f32", () => {
    const shape = [1, 4, 1, HD];
    const t = {
      q: gpu.tensor(shape, "f16", "q"), k: gpu.tensor(shape, "f32", "k"), v: gpu.tensor(shape, "f16", "v"),
      out: gpu.tensor(shape, "f16", "out"), lse: gpu.tensor([1, 1, 4], "f32", "lse"),
    };
    try {
      const s: AttentionShape = { B: 1, H: 1, Lq: 4, Lk: 4, qOffset: 0 };
      expect(() => gpu.record((r) => attentionForward(r, { ...t, shape: s }))).toThrow("attentionForward: k (k) is f32, expected f16 like q");
    } finally {
      Object.values(t).forEach((x) => gpu.destroy(x));
    }
  });
});
