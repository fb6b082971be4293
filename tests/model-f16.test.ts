import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { Profiler } from "../src/gpu/profiler.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { countTargets } from "../src/kernels/cross-entropy.ts";
import { LOSS_SCALE_INIT } from "../src/kernels/loss-scale.ts";
import { ModelConfigSchema, type IFlameConfig } from "../src/model/config.ts";
import { IFlameModel } from "../src/model/model.ts";
import { initParams } from "../src/model/params.ts";
import { maxRelDiff, tokenRows } from "./helpers.ts";

// GPU work on lavapipe (see bunfig.toml: a cold shader cache compiles each kernel on first use).
setDefaultTimeout(120_000);

// Every kind of block (full and linear attention at every level), a recomputed level too.
const config: IFlameConfig = ModelConfigSchema.parse({
  name: "test", dim: 32, heads: 1, blocksPerLevel: [2, 1, 2, 1, 2], fullPeriod: 2, vocab: 132, maxFaces: 4, recompute: [1],
});
const B = 2;
const L = 54;

const tokens = (seed: number) => tokenRows(B, L, seed);

/**
 * Forward, loss and backward of one model; its logits, mean loss and gradients. The backward
 * starts from the loss times `lossScale` (f16 training's: its f16 gradients need it) and the
 * gradients are divided back, as the optimizer's unscale does.
 */
function run(model: IFlameModel, batch: Int32Array, lossScale = 1) {
  model.setTokens(batch);
  model.setLossScale(lossScale / countTargets(batch, B, L));
  model.gpu.record((r) => {
    model.zeroGrads(r);
    model.forwardBackward(r);
  });
  const stats = model.gpu.read(model.lossStats) as Float32Array;
  const grads = Object.fromEntries(Object.entries(model.readGrads()).map(([name, g]) => [name, g.map((x) => x / lossScale)]));
  return { logits: model.gpu.read(model.logits) as Float32Array, loss: stats[0] / stats[1], grads };
}

describe.skipIf(!Gpu.get().features.f16)("the f16 model follows the f32 model", () => {
  const gpu = Gpu.get();
  const params = initParams(config, 3);
  const batch = tokens(1);
  const models = (["f32", "f16"] as const).map((precision) => {
    const m = new IFlameModel(gpu, config, B, L, { precision });
    m.setParams(params);
    return m;
  });
  const [f32, f16] = models.map((m) => run(m, batch, m.precision === "f16" ? LOSS_SCALE_INIT : 1));

  // f16 operands carry 11 significant bits (2^-11 ≈ 5e-4 relative per rounding); a dozen
  // products deep, logits stay within 1e-2 of the largest logit and gradients within 5e-2
  // of each gradient's largest entry (the measured worst cases are printed).
  test("logits within 1e-2 of the largest logit, loss within 1e-3 relative", () => {
    const err = maxRelDiff(f16.logits, f32.logits);
    console.log(`f16 logits: max error ${err.toExponential(2)} of the largest; loss ${f16.loss} vs ${f32.loss}`);
    expect(err).toBeLessThan(1e-2);
    expect(err).toBeGreaterThan(0); // the products really ran in f16
    expect(Math.abs(f16.loss - f32.loss)).toBeLessThan(1e-3 * f32.loss);
  });

  test("every gradient within 5e-2 of its largest entry (f32 gradients of the f32 masters)", () => {
    const worst = Object.keys(f32.grads).map((name): [string, number] => [name, maxRelDiff(f16.grads[name], f32.grads[name])]).sort((a, b) => b[1] - a[1]);
    console.log(`f16 gradients: worst ${worst.slice(0, 4).map(([n, e]) => `${n} ${e.toExponential(2)}`).join(", ")}`);
    for (const [name] of worst) expect(f16.grads[name]).toBeInstanceOf(Float32Array);
    expect(worst[0][1]).toBeLessThan(5e-2);
  });

  // dx = dy·W runs as NN, dW = dyᵀ·x as TN (the forward's products are NT): with dy cast to f16,
  // every backward product of every block (7 Linears each) takes f16 operands on both sides and
  // sums into f32; the output projection's two keep f32 dlogits (model.ts says why).
  test("the backward's products take f16 dy and f16 weights or activations (profiler labels)", () => {
    if (!gpu.features.timestampQuery) {
      console.log("skipped: this adapter has no timestamp-query (the profiler labels dispatches)");
      return;
    }
    const model = models[1];
    const profiler = new Profiler(gpu, 4096, true);
    model.setTokens(batch);
    gpu.record((r) => model.forwardBackward(r), profiler);
    const products = profiler.collect().filter((t) => / · (NN|TN) /.test(t.label));
    const output = products.filter((t) => t.label.startsWith("output"));
    const backward = products.filter((t) => !t.label.startsWith("output"));
    const blocks = config.blocksPerLevel.reduce((a, b) => a + b, 0);
    const count = (timings: typeof backward) => timings.reduce((n, t) => n + t.count, 0);
    console.log(`block backward products: ${count(backward)}, on tensor-core tiles: ${count(backward.filter((t) => t.label.includes(" sgmat ")))}`);
    expect(count(backward)).toBe(2 * 7 * blocks);
    for (const t of backward) expect(t.label).toMatch(/ f16·f16→f32( |$)/);
    // In the matrix rig (scripts/matrix-rig.sh: IFLAME_TENSOR_CORES=force) every one of them runs on tensor-core tiles.
    if (process.env.IFLAME_EXPECT_TENSOR_CORES === "1") for (const t of backward) expect(t.label).toContain(" sgmat ");
    expect(count(output)).toBe(2);
    for (const t of output) expect(t.label).toMatch(/ f32·f16→f32( |$)/);
  });

  test("the f16 weight copies follow the masters after castWeights", () => {
    const moved = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v.map((x) => x * 0.5)]));
    const half = models[1];
    for (const [name, t] of half.params) gpu.write(t, moved[name]);
    gpu.record((r) => half.castWeights(r));
    const again = run(half, batch);
    const reference = new IFlameModel(gpu, config, B, L, { precision: "f16" });
    reference.setParams(moved);
    expect(maxRelDiff(again.logits, run(reference, batch).logits)).toBe(0);
  });
});
