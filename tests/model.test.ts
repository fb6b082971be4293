import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { forward as cpuForward, lossAndGrads } from "../src/cpu/model.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { countTargets } from "../src/kernels/cross-entropy.ts";
import { ModelConfigSchema, type IFlameConfig } from "../src/model/config.ts";
import { IFlameModel } from "../src/model/model.ts";
import { initParams } from "../src/model/params.ts";
import { maxRelDiff, tokenRows } from "./helpers.ts";

// The GPU model's forward and backward on lavapipe against the CPU reference: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

// A tiny network with every kind of block: full and linear attention at every level.
const config: IFlameConfig = ModelConfigSchema.parse({
  name: "test", dim: 32, heads: 1, blocksPerLevel: [2, 1, 2, 1, 2], fullPeriod: 2, vocab: 132, maxFaces: 4,
});
const B = 2;
const L = 54;

const tokens = (seed: number) => tokenRows(B, L, seed);

describe("the GPU model matches the CPU reference", () => {
  const gpu = Gpu.get();
  const model = new IFlameModel(gpu, config, B, L);
  const params = initParams(config, 3);
  model.setParams(params);
  const batch = tokens(1);
  model.setTokens(batch);
  const count = countTargets(batch, B, L);

  test("logits (max error ≤ 1e-4 of the largest logit)", () => {
    gpu.record((r) => model.forward(r));
    const gpuLogits = gpu.read(model.logits);
    const cpuLogits = cpuForward(config, params, batch, B, L);
    expect(maxRelDiff(gpuLogits, cpuLogits)).toBeLessThan(1e-4);
  });

  test("loss and every parameter's gradient (≤ 1e-3 relative to each gradient's largest entry)", () => {
    model.setLossScale(1 / count);
    gpu.record((r) => {
      model.zeroGrads(r);
      model.forwardBackward(r);
    });
    const stats = gpu.read(model.lossStats);
    const ref = lossAndGrads(config, params, batch, B, L);
    expect(stats[1]).toBe(ref.count);
    expect(Math.abs(stats[0] / stats[1] - ref.loss)).toBeLessThan(1e-4 * ref.loss);
    const grads = model.readGrads();
    const worst: [string, number][] = Object.keys(ref.grads).map((name) => [name, maxRelDiff(grads[name], ref.grads[name])]);
    worst.sort((a, b) => b[1] - a[1]);
    expect(worst[0][1]).toBeLessThan(1e-3);
  });

  test("recomputing activations in backward gives the same gradients, bit for bit", () => {
    const recomputed = new IFlameModel(gpu, { ...config, recompute: [0, 1, 2, 3, 4] }, B, L);
    recomputed.setParams(params);
    recomputed.setTokens(batch);
    recomputed.setLossScale(1 / count);
    gpu.record((r) => {
      recomputed.zeroGrads(r);
      recomputed.forwardBackward(r);
    });
    const expected = model.readGrads();
    const got = recomputed.readGrads();
    for (const name of Object.keys(expected)) expect(got[name]).toEqual(expected[name]);
  });
});
