/**
 * Learning-curve parity (issue 17): our trainer and the PyTorch port (train_torch.py) start from
 * the same weights, train on the same token batches with the same optimizer (Muon + AdamW backup,
 * warm-up + cosine, clipping at 1), and their per-step losses are compared.
 *   bun scripts/parity/run-curve.ts [--config tiny] [--steps 20] [--batch 2] [--seed 0] [--data procedural]
 *       [--meshes 16] [--dir /tmp/iflame-curve] [--python python3] [--torch-device cpu] [--save]
 * The trainer's data source is deterministic in its seed, so replaying it from step 0 gives the
 * batches the trainer takes; they go to PyTorch as one int32 [steps, B, L] file. With --save, the
 * PyTorch side also writes its final weights (torch-final.safetensors) beside our run folder, so
 * both trainers' models can generate and be evaluated. Prints a JSON summary.
 */
import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { parseScriptFlags } from "../../src/cli/flags.ts";
import { initParams, paramSpecs } from "../../src/model/params.ts";
import { encodeSafetensors } from "../../src/interop/safetensors.ts";
import { loadModelConfig, sequenceLength } from "../../src/model/config.ts";
import type { TrainState } from "../../src/checkpoint/checkpoint.ts";
import { openTrainingData } from "../../src/train/data.ts";
import { parseTrainArgs } from "../../src/train/options.ts";
import { train } from "../../src/train/trainer.ts";

const flags = parseScriptFlags(
  "run-curve",
  z
    .object({
      config: z.string().default("tiny").describe("model preset"),
      steps: z.coerce.number().int().positive().default(20),
      batch: z.coerce.number().int().positive().default(2),
      seed: z.coerce.number().int().nonnegative().default(0),
      lr: z.coerce.number().positive().default(1e-3),
      data: z.string().default("procedural"),
      meshes: z.coerce.number().int().positive().default(16).describe("procedural dataset size"),
      dir: z.string().default("/tmp/iflame-curve"),
      python: z.string().default(process.env.IFLAME_PYTHON ?? "python3"),
      torchDevice: z.string().optional().describe("cpu or cuda (default: cuda when torch sees one)"),
      amp: z.boolean().default(false).describe("PyTorch side in fp16 autocast (quality comparison, not parity)"),
      save: z.boolean().default(false).describe("keep the PyTorch side's final weights"),
    })
    .strict(),
  process.argv.slice(2),
);

const { dir, steps, batch: B } = flags;
await rm(dir, { recursive: true, force: true });
await mkdir(dir, { recursive: true });
const runDir = join(dir, "ours");
const opts = parseTrainArgs([
  "--config", flags.config, "--data", flags.data, "--meshes", String(flags.meshes), "--steps", String(steps),
  "--batch", String(B), "--seed", String(flags.seed), "--lr", String(flags.lr), "--out", runDir, "--quiet",
  "--save-every", String(steps), "--val-every", String(steps),
]);
const config = await loadModelConfig(opts.config);
const L = sequenceLength(config);

// The initial weights the trainer draws from its seed, and the batches it will take.
const weights = initParams(config, opts.seed);
const named = Object.fromEntries(paramSpecs(config).map((p) => [p.name, { shape: p.shape, data: weights[p.name] }]));
await Bun.write(join(dir, "weights.safetensors"), encodeSafetensors(named));
const data = await openTrainingData(opts, config, () => {});
const replay = { step: 0, epoch: 0, cursor: 0 } as TrainState;
const tokensFile = createWriteStream(join(dir, "batches.bin"));
for (let s = 0; s < steps; s++) {
  const tokens = data.nextTrainBatch(replay);
  tokensFile.write(new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength));
}
await new Promise<void>((done, fail) => tokensFile.end((e?: Error | null) => (e ? fail(e) : done())));

const started = performance.now();
const ours = await train(opts, () => {});
const oursSeconds = (performance.now() - started) / 1000;

const torchArgs = [
  join(import.meta.dir, "train_torch.py"), "--config", flags.config, "--weights", join(dir, "weights.safetensors"),
  "--tokens", join(dir, "batches.bin"), "--B", String(B), "--L", String(L), "--steps", String(steps), "--lr", String(flags.lr),
  "--out", join(dir, "torch-curve.json"),
  ...(flags.torchDevice ? ["--device", flags.torchDevice] : []),
  ...(flags.amp ? ["--amp"] : []),
  ...(flags.save ? ["--save", join(dir, "torch-final.safetensors"), "--save-config", JSON.stringify(config)] : []),
];
const py = Bun.spawnSync([flags.python, ...torchArgs], { stdout: "inherit", stderr: "inherit" });
if (py.exitCode !== 0) throw new Error(`train_torch.py failed (exit ${py.exitCode})`);
const theirs = (await Bun.file(join(dir, "torch-curve.json")).json()) as { curve: { loss: number; gradNorm: number }[]; device: string; seconds: number };

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
const perStep = ours.history.map((m, i) => ({
  step: m.step,
  ours: m.loss,
  torch: theirs.curve[i].loss,
  lossRelError: rel(m.loss, theirs.curve[i].loss),
  gradNormRelError: rel(m.gradNorm, theirs.curve[i].gradNorm),
}));
const summary = {
  config: flags.config, steps, B, L, seed: flags.seed, torchDevice: theirs.device, amp: flags.amp,
  trainSeconds: { ours: oursSeconds, torch: theirs.seconds },
  maxLossRelError: Math.max(...perStep.map((r) => r.lossRelError)),
  maxGradNormRelError: Math.max(...perStep.map((r) => r.gradNormRelError)),
  first: perStep[0], last: perStep[perStep.length - 1],
  perStep,
};
console.log(JSON.stringify(summary, null, 2));
