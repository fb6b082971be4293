/**
 * The reference optimizer on the GPU (iFlame.py: Muon with its AdamW backup, clip_grad_norm_),
 * matching src/cpu/optim.ts. All tensors f32, row-major; every call records dispatches only.
 *
 * Per-step scalars live in a small GPU "step tensor" (createOptimStep) instead of uniform blocks:
 * the CPU writes the learning-rate part each step (writeOptimStep, a queue write), the grad-norm
 * kernels write the clip scale and the non-finite flag, and the update kernels read both. So a
 * training step records the same dispatches with the same uniforms every time (nothing new is
 * cached per step) and never waits for the GPU. A step whose gradients are not finite leaves
 * parameters and optimizer state untouched (the update kernels check the flag).
 *
 * Mixed precision: the step tensor also holds the dynamic loss scale S (1 unless createOptimStep
 * is given one). Gradients of the loss scaled by S come in as S·g; gradNorm unscales on the fly
 * (the norm it reports is ‖g‖, and the clip scale it writes carries the 1/S), so no pass over
 * the gradients is added; loss-scale.ts then adjusts S, as torch.amp.GradScaler does.
 *
 * A training step:
 *   writeOptimStep(gpu, step, { lr, step: t });            // before the submission
 *   gpu.record((r) => {
 *     gradNorm(r, { grads, partials, step });              // clip scale for everything below
 *     adamwStep(r, { param, grad, m, v, step });           // per AdamW tensor (or a flat arena view)
 *     muonStep(r, { matrices, scratch, step });            // per group of equal-shape matrices
 *   });
 */
import type { Gpu, Recorder } from "../gpu/runtime.ts";
import { grid1d } from "../gpu/runtime.ts";
import { checkTensorSizes, type Tensor } from "../gpu/tensor.ts";
import { matmul } from "./matmul.ts";

/** Slots of the step tensor f32[8]. 0..2 are written by the CPU, 3..7 by the GPU. */
export const STEP = {
  /** the scheduled learning rate */
  lr: 0,
  /** lr · √(1−β2^t) / (1−β1^t), the AdamW bias-corrected step size */
  adamStepSize: 1,
  /** 1 − lr·wd, the decoupled weight decay factor */
  decay: 2,
  /** Clean steps since the loss scale last changed (GradScaler's growth tracker) */
  cleanSteps: 3,
  /** min(1, maxNorm / (‖g‖ + 1e-6)) / lossScale, what the update kernels multiply gradients by; 0 when they are not finite */
  clipScale: 4,
  /** ‖g‖ over all gradients (what clip_grad_norm_ returns) */
  gradNorm: 5,
  /** 1 when ‖g‖ is Inf or NaN (some gradient is), else 0 */
  nonFinite: 6,
  /** The dynamic loss scale S (1 without mixed precision) */
  lossScale: 7,
} as const;

const STEP_CONSTANTS = {
  STEP_LR: STEP.lr,
  STEP_ADAM_STEP_SIZE: STEP.adamStepSize,
  STEP_DECAY: STEP.decay,
  STEP_CLIP_SCALE: STEP.clipScale,
  STEP_GRAD_NORM: STEP.gradNorm,
  STEP_NON_FINITE: STEP.nonFinite,
  STEP_CLEAN_STEPS: STEP.cleanSteps,
  STEP_LOSS_SCALE: STEP.lossScale,
};

/**
 * The step tensor, with clip scale 1 (no clipping until gradNorm runs), the flag clear and loss
 * scale `lossScale` (mixed precision: torch.amp.GradScaler starts at 2^16; default 1, none).
 */
export function createOptimStep(gpu: Gpu, o: { lossScale?: number } = {}): Tensor {
  const t = gpu.tensor([8], "f32", "optim step");
  gpu.write(t, Float32Array.of(0, 0, 1, 0, 1, 0, 0, o.lossScale ?? 1));
  return t;
}

export interface StepHyper {
  lr: number;
  /** The AdamW step count t, 1 on the first update (bias correction). */
  step: number;
  wd?: number;
  beta1?: number;
  beta2?: number;
}

/** Writes the CPU part of the step tensor (slots 0..2); takes effect for work submitted after it. */
export function writeOptimStep(gpu: Gpu, stepTensor: Tensor, h: StepHyper): void {
  const { lr, step, wd = 0.1, beta1 = 0.95, beta2 = 0.95 } = h;
  const adamStepSize = (lr * Math.sqrt(1 - Math.pow(beta2, step))) / (1 - Math.pow(beta1, step));
  gpu.write(stepTensor, Float32Array.of(lr, adamStepSize, 1 - lr * wd));
}

/** Reads the GPU part of the step tensor back (waits for the GPU; for logging only). */
export function readGradNorm(gpu: Gpu, stepTensor: Tensor): { norm: number; clipScale: number; nonFinite: boolean; lossScale: number } {
  const s = gpu.read(stepTensor) as Float32Array;
  return { norm: s[STEP.gradNorm], clipScale: s[STEP.clipScale], nonFinite: s[STEP.nonFinite] !== 0, lossScale: s[STEP.lossScale] };
}

// -- AdamW ----------------------------------------------------------------------------------------

export interface AdamWStep {
  param: Tensor;
  grad: Tensor;
  m: Tensor;
  v: Tensor;
  /** The step tensor (createOptimStep). */
  step: Tensor;
  beta1?: number;
  beta2?: number;
  eps?: number;
  label?: string;
}

/**
 * One AdamW update of a flat parameter (the reference's AdamW backup: eps on the uncorrected √v):
 * reads grad [n] and the step tensor, updates param, m, v [n] in place (n = param.size). Many small
 * tensors update in one dispatch when they are views of one arena (param, grad, m, v alike).
 */
export function adamwStep(r: Recorder, o: AdamWStep): void {
  const { param, grad, m, v, step, beta1 = 0.95, beta2 = 0.95, eps = 1e-8 } = o;
  const n = param.size;
  checkTensorSizes("adamwStep", { grad: [grad, n], m: [m, n], v: [v, n] });
  const k = r.gpu.kernel({ file: "optim.wgsl", entry: "adamw_step", constants: STEP_CONSTANTS });
  const { workgroups, row } = grid1d(n, 256);
  r.span(o.label ?? "adamw", () => `n=${n}`, () => r.dispatch(k, [param, grad, m, v, step], workgroups, { u32: [n, row], f32: [beta1, beta2, eps] }));
}

// -- global gradient norm -----------------------------------------------------------------------

/** Elements per first-stage partial (reduce.wgsl: 256 threads × ITEMS). */
const REDUCE_ITEMS = 16;
const REDUCE_CHUNK = 256 * REDUCE_ITEMS;

function reduceKernel(gpu: Gpu, entry: string) {
  return gpu.kernel({ file: "reduce.wgsl", entry, constants: { ITEMS: REDUCE_ITEMS, ...STEP_CONSTANTS } });
}

function chunks(n: number): number {
  return Math.max(1, Math.ceil(n / REDUCE_CHUNK));
}

/** The partials buffer gradNorm needs for gradients of these sizes (allocate once). */
export function createGradNormPartials(gpu: Gpu, sizes: readonly number[]): Tensor {
  return gpu.tensor([sizes.reduce((s, n) => s + chunks(n), 0)], "f32", "grad-norm partials");
}

/**
 * clip_grad_norm_(grads, maxNorm) without the multiply: ‖g‖ over all tensors, its clip scale and
 * the non-finite flag into the step tensor (the update kernels scale each gradient as they read
 * it). With a loss scale S the gradients hold S·g: the norm is divided by S and the clip scale
 * carries 1/S (GradScaler's unscale_ before clipping). Deterministic two-stage sum (f32 partials of 4096 elements, then one fixed tree).
 * Reads grads (each flat, its size = tensor.size); writes partials and step[4..6].
 */
export function gradNorm(r: Recorder, o: { grads: readonly Tensor[]; partials: Tensor; step: Tensor; maxNorm?: number; label?: string }): void {
  r.span(o.label ?? "grad norm", () => `${o.grads.length} tensors`, () => recordGradNorm(r, o.grads, o.partials, o.step, o.maxNorm ?? 1));
}

function recordGradNorm(r: Recorder, grads: readonly Tensor[], partials: Tensor, step: Tensor, maxNorm: number): void {
  const stage1 = reduceKernel(r.gpu, "sum_squares_partials");
  let offset = 0;
  for (const g of grads) {
    const n = g.size;
    if (chunks(n) > 65535) throw new Error(`gradNorm: ${g.label} has ${n} elements; split it (at most ${65535 * REDUCE_CHUNK} per tensor)`);
    r.dispatch(stage1, [g, partials], [chunks(n), 1], { u32: [n, 0, offset] });
    offset += chunks(n);
  }
  if (offset > partials.size) throw new Error(`gradNorm: ${offset} partials needed, buffer holds ${partials.size}`);
  r.dispatch(reduceKernel(r.gpu, "grad_norm_finalize"), [partials, step], 1, { u32: [offset, 0, 0], f32: [maxNorm] });
}

// -- Muon -------------------------------------------------------------------------------------------

/** Quintic Newton–Schulz coefficients (a, b, c) of the reference's zeropower_via_newtonschulz5. */
const NS_COEFFS = [3.4445, -4.775, 2.0315] as const;

/** One matrix Muon updates: param, grad and momentum buffer, each [rows, cols] (a Linear [out, in]). */
export interface MuonMatrix { param: Tensor; grad: Tensor; momentum: Tensor }

/**
 * Work buffers for Muon on up to `batch` matrices of one shape [rows, cols], allocated once per
 * distinct shape and reused by every group and step. With r = min(rows, cols):
 * two update buffers [batch, rows, cols] (Newton–Schulz ping-pongs between them), Gram matrix,
 * its square and the polynomial [batch, r, r] each, plus the norm partials and inverse norms.
 * ShapeNet at batch 16: 512×512 → 80 MiB, 1365×512 or 512×1365 → 133 MiB. The batch sets how
 * full the GPU is during the small products: all 168 ShapeNet matrices took 70 / 43 / 49 / 41 ms
 * per step at batch 8 / 16 / 24 / 48 on an H100 (matmul bound).
 */
export class MuonScratch {
  readonly update: [Tensor, Tensor];
  readonly gram: Tensor;
  readonly gramSq: Tensor;
  readonly poly: Tensor;
  readonly partials: Tensor;
  readonly invNorm: Tensor;

  constructor(
    private readonly gpu: Gpu,
    readonly rows: number,
    readonly cols: number,
    readonly batch: number,
  ) {
    const r = Math.min(rows, cols);
    const label = `muon ${rows}x${cols}`;
    this.update = [gpu.tensor([batch, rows, cols], "f32", `${label} update`), gpu.tensor([batch, rows, cols], "f32", `${label} update'`)];
    this.gram = gpu.tensor([batch, r, r], "f32", `${label} gram`);
    this.gramSq = gpu.tensor([batch, r, r], "f32", `${label} gram²`);
    this.poly = gpu.tensor([batch, r, r], "f32", `${label} poly`);
    this.partials = gpu.tensor([batch * chunks(rows * cols)], "f32", `${label} partials`);
    this.invNorm = gpu.tensor([batch], "f32", `${label} 1/norm`);
  }

  destroy(): void {
    for (const t of [...this.update, this.gram, this.gramSq, this.poly, this.partials, this.invNorm]) this.gpu.destroy(t);
  }
}

export interface MuonStep {
  /** All of the scratch's shape. */
  matrices: readonly MuonMatrix[];
  scratch: MuonScratch;
  step: Tensor;
  momentum?: number;
  nesterov?: boolean;
  nsSteps?: number;
  label?: string;
}

/**
 * One Muon update of every matrix in `matrices` (all of the scratch's shape), `scratch.batch` at a
 * time through the batched matmul: momentum (reads grad × clip scale, updates momentum), then
 * X = update/(‖update‖_F + 1e-7) and nsSteps times X ← (aI + bA + cA²)·X with A = X·Xᵀ, then
 * param ← param·decay − lr·0.2·√max(rows, cols)·X. Tall matrices (rows > cols) are never
 * transposed: with Y = Xᵀ stored as [rows, cols] the iteration is A = YᵀY, Y ← Y·Pᵀ.
 * Reads the step tensor; updates each param and momentum in place.
 */
export function muonStep(r: Recorder, o: MuonStep): void {
  r.span(o.label ?? "muon", () => `${o.matrices.length} × ${o.scratch.rows}×${o.scratch.cols}`, () => recordMuon(r, o));
}

function recordMuon(r: Recorder, o: MuonStep): void {
  const { matrices, scratch, step, momentum = 0.95, nesterov = true, nsSteps = 5 } = o;
  const { rows, cols } = scratch;
  const n = rows * cols;
  for (const m of matrices) {
    for (const t of [m.param, m.grad, m.momentum]) {
      if (t.size !== n) throw new Error(`muonStep: ${t.label} has ${t.size} elements, the scratch is for ${rows}×${cols}`);
    }
  }
  const gpu = r.gpu;
  const perMatrix = (entry: string) => gpu.kernel({ file: "muon.wgsl", entry, constants: { NESTEROV: nesterov, ...STEP_CONSTANTS } });
  const momentumKernel = perMatrix("muon_momentum");
  const applyKernel = perMatrix("muon_apply");
  const lrScale = 0.2 * Math.sqrt(Math.max(rows, cols));
  const matrixGrid = grid1d(n, 256);

  for (let first = 0; first < matrices.length; first += scratch.batch) {
    const group = matrices.slice(first, first + scratch.batch);
    group.forEach((m, i) => {
      r.dispatch(momentumKernel, [m.grad, m.momentum, scratch.update[0], step], matrixGrid.workgroups, {
        u32: [n, matrixGrid.row, i * n], f32: [momentum, lrScale],
      });
    });
    const result = newtonSchulz(r, scratch, group.length, nsSteps);
    group.forEach((m, i) => {
      r.dispatch(applyKernel, [m.param, result, step], matrixGrid.workgroups, {
        u32: [n, matrixGrid.row, i * n], f32: [momentum, lrScale],
      });
    });
  }
}

/**
 * Orthogonalises the first `count` matrices of scratch.update[0], ping-ponging between the two
 * update buffers; returns the one that holds the result.
 */
function newtonSchulz(r: Recorder, s: MuonScratch, count: number, steps: number): Tensor {
  const { rows, cols } = s;
  const n = rows * cols;
  const tall = rows > cols;
  const order = Math.min(rows, cols);
  const [a, b, c] = NS_COEFFS;
  const nsKernel = (entry: string) => r.gpu.kernel({ file: "newton-schulz.wgsl", entry });

  // X /= ‖X‖_F + 1e-7, per matrix.
  r.dispatch(reduceKernel(r.gpu, "sum_squares_partials"), [s.update[0], s.partials], [chunks(n), count], { u32: [n, 0, 0] });
  r.dispatch(reduceKernel(r.gpu, "inv_frobenius_finalize"), [s.partials, s.invNorm], count, { u32: [chunks(n), 0, 0] });
  const all = grid1d(count * n, 256);
  r.dispatch(nsKernel("ns_normalize"), [s.update[0], s.invNorm], all.workgroups, { u32: [count * n, all.row, n], f32: [a, b, c] });

  const gramGrid = grid1d(count * order * order, 256);
  const batched = (strideA: number, strideB: number, strideC: number) => ({ batch: count, strideA, strideB, strideC });
  const { gram, gramSq, poly } = s;
  let [x, next] = s.update;
  for (let i = 0; i < steps; i++) {
    // A = X·Xᵀ (wide) or YᵀY (tall): [order, order], inner dimension max(rows, cols).
    matmul(r, { a: x, b: x, out: gram, transA: tall, transB: !tall, ...batched(n, n, order * order) });
    matmul(r, { a: gram, b: gram, out: gramSq, ...batched(order * order, order * order, order * order) });
    r.dispatch(nsKernel("ns_poly"), [s.gram, s.gramSq, s.poly], gramGrid.workgroups, { u32: [count * order * order, gramGrid.row, order], f32: [a, b, c] });
    if (tall) matmul(r, { a: x, b: poly, out: next, transB: true, ...batched(n, order * order, n) });
    else matmul(r, { a: poly, b: x, out: next, ...batched(order * order, n, n) });
    [x, next] = [next, x];
  }
  return x;
}
