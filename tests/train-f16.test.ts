import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { precisionCurve } from "../scripts/parity/precision-curve.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { countTargets } from "../src/kernels/cross-entropy.ts";
import { LOSS_SCALE_INIT } from "../src/kernels/loss-scale.ts";
import { ModelConfigSchema } from "../src/model/config.ts";
import { IFlameModel } from "../src/model/model.ts";
import { Optimizer } from "../src/train/optimizer.ts";
import { tokenRows } from "./helpers.ts";

// The first test to build f16 and f32 micro-config models compiles every training kernel on
// lavapipe: 61 s cold on an idle 2-core machine (its slowest test; 7 s warm), and a busy machine
// runs 2–3× slower, hence 5× that.
setDefaultTimeout(300_000);

const hasF16 = Gpu.get().features.f16;

describe.skipIf(!hasF16)("f16 training", () => {
  const gpu = Gpu.get();
  const config = ModelConfigSchema.parse({ name: "t", dim: 32, heads: 1, blocksPerLevel: [1, 1, 2, 1, 1], fullPeriod: 2, vocab: 132, maxFaces: 1 });

  test("an overflowed step is skipped (parameters untouched) and halves the loss scale; a clean one updates", () => {
    const model = new IFlameModel(gpu, config, 1, 27, { precision: "f16" });
    model.initParams(1);
    const optimizer = new Optimizer(gpu, model.params, model.grads, "muon", { lossScaling: true });
    expect(optimizer.readLossScale()).toEqual({ scale: LOSS_SCALE_INIT, cleanSteps: 0 });
    const before = model.readParams();
    const fill = (value: (i: number) => number) => {
      for (const g of model.grads.values()) gpu.write(g, Float32Array.from({ length: g.size }, (_, i) => value(i)));
    };
    const step = () => {
      optimizer.prepare(1e-3, 1);
      gpu.record((r) => optimizer.record(r));
    };

    fill((i) => (i === 3 ? Infinity : 0.01 * LOSS_SCALE_INIT));
    step();
    expect(optimizer.gradNorm().nonFinite).toBe(true);
    expect(optimizer.readLossScale()).toEqual({ scale: LOSS_SCALE_INIT / 2, cleanSteps: 0 });
    const after = model.readParams();
    for (const name of Object.keys(before)) expect(after[name]).toEqual(before[name]);

    fill(() => 0.01 * LOSS_SCALE_INIT);
    step();
    expect(optimizer.gradNorm().nonFinite).toBe(false);
    expect(optimizer.readLossScale()).toEqual({ scale: LOSS_SCALE_INIT / 2, cleanSteps: 1 });
    const moved = model.readParams();
    expect(Object.keys(before).some((name) => moved[name].some((x, i) => x !== before[name][i]))).toBe(true);
  });

  // The backward casts each product's dy to f16: with the loss scale at 2^24 the loss gradient at
  // a target, about −2^24/26, is beyond f16's 65504 and becomes −Inf there. The optimizer's
  // overflow check must catch what that does to the gradients; the f32 model, whose dy stays f32,
  // takes the same scale without overflowing (so the skip is the f16 cast's doing).
  test("a loss-scaled dy that overflows its f16 cast: the step is skipped and the scale halves (f32 runs it)", () => {
    const [B, L, huge] = [1, 27, 2 ** 24];
    const batch = tokenRows(B, L, 1);
    const step = (precision: "f32" | "f16") => {
      const model = new IFlameModel(gpu, config, B, L, { precision });
      model.initParams(1);
      const optimizer = new Optimizer(gpu, model.params, model.grads, "muon", { lossScaling: true });
      optimizer.writeLossScale({ scale: huge, cleanSteps: 0 });
      const before = model.readParams();
      model.setTokens(batch);
      model.setLossScale(1 / countTargets(batch, B, L));
      optimizer.prepare(1e-3, 1);
      gpu.record((r) => {
        model.zeroGrads(r);
        model.forward(r);
        model.loss(r);
        optimizer.backward(r, model);
        optimizer.record(r);
      });
      const nonFinite = optimizer.gradNorm().nonFinite;
      const after = model.readParams();
      return { nonFinite, state: optimizer.readLossScale(), unchanged: Object.keys(before).every((n) => after[n].every((x, i) => x === before[n][i])) };
    };
    expect(step("f16")).toEqual({ nonFinite: true, state: { scale: huge / 2, cleanSteps: 0 }, unchanged: true });
    expect(step("f32")).toEqual({ nonFinite: false, state: { scale: huge, cleanSteps: 1 }, unchanged: false });
  });

  // The issue's claim (f16 loss within 2% of f32's at every step) on a short run; the 200-step
  // curve is scripts/parity/precision-curve.ts (docs/MIXED-PRECISION.md has its result).
  test("train --precision f16 learns and its loss stays within 2% of f32's, step for step (8 steps of the micro config)", async () => {
    const curve = await precisionCurve({ steps: 8, lr: 3e-3, meshes: 5, batch: 2, config: join(import.meta.dir, "fixtures/micro-config.json") });
    console.log(`f16/f32 loss ratios: ${curve.ratios.map((r) => r.toFixed(4)).join(" ")}`);
    expect(curve.f16.every((m) => m.precision === "f16" && m.lossScale === LOSS_SCALE_INIT)).toBe(true);
    expect(curve.f32.every((m) => m.precision === "f32" && m.lossScale === undefined)).toBe(true);
    expect(curve.worst).toBeLessThan(0.02);
    expect(curve.f16.at(-1)!.loss).toBeLessThan(0.8 * curve.f16[0].loss);
  });
});
