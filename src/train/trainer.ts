/**
 * The training loop (nanoGPT-style, one screen): batches → forward → cross-entropy → backward
 * → clip + Muon/AdamW on the GPU, with warm-up + cosine LR, gradient accumulation, metrics,
 * validation, atomic checkpoints and exact resume.
 */
import { appendFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { learningRate } from "./recipe.ts";
import { Gpu } from "../gpu/runtime.ts";
import { countTargets } from "../kernels/cross-entropy.ts";
import { loadModelConfig, sequenceLength, type IFlameConfig } from "../model/config.ts";
import { IFlameModel } from "../model/model.ts";
import { latestCheckpoint, loadCheckpoint, saveCheckpoint, type TrainState } from "./checkpoint.ts";
import { openTrainingData, type TrainingData } from "./data.ts";
import { Optimizer } from "./optimizer.ts";
import type { TrainOptions } from "./options.ts";
import { Progress } from "./progress.ts";

export interface StepMetrics {
  step: number;
  epoch: number;
  lr: number;
  loss: number;
  acc: number;
  gradNorm: number;
  tokensPerSecond: number;
}

export interface TrainResult {
  runDir: string;
  steps: number;
  history: StepMetrics[];
  val: { loss: number; acc: number; perplexity: number } | null;
}

/** Sum of loss, non-pad targets and correct argmaxes over the batches given. */
interface Totals {
  lossSum: number;
  count: number;
  correct: number;
}

export class NonFiniteError extends Error {}

export async function train(opts: TrainOptions, log: (line: string) => void = console.log): Promise<TrainResult> {
  const gpu = Gpu.get();
  log(gpu.describe());
  const config: IFlameConfig = await loadModelConfig(opts.config);
  const L = sequenceLength(config);
  const B = opts.batch;
  const data: TrainingData = await openTrainingData(opts, config, log);
  const stepsPerEpoch = Math.max(1, Math.floor(data.trainSize / (B * opts.accum)));
  const totalSteps = opts.steps ?? (opts.epochs ?? 10) * stepsPerEpoch;
  const runDir = opts.out ?? join("runs", `${config.name}-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  await mkdir(runDir, { recursive: true });

  const model = new IFlameModel(gpu, config, B, L);
  const optimizer = new Optimizer(gpu, model.params, model.grads, opts.optimizer);
  let state: TrainState = { step: 0, totalSteps, epoch: 0, cursor: 0, seed: opts.seed, config, options: opts, bestValLoss: null };
  const resumeFrom = opts.resume ? await latestCheckpoint(runDir) : null;
  if (opts.resume && !resumeFrom) log(`--resume: no checkpoint in ${runDir}; starting fresh`);
  if (resumeFrom) {
    state = await loadCheckpoint(gpu, resumeFrom, model.params, optimizer.stateTensors());
    log(`resumed from ${resumeFrom} at step ${state.step}`);
  } else {
    model.initParams(opts.seed);
  }
  log(`model ${config.name}: ${paramCount(model)} parameters · batch ${B}×${L} tokens · ${totalSteps} steps · run ${runDir}`);

  const history: StepMetrics[] = [];
  const progress = new Progress(totalSteps, state.step, opts.quiet);
  let val: TrainResult["val"] = null;
  let lastSaved = state.step;
  while (state.step < totalSteps) {
    const started = performance.now();
    const lr = learningRate(state.step, totalSteps, opts.lr);
    optimizer.prepare(lr, state.step + 1);
    const batches = Array.from({ length: opts.accum }, () => data.nextTrainBatch(state));
    const stepCount = batches.reduce((s, t) => s + countTargets(t, B, L), 0);
    model.setLossScale(1 / Math.max(1, stepCount));
    gpu.record((r) => model.zeroGrads(r));
    batches.forEach((tokens, i) => runBatch(model, tokens, i > 0, true));
    const totals = readTotals(model);
    gpu.record((r) => optimizer.record(r));
    const norm = optimizer.gradNorm();
    if (norm.nonFinite || !Number.isFinite(totals.lossSum)) {
      progress.done();
      throw new NonFiniteError(
        `step ${state.step}: ${norm.nonFinite ? `gradient norm is ${norm.norm}` : `loss is ${totals.lossSum}`} — stopped; parameters were not updated, ` +
          `and the last good checkpoint (step ${lastSaved}) in ${runDir} is intact. Try a lower --lr.`,
      );
    }
    state.step++;
    const seconds = (performance.now() - started) / 1000;
    const m: StepMetrics = {
      step: state.step,
      epoch: state.epoch,
      lr,
      loss: totals.lossSum / Math.max(1, totals.count),
      acc: totals.correct / Math.max(1, totals.count),
      gradNorm: norm.norm,
      tokensPerSecond: (B * L * opts.accum) / seconds,
    };
    history.push(m);
    await appendFile(join(runDir, "metrics.jsonl"), `${JSON.stringify({ kind: "train", ...m })}\n`);
    progress.update(state.step, m);

    const last = state.step === totalSteps;
    if (data.valSize > 0 && (state.step % opts.valEvery === 0 || last)) {
      val = validate(model, data);
      await appendFile(join(runDir, "metrics.jsonl"), `${JSON.stringify({ kind: "val", step: state.step, ...val })}\n`);
      progress.note(`val loss ${val.loss.toFixed(4)} · acc ${(100 * val.acc).toFixed(1)}% · ppl ${val.perplexity.toFixed(3)}`);
      state.bestValLoss = Math.min(state.bestValLoss ?? Infinity, val.loss);
    }
    if (state.step % opts.saveEvery === 0 || last) {
      await saveCheckpoint(gpu, runDir, model.params, optimizer.stateTensors(), state);
      lastSaved = state.step;
    }
  }
  progress.done();
  return { runDir, steps: state.step, history, val };
}

/** Records forward + loss (+ backward) for one [B, L] batch; loss totals add up with `accumulate`. */
function runBatch(model: IFlameModel, tokens: Int32Array, accumulate: boolean, backward: boolean): void {
  model.setTokens(tokens);
  model.gpu.record((r) => {
    model.forward(r);
    model.loss(r, accumulate);
    if (backward) model.backward(r);
  });
}

function readTotals(model: IFlameModel): Totals {
  const s = model.gpu.read(model.lossStats) as Float32Array;
  return { lossSum: s[0], count: s[1], correct: s[2] };
}

/** Loss, token accuracy and perplexity over non-pad targets of the whole validation split. */
export function validate(model: IFlameModel, data: TrainingData): { loss: number; acc: number; perplexity: number } {
  model.setLossScale(0);
  let first = true;
  for (const tokens of data.valBatches()) {
    runBatch(model, tokens, !first, false);
    first = false;
  }
  const totals = readTotals(model);
  const loss = totals.lossSum / Math.max(1, totals.count);
  return { loss, acc: totals.correct / Math.max(1, totals.count), perplexity: Math.exp(loss) };
}

function paramCount(model: IFlameModel): string {
  let n = 0;
  for (const t of model.params.values()) n += t.size;
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : n.toLocaleString("en-US");
}
