/**
 * A decoding step is bound by its count of dispatches at small batches, so the count is pinned:
 * five per block (kernels/rows-gemv.ts), plus the embedding, the hourglass's resampling, the
 * logits and the cursor, over a whole 9-step cycle (every level runs in it).
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { Gpu } from "../src/gpu/runtime.ts";
import { Decoder } from "../src/generate/decoder.ts";
import { stepLevels } from "../src/generate/schedule.ts";
import { ModelConfigSchema } from "../src/model/config.ts";
import { IFlameModel } from "../src/model/model.ts";
import { blockSpecs } from "../src/model/params.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const config = ModelConfigSchema.parse({
  name: "test", dim: 64, heads: 2, blocksPerLevel: [2, 1, 2, 1, 2], fullPeriod: 2, vocab: 132, maxFaces: 2,
});
const network = config;

test("a step records five dispatches per block it runs, plus 4 to 7 for the rest", () => {
  const gpu = Gpu.get();
  const model = new IFlameModel(gpu, config, 1, 9);
  const B = 2, T = 27;
  const decoder = new Decoder(gpu, network, model.params, B, T);
  decoder.begin(new Int32Array(B * T).fill(130), T, 9, null);
  gpu.record((r) => decoder.prefill(r));
  const blocks = blockSpecs(network).map((level) => level.length);
  while (decoder.canStep) {
    const { coarse, bottleneck } = stepLevels(decoder.position);
    let levels = [0, 4];
    // embedding, the dec1 skip add, logits, cursor; enc1's pool and dec0's skip add; the bottleneck's pool
    let glue = 4;
    if (coarse !== null) {
      levels = [...levels, 1, 3];
      glue += 2;
    }
    if (bottleneck !== null) {
      levels.push(2);
      glue += 1;
    }
    let dispatches = 0;
    gpu.record((r) => {
      const dispatch = r.dispatch.bind(r);
      r.dispatch = (...args) => {
        dispatches++;
        dispatch(...args);
      };
      decoder.step(r);
    });
    expect(dispatches).toBe(5 * levels.reduce((n, l) => n + blocks[l], 0) + glue);
  }
  decoder.destroy();
});
