/**
 * Generation throughput of the hourglass-cached GPU sampler (src/generate) with random weights:
 * tokens/s, meshes/minute and CPU↔GPU syncs per mesh, per batch size. Every sequence decodes the
 * same number of tokens (ends are ignored), so runs are comparable. The first run of a batch size
 * also builds pipelines, bind groups and uniform blocks; later runs reuse them.
 *   bun scripts/bench-generate.ts [--config shapenet] [--tokens 7200] [--batch 1,32] [--runs 2]
 *     [--steps-per-submit 64] [--no-grammar] [--no-profile] [--precision f32|f16]
 * --precision f16: the decoder reads f16 copies of the Linear weights (as `generate --precision f16`).
 */
import { z } from "zod";
import { parseScriptFlags } from "../src/cli/flags.ts";
import { DEFAULT_STEPS_PER_SUBMIT, generateBatch } from "../src/generate/batch.ts";
import { Decoder } from "../src/generate/decoder.ts";
import { cacheMemory, formatCacheMemory } from "../src/generate/memory.ts";
import { unconditionalPrompt } from "../src/generate/prompt.ts";
import { Profiler } from "../src/gpu/profiler.ts";
import { Gpu, Recorder } from "../src/gpu/runtime.ts";
import type { Tensor } from "../src/gpu/tensor.ts";
import { loadModelConfig } from "../src/model/config.ts";
import { initParams, paramSpecs } from "../src/model/params.ts";

const Flags = z
  .object({
    config: z.string().default("shapenet").describe("model preset or JSON config"),
    tokens: z.coerce.number().int().positive().default(7200).describe("tokens decoded per sequence (800 faces = 7200)"),
    batch: z.string().regex(/^\d+(,\d+)*$/).default("1,32").describe("batch sizes, comma-separated"),
    runs: z.coerce.number().int().positive().default(2).describe("runs per batch size"),
    stepsPerSubmit: z.coerce.number().int().positive().default(DEFAULT_STEPS_PER_SUBMIT).describe("decoding steps per submission"),
    grammar: z.boolean().default(true).describe("grammar mask on (as generation runs by default)"),
    precision: z.enum(["f32", "f16"]).default("f32").describe("the weights the products read"),
    profile: z.boolean().default(true).describe("GPU time per kernel family over one 9-step cycle (timestamp queries)"),
  })
  .strict();

const flags = parseScriptFlags("bench-generate", Flags, process.argv.slice(2));

const config = await loadModelConfig(flags.config);
const network = config;
const gpu = Gpu.get();
console.log(gpu.describe());
const values = initParams(network, 0);
const params = new Map<string, Tensor>(paramSpecs(network).map((s) => [s.name, gpu.upload(values[s.name], s.shape, s.name)]));
// Start row, `tokens` tokens, end row.
const capacity = 9 * (Math.ceil(flags.tokens / 9) + 2);
const prompt = unconditionalPrompt();
const sampling = { temperature: 1, topK: 50, topP: 0.95, seed: 0 };
const grammar = flags.grammar ? { strictOrder: false } : null;

console.log(`${config.name}: ${capacity - 10} tokens per sequence, ${flags.stepsPerSubmit} steps per submission, grammar ${grammar ? "on" : "off"}, ${flags.precision} weights`);
console.log("| batch | run | seconds | tokens/s | meshes/min | syncs/mesh |\n|---|---|---|---|---|---|");
const profiles: string[] = [];
for (const B of flags.batch.split(",").map(Number)) {
  const decoder = new Decoder(gpu, network, params, B, capacity, { precision: flags.precision });
  for (let run = 1; run <= flags.runs; run++) {
    const result = generateBatch(decoder, prompt, { sampling, grammar, stepsPerSubmit: flags.stepsPerSubmit, ignoreEnds: true });
    const tokens = result.steps * B;
    console.log(
      `| ${B} | ${run}${run === 1 ? " (cold)" : ""} | ${result.seconds.toFixed(2)} | ${Math.round(tokens / result.seconds).toLocaleString("en-US")} | ` +
        `${((60 * B) / result.seconds).toFixed(2)} | ${(result.syncs / B).toFixed(3)} |`,
    );
  }
  if (B === Number(flags.batch.split(",")[0])) console.log(formatCacheMemory(cacheMemory(decoder), network, capacity));
  if (flags.profile && gpu.features.timestampQuery) profiles.push(profileCycle(decoder));
  decoder.destroy();
}
for (const p of profiles) console.log(p);

/** GPU time by kernel family over the 9 steps after a prefill (every level runs in them). */
function profileCycle(decoder: Decoder): string {
  decoder.begin(new Int32Array(decoder.B * prompt.length).fill(prompt[0]), prompt.length, prompt.length, { sampling, grammar });
  gpu.record((r) => decoder.prefill(r));
  gpu.sync();
  const profiler = new Profiler(gpu, 16384);
  const r = new Recorder(gpu, profiler);
  for (let i = 0; i < 9; i++) decoder.step(r);
  r.submit();
  const timings = profiler.collect();
  const total = timings.reduce((s, t) => s + t.ms, 0);
  const rows = timings.map((t) => `| ${t.label} | ${t.count} | ${t.ms.toFixed(3)} | ${((100 * t.ms) / total).toFixed(1)}% |`);
  return [
    `\nbatch ${decoder.B}, 9 decoding steps, one dispatch per pass (so slower than the timed runs):`,
    "| family | dispatches | GPU ms | share |\n|---|---|---|---|",
    ...rows,
    `| total | ${timings.reduce((s, t) => s + t.count, 0)} | ${total.toFixed(2)} | |`,
  ].join("\n");
}
