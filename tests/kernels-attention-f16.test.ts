import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { attentionBackward as cpuBackward, attentionForward as cpuForward } from "../src/cpu/attention.ts";
import { roundHalf } from "../src/cpu/half.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import type { Tensor } from "../src/gpu/tensor.ts";
import { attentionBackward, attentionForward, type AttentionShape } from "../src/kernels/attention.ts";
import { lseToHeadMajor, maxAbsDiff, maxRelDiff, rand } from "./helpers.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

/**
 * f16 q, k, v and out with f32 statistics and sums: the CPU reference runs on the same
 * f16-rounded inputs, so lse differs by f32 arithmetic only (absolute 2e-4, as the f32 kernels)
 * and out by that plus one f16 rounding (|out| ≤ 1: 2^-11). Gradients (f32): relative 1e-3 to
 * the largest reference entry, the backward reading the same (rounded) out as the GPU.
 */
const OUT_TOL = 2e-4;
const OUT_F16_TOL = OUT_TOL + 2 ** -11;
const GRAD_TOL = 1e-3;
const GRAD_FLOOR = 1e-2;
const HD = 32;

const gpu = Gpu.get();
if (!gpu.features.f16) console.log(`kernels-attention-f16: skipped, the adapter has no shader-f16 (${gpu.describe()})`);

describe.skipIf(!gpu.features.f16)("attention with f16 q, k, v", () => {
  for (const [B, L, H] of [[2, 7, 3], [1, 65, 2], [2, 130, 2]]) {
    test(`forward and backward match the CPU on rounded inputs, B=${B} L=${L} H=${H}`, () => {
      const n = B * L * H * HD, shape = [B, L, H, HD];
      const seed = B * 100 + L + H;
      const host = { q: roundHalf(rand(n, seed, 2)), k: roundHalf(rand(n, seed + 1, 2)), v: roundHalf(rand(n, seed + 2)), dOut: rand(n, seed + 3) };
      const half = (x: Float32Array, label: string) => gpu.upload(Float16Array.from(x), shape, label);
      const t: Record<string, Tensor> = {
        q: half(host.q, "q"), k: half(host.k, "k"), v: half(host.v, "v"), dOut: gpu.upload(host.dOut, shape, "dOut"),
        out: gpu.tensor(shape, "f16", "out"), lse: gpu.tensor([B, H, L], "f32", "lse"), delta: gpu.tensor([B, H, L], "f32", "delta"),
        dq: gpu.tensor(shape, "f32", "dq"), dk: gpu.tensor(shape, "f32", "dk"), dv: gpu.tensor(shape, "f32", "dv"),
      };
      try {
        const s: AttentionShape = { B, H, Lq: L, Lk: L, qOffset: 0 };
        gpu.record((r) => {
          attentionForward(r, { q: t.q, k: t.k, v: t.v, out: t.out, lse: t.lse, shape: s });
          attentionBackward(r, { q: t.q, k: t.k, v: t.v, out: t.out, lse: t.lse, dOut: t.dOut, dq: t.dq, dk: t.dk, dv: t.dv, delta: t.delta, shape: s });
        });
        const ref = cpuForward(host.q, host.k, host.v, B, L, H, HD);
        const o = roundHalf(ref.o);
        expect(maxAbsDiff(gpu.read(t.out), ref.o)).toBeLessThan(OUT_F16_TOL);
        expect(maxAbsDiff(gpu.read(t.lse), lseToHeadMajor(ref.lse, B, L, H))).toBeLessThan(OUT_TOL);
        const grad = cpuBackward(host.q, host.k, host.v, o, ref.lse, host.dOut, B, L, H, HD);
        expect(maxRelDiff(gpu.read(t.dq), grad.dq, GRAD_FLOOR)).toBeLessThan(GRAD_TOL);
        expect(maxRelDiff(gpu.read(t.dk), grad.dk, GRAD_FLOOR)).toBeLessThan(GRAD_TOL);
        expect(maxRelDiff(gpu.read(t.dv), grad.dv, GRAD_FLOOR)).toBeLessThan(GRAD_TOL);
      } finally {
        Object.values(t).forEach((x) => gpu.destroy(x));
      }
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
