import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { lossScaleState, unscaledClip, updateLossScale as cpuUpdateLossScale, type LossScaleState } from "../src/cpu/loss-scale.ts";
import { adamwState, adamwStep as cpuAdamw } from "../src/cpu/optim.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import type { HostArray, Tensor } from "../src/gpu/tensor.ts";
import { cast } from "../src/kernels/cast.ts";
import { LOSS_SCALE_INIT, scaleByLossScale, updateLossScale } from "../src/kernels/loss-scale.ts";
import { STEP, adamwStep, createGradNormPartials, createOptimStep, gradNorm, readGradNorm, writeOptimStep } from "../src/kernels/optim.ts";
import { maxRelDiff, rand } from "./helpers.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

/**
 * Casts are exact (Math.f16round is the reference). The scaler's state is exact (powers of two);
 * the unscaled norm and the updates follow f32 arithmetic: within 1e-6 relative of the CPU.
 */
const REL_TOL = 1e-6;

const gpu = Gpu.get();
const made: Tensor[] = [];
const keep = (t: Tensor) => (made.push(t), t);
const upload = (a: HostArray) => keep(gpu.upload(a));
afterAll(() => made.forEach((t) => gpu.destroy(t)));

describe.skipIf(!gpu.features.f16)("cast", () => {
  test("f32 → f16 rounds like Math.f16round (odd length, subnormals, ±65504, beyond range → ±Inf), and back exactly", () => {
    const x = Float32Array.from(rand(1001, 1, 3), (v, i) => (i % 97 === 0 ? v * 1e-6 : v));
    x.set([65504, -65504, 65519, 1e5, -1e6, 0.1, -0], 0);
    const half = keep(gpu.tensor([x.length], "f16", "half"));
    const back = keep(gpu.tensor([x.length], "f32", "back"));
    gpu.record((r) => {
      cast(r, { src: upload(x), dst: half });
      cast(r, { src: half, dst: back });
    });
    const want = Array.from(x, (v) => Math.f16round(v));
    expect(Array.from(gpu.read(half))).toEqual(want);
    expect(Array.from(gpu.read(back))).toEqual(want);
  });

  test("integer tensors are refused", () => {
    expect(() => gpu.record((r) => cast(r, { src: keep(gpu.tensor([4], "u32", "ids")), dst: keep(gpu.tensor([4], "f16", "h")) })))
      .toThrow("cast: src (ids) is u32, expected f32 or f16");
  });
});

describe("dynamic loss scale (GradScaler) vs src/cpu/loss-scale.ts", () => {
  test("the seed gradient is multiplied by S", () => {
    const step = keep(createOptimStep(gpu, { lossScale: LOSS_SCALE_INIT }));
    const x = rand(300, 2);
    const xt = upload(x);
    gpu.record((r) => scaleByLossScale(r, { x: xt, step }));
    expect(Array.from(gpu.read(xt))).toEqual(Array.from(x, (v) => Math.fround(v * LOSS_SCALE_INIT)));
  });

  test("overflowed steps halve S and leave parameters and AdamW state untouched; clean runs double it; updates use unscaled, clipped gradients", () => {
    const n = 517, growthInterval = 3, maxNorm = 4;
    const overflow = [false, true, false, false, false, false, true, true, false, false, false];
    const step = keep(createOptimStep(gpu, { lossScale: LOSS_SCALE_INIT }));
    const partials = keep(createGradNormPartials(gpu, [n]));
    const p = rand(n, 3), cpuState = adamwState(n);
    const [pt, mt, vt] = [upload(p), upload(new Float32Array(n)), upload(new Float32Array(n))];
    let want: LossScaleState = lossScaleState();
    let applied = 0;
    overflow.forEach((bad, t) => {
      // The gradients of the scaled loss: S·g, with an Inf where this step overflows.
      const g = rand(n, 10 + t, 0.5);
      const scaled = g.map((v) => v * want.scale);
      if (bad) scaled[t * 41] = Number.POSITIVE_INFINITY;
      const before = { p: gpu.read(pt), m: gpu.read(mt) };
      writeOptimStep(gpu, step, { lr: 0.01, step: applied + 1 });
      gpu.record((r) => {
        gradNorm(r, { grads: [upload(scaled)], partials, step, maxNorm });
        adamwStep(r, { param: pt, grad: made.at(-1)!, m: mt, v: vt, step });
        updateLossScale(r, { step, growthInterval });
      });
      const s = gpu.read(step) as Float32Array;
      if (bad) {
        expect(s[STEP.nonFinite]).toBe(1);
        expect(Array.from(gpu.read(pt))).toEqual(Array.from(before.p));
        expect(Array.from(gpu.read(mt))).toEqual(Array.from(before.m));
      } else {
        let sumSq = 0;
        for (const v of scaled) sumSq += v * v;
        const { norm, gradFactor } = unscaledClip(Math.sqrt(sumSq), want.scale, maxNorm);
        expect(Math.abs(s[STEP.gradNorm] - norm) / norm).toBeLessThan(REL_TOL);
        expect(Math.abs(s[STEP.clipScale] - gradFactor) / gradFactor).toBeLessThan(REL_TOL);
        cpuAdamw(p, scaled.map((v) => v * s[STEP.clipScale]), cpuState, { lr: 0.01 });
        applied++;
        expect(maxRelDiff(gpu.read(pt), p)).toBeLessThan(REL_TOL);
      }
      want = cpuUpdateLossScale(want, bad, { growthInterval });
      expect({ scale: s[STEP.lossScale], cleanSteps: s[STEP.cleanSteps] }).toEqual(want);
    });
    // The pattern halves three times and grows twice: 2^16 → 2^15.
    expect(want.scale).toBe(2 ** 15);
    expect(readGradNorm(gpu, step).lossScale).toBe(want.scale);
  });

  test("growth that would overflow f32 keeps the scale", () => {
    const step = keep(createOptimStep(gpu, { lossScale: 2 ** 127 }));
    gpu.record((r) => updateLossScale(r, { step, growthInterval: 1 }));
    const want = cpuUpdateLossScale(lossScaleState(2 ** 127), false, { growthInterval: 1 });
    expect(want.scale).toBe(2 ** 127);
    expect(gpu.read(step)[STEP.lossScale]).toBe(want.scale);
  });
});
