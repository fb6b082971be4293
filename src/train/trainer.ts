/**
 * The training loop (nanoGPT-style, one screen): batches → forward → cross-entropy → backward
 * → clip + Muon/AdamW on the GPU, with warm-up + cosine LR, gradient accumulation, metrics,
 * validation, atomic checkpoints and exact resume. Under mpiexec it trains data-parallel
 * (docs/DISTRIBUTED.md): each rank runs its slice of the global batch, gradients and loss totals
 * are summed over the ranks, the optimizer runs identically everywhere, and only rank 0 writes.
 */
import { appendFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { GradientReducer } from "../distributed/gradients.ts";
import { bcastJson, bcastTensors } from "../distributed/state.ts";
import { openWorld, SINGLE_PROCESS, type World } from "../distributed/world.ts";
import { learningRate } from "./recipe.ts";
import { Gpu } from "../gpu/runtime.ts";
import { countTargets } from "../kernels/cross-entropy.ts";
import { loadModelConfig, sequenceLength, type IFlameConfig } from "../model/config.ts";
import { IFlameModel } from "../model/model.ts";
import { resolvePrecision, type Precision } from "../model/precision.ts";
import { loadCheckpoint, resumableCheckpoint, saveCheckpoint, type TrainState } from "../checkpoint/checkpoint.ts";
import { openTrainingData, type TrainingData } from "./data.ts";
import { metricsFile, truncateMetrics } from "./metrics.ts";
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
  precision: Precision;
  /** f16 runs: the loss scale the step ran with, and whether its gradients overflowed (the step was skipped). */
  lossScale?: number;
  skipped?: boolean;
  /** Data-parallel runs: ms of the step from the GPU finishing the backward to the summed gradients being back. */
  allreduceMs?: number;
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

export async function train(
  opts: TrainOptions, log: (line: string) => void = console.log, world: World = openWorld(opts.distributed),
): Promise<TrainResult> {
  const K = world.size;
  const say = world.isRoot ? log : () => {};
  // Each rank of a host takes its own GPU (ffi/adapter-choice.ts).
  const gpu = Gpu.get(K > 1 ? { localRank: world.localRank } : {});
  say(gpu.describe());
  // Which GPU each rank took (identical GPUs differ only by their index in the list).
  if (K > 1) log(`rank ${world.rank}/${K} (local rank ${world.localRank}): adapter ${gpu.dev.adapterIndex ?? "default"} of ${gpu.dev.adapters?.length ?? "?"}`);
  const config: IFlameConfig = await loadModelConfig(opts.config);
  const L = sequenceLength(config);
  const B = opts.batch;
  const data = await openRankData(world, opts, config, say);
  const stepsPerEpoch = Math.max(1, Math.floor(data.trainSize / (B * K * opts.accum)));
  const totalSteps = opts.steps ?? (opts.epochs ?? 10) * stepsPerEpoch;
  const runDir = bcastJson(world, opts.out ?? join("runs", `${config.name}-${new Date().toISOString().replace(/[:.]/g, "-")}`));
  if (world.isRoot) await mkdir(runDir, { recursive: true });

  const precision = bcastJson(world, world.isRoot ? resolvePrecision(gpu, opts.precision, say) : "f32");
  const model = new IFlameModel(gpu, config, B, L, { precision });
  const lossScaling = precision === "f16";
  const optimizer = new Optimizer(gpu, model.params, model.grads, opts.optimizer, { lossScaling });
  let state: TrainState = { step: 0, totalSteps, epoch: 0, cursor: 0, seed: opts.seed, config, options: opts, bestValLoss: null, precision };
  const resumeFrom = world.isRoot && opts.resume ? await resumableCheckpoint(runDir, config) : null;
  if (opts.resume && !resumeFrom) say(`--resume: no checkpoint in ${runDir}; starting fresh`);
  if (resumeFrom) {
    state = await loadCheckpoint(gpu, resumeFrom, model.params, optimizer.stateTensors());
    say(`resumed from ${resumeFrom} at step ${state.step}; global batch now ${B * K * opts.accum} (${K} rank${K > 1 ? "s" : ""} × batch ${B} × accum ${opts.accum})`);
  } else {
    model.initParams(opts.seed);
  }
  state = bcastJson(world, state);
  bcastTensors(world, gpu, model.params);
  bcastTensors(world, gpu, optimizer.stateTensors());
  // A resumed f16 run keeps its loss scale; one that changes precision starts it afresh.
  if (lossScaling && state.precision === "f16" && state.lossScale) optimizer.writeLossScale(state.lossScale);
  state = { ...state, precision, lossScale: undefined };
  gpu.record((r) => model.castWeights(r));
  if (world.isRoot) await truncateMetrics(runDir, state.step);
  const reducer = K > 1 ? new GradientReducer(gpu, world, model.backwardSegments, { bucketBytes: opts.bucketMb * 2 ** 20, overlap: opts.overlap }) : null;
  say(
    `model ${config.name}: ${paramCount(model)} parameters (${precision}) · batch ${B}×${L} tokens` +
      (K > 1 ? ` per rank × ${K} ranks${opts.accum > 1 ? ` × ${opts.accum} accum` : ""} = global batch ${B * K * opts.accum} · ${reducer!.bucketCount} gradient buckets${opts.overlap ? " summed during the backward" : ""}` : "") +
      ` · ${totalSteps} steps · run ${runDir}`,
  );

  const history: StepMetrics[] = [];
  const progress = new Progress(totalSteps, state.step, opts.quiet || !world.isRoot);
  let val: TrainResult["val"] = null;
  let lastSaved = state.step;
  let lastScale = lossScaling ? optimizer.readLossScale().scale : 1;
  while (state.step < totalSteps) {
    const started = performance.now();
    const lr = learningRate(state.step, totalSteps, opts.lr);
    optimizer.prepare(lr, state.step + 1);
    const batches = Array.from({ length: opts.accum }, () => data.nextTrainBatch(state));
    // The loss is the mean over the global batch's non-pad targets, so each rank needs their total.
    const stepCount = Float64Array.of(batches.reduce((s, t) => s + countTargets(t, B, L), 0));
    world.allreduceSum(stepCount);
    model.setLossScale(1 / Math.max(1, stepCount[0]));
    gpu.record((r) => model.zeroGrads(r));
    // The last backward's gradients are final: the reducer may start their sums segment by segment.
    batches.forEach((tokens, i) => runBatch(model, tokens, { accumulate: i > 0, optimizer, reducer: i === batches.length - 1 ? reducer : null }));
    const allreduceSeconds = reducer?.reduce();
    const totals = readTotals(model, world);
    const lossScale = lossScaling ? lastScale : undefined;
    gpu.record((r) => {
      optimizer.record(r);
      model.castWeights(r);
    });
    const norm = optimizer.gradNorm();
    lastScale = norm.lossScale;
    // With loss scaling an overflow is expected now and then: the step was skipped and the scale
    // halved. Gradients that overflow even below a scale of 1 mean the run diverged.
    const skipped = lossScaling && norm.nonFinite;
    if ((norm.nonFinite && (!lossScaling || norm.lossScale < 1)) || !Number.isFinite(totals.lossSum)) {
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
      tokensPerSecond: (B * K * L * opts.accum) / seconds,
      precision,
      ...(lossScale === undefined ? {} : { lossScale, skipped }),
      ...(allreduceSeconds === undefined ? {} : { allreduceMs: 1000 * allreduceSeconds }),
    };
    history.push(m);
    if (world.isRoot) await appendFile(metricsFile(runDir), `${JSON.stringify({ kind: "train", ...m })}\n`);
    progress.update(state.step, m);

    const last = state.step === totalSteps;
    if (data.valSize > 0 && (state.step % opts.valEvery === 0 || last)) {
      val = validate(model, data, world);
      if (world.isRoot) await appendFile(metricsFile(runDir), `${JSON.stringify({ kind: "val", step: state.step, ...val })}\n`);
      progress.note(`val loss ${val.loss.toFixed(4)} · acc ${(100 * val.acc).toFixed(1)}% · ppl ${val.perplexity.toFixed(3)}`);
      state.bestValLoss = Math.min(state.bestValLoss ?? Infinity, val.loss);
    }
    if (state.step % opts.saveEvery === 0 || last) {
      const saved = lossScaling ? { ...state, lossScale: optimizer.readLossScale() } : state;
      if (world.isRoot) await saveCheckpoint(gpu, runDir, model.params, optimizer.stateTensors(), saved);
      lastSaved = state.step;
    }
  }
  progress.done();
  return { runDir, steps: state.step, history, val };
}

/** This rank's share of the data; rank 0 opens it first, so the other ranks find its shard cache built. */
async function openRankData(world: World, opts: TrainOptions, config: IFlameConfig, log: (line: string) => void): Promise<TrainingData> {
  const shard = { index: world.rank, count: world.size };
  const data = world.isRoot ? await openTrainingData(opts, config, log, shard) : null;
  bcastJson(world, "data ready");
  return data ?? (await openTrainingData(opts, config, log, shard));
}

interface BatchOptions {
  /** Add the loss totals to the previous batches'. */
  accumulate: boolean;
  /** With an optimizer, the backward too, from the loss gradient times its loss scale. */
  optimizer?: Optimizer | null;
  /** Sums the gradients over the ranks, started during this backward where it overlaps. */
  reducer?: GradientReducer | null;
}

/** Records forward + loss (+ backward) for one [B, L] batch. */
function runBatch(model: IFlameModel, tokens: Int32Array, { accumulate, optimizer, reducer }: BatchOptions): void {
  model.setTokens(tokens);
  model.gpu.record((r) => {
    model.forward(r);
    model.loss(r, accumulate);
    if (!optimizer) return;
    optimizer.backward(r, model, reducer?.backwardHooks(r));
  });
}

/** The loss totals of the batches run since the last reset, summed over the ranks. */
function readTotals(model: IFlameModel, world: World): Totals {
  const s = Float64Array.from((model.gpu.read(model.lossStats) as Float32Array).subarray(0, 3));
  world.allreduceSum(s);
  return { lossSum: s[0], count: s[1], correct: s[2] };
}

/** Loss, token accuracy and perplexity over non-pad targets of the whole validation split (every rank's share). */
export function validate(model: IFlameModel, data: TrainingData, world: World = SINGLE_PROCESS): { loss: number; acc: number; perplexity: number } {
  model.setLossScale(0);
  let first = true;
  for (const tokens of data.valBatches()) {
    runBatch(model, tokens, { accumulate: !first });
    first = false;
  }
  // A rank dealt no validation batch (more ranks than batches) adds nothing.
  if (first) model.gpu.record((r) => r.clear(model.lossStats));
  const totals = readTotals(model, world);
  const loss = totals.lossSum / Math.max(1, totals.count);
  return { loss, acc: totals.correct / Math.max(1, totals.count), perplexity: Math.exp(loss) };
}

function paramCount(model: IFlameModel): string {
  let n = 0;
  for (const t of model.params.values()) n += t.size;
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : n.toLocaleString("en-US");
}
