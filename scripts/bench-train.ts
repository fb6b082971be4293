/**
 * Training throughput of the GPU model: a full step (forward, loss, backward, clip, Muon/AdamW)
 * at a given config and batch, with random weights and random full-length token batches.
 * Prints step time, tokens/s, peak tensor memory and the step's time per kernel family
 * (timestamp queries, one profiled step).
 * With --detail, a second table splits the profiled step by kernel shape (matmul M×N×K, tile).
 * --precision f16: mixed precision as `train --precision f16` (f16 weight copies cast after the
 * step, f16 product operands, dynamic loss scaling).
 *   bun scripts/bench-train.ts [--config shapenet] [--batch 8] [--steps 5] [--optimizer muon|adamw] [--precision f32|f16] [--detail]
 */
import { z } from "zod";
import { parseScriptFlags } from "../src/cli/flags.ts";
import { pcgHash } from "../src/util/rng.ts";
import { formatBytes } from "../ffi/webgpu.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { Profiler, byFamily } from "../src/gpu/profiler.ts";
import { countTargets } from "../src/kernels/cross-entropy.ts";
import { loadModelConfig, sequenceLength } from "../src/model/config.ts";
import { IFlameModel } from "../src/model/model.ts";
import { Optimizer } from "../src/train/optimizer.ts";

const flags = parseScriptFlags(
  "bench-train",
  z
    .object({
      config: z.string().default("shapenet").describe("model preset or JSON config"),
      batch: z.coerce.number().int().positive().default(8).describe("sequences per step"),
      steps: z.coerce.number().int().positive().default(5).describe("timed steps"),
      optimizer: z.enum(["muon", "adamw"]).default("muon").describe("optimizer"),
      precision: z.enum(["f32", "f16"]).default("f32").describe("model arithmetic (f16: mixed precision)"),
      detail: z.boolean().default(false).describe("also split the profiled step by kernel shape"),
    })
    .strict(),
  process.argv.slice(2),
);
const config = await loadModelConfig(flags.config);
const { batch: B, steps, optimizer: optimizerKind, detail, precision } = flags;
const L = sequenceLength(config);

/** A full-length batch: start row, `faces` rows of random coordinates, end row, pad. */
function batch(seed: number): Int32Array {
  const t = new Int32Array(B * L).fill(129);
  const faces = config.maxFaces - 10;
  for (let b = 0; b < B; b++) {
    const base = b * L;
    t.fill(130, base, base + 9);
    for (let i = 9; i < 9 * (faces + 1); i++) t[base + i] = pcgHash(seed * 1_000_003 + base + i) % 129;
    t.fill(131, base + 9 * (faces + 1), base + 9 * (faces + 2));
  }
  return t;
}

const gpu = Gpu.get();
console.log(gpu.describe());
const model = new IFlameModel(gpu, config, B, L, { precision });
model.initParams(0);
const optimizer = new Optimizer(gpu, model.params, model.grads, optimizerKind, { lossScaling: precision === "f16" });

function step(i: number, profiler?: Profiler): void {
  const tokens = batch(i);
  model.setTokens(tokens);
  model.setLossScale(1 / countTargets(tokens, B, L));
  optimizer.prepare(1e-3, i + 1);
  gpu.record((r) => {
    model.zeroGrads(r);
    model.forward(r);
    model.loss(r);
    optimizer.backward(r, model);
    optimizer.record(r);
    model.castWeights(r);
  }, profiler);
}

step(0);
gpu.sync();
const start = performance.now();
for (let i = 1; i <= steps; i++) step(i);
const loss = gpu.read(model.lossStats) as Float32Array; // waits for the last step
const ms = (performance.now() - start) / steps;
const tokens = B * L;
console.log(
  `${config.name} B=${B} L=${L} (${optimizerKind}, ${precision}): ${ms.toFixed(1)} ms/step · ${Math.round(tokens / (ms / 1000)).toLocaleString("en-US")} tokens/s · ` +
    `peak tensor memory ${formatBytes(gpu.memory().peak)} · last loss ${(loss[0] / loss[1]).toFixed(3)}`,
);

if (gpu.features.timestampQuery) {
  const profiler = new Profiler(gpu, 16384, detail);
  step(steps + 1, profiler);
  const detailed = profiler.collect();
  const timings = byFamily(detailed);
  const total = timings.reduce((s, t) => s + t.ms, 0);
  console.log("| family | dispatches | GPU ms | share |\n|---|---|---|---|");
  for (const t of timings) console.log(`| ${t.label} | ${t.count} | ${t.ms.toFixed(2)} | ${((100 * t.ms) / total).toFixed(1)}% |`);
  console.log(`| total (one dispatch per pass, so slower than the timed steps) | ${timings.reduce((s, t) => s + t.count, 0)} | ${total.toFixed(1)} | |`);
  if (detail) {
    console.log("\n| kernel · shape | dispatches | GPU ms | TFLOP/s |\n|---|---|---|---|");
    for (const t of detailed.filter((t) => t.label.includes(" · "))) {
      // Products are labelled "[batch× ]M×N×K", 2·M·N·K flops each; a split-K product is two dispatches.
      const m = /(?:(\d+)× )?(\d+)×(\d+)×(\d+)/.exec(t.label.split(" · ")[1]);
      const products = t.label.includes(" split ") ? t.count / 2 : t.count;
      const flops = m ? 2 * Number(m[1] ?? 1) * Number(m[2]) * Number(m[3]) * Number(m[4]) * products : 0;
      console.log(`| ${t.label} | ${t.count} | ${t.ms.toFixed(2)} | ${flops ? (flops / (t.ms / 1000) / 1e12).toFixed(1) : ""} |`);
    }
  }
}
