/**
 * The reference optimizer over a model's parameters: Muon for the 2-D weights its rule selects
 * (recipe.ts usesMuon), the AdamW backup for everything else, gradient clipping at 1.0 —
 * all on the GPU, driven by one small step tensor (see src/kernels/optim.ts). With `lossScaling`
 * (f16 training) it also keeps GradScaler's dynamic loss scale in that tensor
 * (kernels/loss-scale.ts): backward() scales the loss gradient, gradNorm unscales,
 * an overflowed step is skipped, and record ends with the scale's update.
 */
import type { Gpu, Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { LOSS_SCALE_INIT, scaleByLossScale, updateLossScale } from "../kernels/loss-scale.ts";
import {
  adamwStep, createGradNormPartials, createOptimStep, gradNorm, MuonScratch, muonStep, readGradNorm, STEP, writeOptimStep, type MuonMatrix,
} from "../kernels/optim.ts";
import type { BackwardHooks, IFlameModel } from "../model/model.ts";
import { usesMuon, WEIGHT_DECAY } from "./recipe.ts";

export type OptimizerKind = "muon" | "adamw";

export interface OptimizerOptions {
  weightDecay?: number;
  /** Dynamic loss scaling (f16 training), starting at 2^16. */
  lossScaling?: boolean;
}

/** GradScaler's state: the scale and the clean steps since it last changed. */
export interface LossScaleState {
  scale: number;
  cleanSteps: number;
}

interface AdamWParam { name: string; param: Tensor; grad: Tensor; m: Tensor; v: Tensor }
interface MuonGroup { scratch: MuonScratch; matrices: (MuonMatrix & { name: string })[] }

/** Muon matrices go through the batched Newton–Schulz this many at a time (16: 43 ms a ShapeNet step on an H100, vs 70 ms at 8). */
const MUON_BATCH = 16;

export class Optimizer {
  private readonly step: Tensor;
  private readonly partials: Tensor;
  private readonly adamw: AdamWParam[] = [];
  private readonly muon = new Map<string, MuonGroup>();
  private readonly gradList: Tensor[];
  readonly weightDecay: number;
  readonly lossScaling: boolean;

  constructor(
    private readonly gpu: Gpu,
    params: Map<string, Tensor>,
    grads: Map<string, Tensor>,
    readonly kind: OptimizerKind,
    o: OptimizerOptions = {},
  ) {
    this.weightDecay = o.weightDecay ?? WEIGHT_DECAY;
    this.lossScaling = o.lossScaling ?? false;
    this.step = createOptimStep(gpu, { lossScale: this.lossScaling ? LOSS_SCALE_INIT : 1 });
    this.gradList = [...grads.values()];
    this.partials = createGradNormPartials(gpu, this.gradList.map((g) => g.size));
    for (const [name, param] of params) {
      const grad = grads.get(name)!;
      if (kind === "muon" && usesMuon(name, param.shape)) {
        const [rows, cols] = param.shape;
        const key = `${rows}x${cols}`;
        let group = this.muon.get(key);
        if (!group) {
          group = { scratch: new MuonScratch(gpu, rows, cols, MUON_BATCH), matrices: [] };
          this.muon.set(key, group);
        }
        group.matrices.push({ name, param, grad, momentum: gpu.tensor(param.shape, "f32", `momentum ${name}`) });
      } else {
        this.adamw.push({ name, param, grad, m: gpu.tensor(param.shape, "f32", `m ${name}`), v: gpu.tensor(param.shape, "f32", `v ${name}`) });
      }
    }
  }

  /** Sets this step's learning rate and AdamW step count t (1-based); call before recording. */
  prepare(lr: number, t: number): void {
    writeOptimStep(this.gpu, this.step, { lr, step: t, wd: this.weightDecay });
  }

  /**
   * Records the model's backward from its loss gradient, first multiplied by the loss scale (loss
   * scaling only), the gradients adding into the model's; `hooks` as IFlameModel.backward's.
   */
  backward(r: Recorder, model: IFlameModel, hooks?: BackwardHooks): void {
    if (this.lossScaling) scaleByLossScale(r, { x: model.dlogits, step: this.step });
    model.backward(r, hooks);
  }

  /**
   * Records clipping and every update. A step with non-finite gradients changes nothing; with
   * loss scaling the scale then halves (and doubles after 2000 clean steps).
   */
  record(r: Recorder): void {
    const label = "optimizer";
    gradNorm(r, { grads: this.gradList, partials: this.partials, step: this.step, label });
    for (const p of this.adamw) adamwStep(r, { param: p.param, grad: p.grad, m: p.m, v: p.v, step: this.step, label });
    for (const group of this.muon.values()) muonStep(r, { matrices: group.matrices, scratch: group.scratch, step: this.step, label });
    if (this.lossScaling) updateLossScale(r, { step: this.step, label });
  }

  /**
   * The gradient norm of the last recorded step (waits for the GPU), and the loss scale the
   * next step uses (after its update).
   */
  gradNorm(): { norm: number; clipScale: number; nonFinite: boolean; lossScale: number } {
    return readGradNorm(this.gpu, this.step);
  }

  /** The loss scale's state, for checkpoints (waits for the GPU). */
  readLossScale(): LossScaleState {
    const s = this.gpu.read(this.step) as Float32Array;
    return { scale: s[STEP.lossScale], cleanSteps: s[STEP.cleanSteps] };
  }

  /** Restores a checkpoint's loss scale state (takes effect for work submitted after it). */
  writeLossScale(state: LossScaleState): void {
    this.gpu.write(this.step, Float32Array.of(state.cleanSteps), STEP.cleanSteps);
    this.gpu.write(this.step, Float32Array.of(state.scale), STEP.lossScale);
  }

  /** Optimizer state by name, for checkpoints. */
  stateTensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const p of this.adamw) {
      out.set(`adamw.m.${p.name}`, p.m);
      out.set(`adamw.v.${p.name}`, p.v);
    }
    for (const group of this.muon.values()) for (const m of group.matrices) out.set(`muon.momentum.${m.name}`, m.momentum);
    return out;
  }
}
