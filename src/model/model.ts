/**
 * The iFlame network on the GPU for training: forward, loss and backward for a fixed batch shape
 * [B, L]. Every activation the backward needs is kept in buffers allocated once; a training step
 * allocates nothing. Parameters and gradients are named as the reference's state dict
 * (model/params.ts) and resolved once into typed records; the wiring is model/hourglass.ts's,
 * every block model/block.ts's. With `precision: "f16"` the products read f16 copies of the Linear
 * weights and of their input activations (model/precision.ts); call castWeights after every change
 * of the parameters (setParams does it itself).
 */
import type { Gpu, Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { crossEntropy, crossEntropyScratchSize } from "../kernels/cross-entropy.ts";
import { embeddingScratchSize } from "../kernels/embedding.ts";
import { upsampleScratchSize } from "../kernels/hourglass.ts";
import { linearAttentionScratch } from "../kernels/linear-attention.ts";
import { cast } from "../kernels/cast.ts";
import { linearBackward, linearForward } from "../kernels/matmul.ts";
import { rmsnormScratchSize } from "../kernels/rmsnorm.ts";
import { ropeTables } from "../kernels/rope.ts";
import { blockBackward, blockForward, halfScratch, type BackwardScratch, type BlockActivations, type BlockShape } from "./block.ts";
import { HEAD_DIM, hiddenDim, type IFlameConfig } from "./config.ts";
import { hourglassBackward, hourglassForward, type HourglassGradients, type HourglassStreams } from "./hourglass.ts";
import { LEVELS, levelLengths } from "./levels.ts";
import { initParams, paramSpecs, resolveWeights, type BlockWeights, type ModelWeights } from "./params.ts";
import { computeWeights, HalfWeights, type Precision } from "./precision.ts";

/**
 * A stretch of the backward that can be submitted on its own, and the gradients that are final
 * once it has run: data-parallel training starts summing those while the GPU runs the next.
 */
export interface BackwardSegment {
  name: string;
  grads: Tensor[];
}

/** Options of IFlameModel.backward. */
export interface BackwardHooks {
  /** Called in recording order after each of `backwardSegments`, by index; free when absent. */
  afterSegment?: (segment: number) => void;
}

interface ModelBlock {
  weights: BlockWeights<Tensor>;
  grads: BlockWeights<Tensor>;
  act: BlockActivations;
}

interface Level {
  shape: BlockShape;
  blocks: ModelBlock[];
  /** Shared by the level's blocks; its dx is the level's gradient stream. */
  scratch: BackwardScratch;
  /** Blocks keep only their inputs; backward re-runs each block's forward first. */
  recompute: boolean;
}

export interface ModelOptions {
  /** "f16": mixed precision (model/precision.ts); default "f32". */
  precision?: Precision;
}

export class IFlameModel {
  readonly precision: Precision;
  readonly params = new Map<string, Tensor>();
  /** f16 models: the f16 copies of the Linear weights the products read. */
  private readonly half: HalfWeights | null;
  /** f16 models: dec1's output in f16, the output projection's input. */
  private readonly outputHalf: Tensor | null;
  /**
   * f16 models: the f16 copy of each block product's dy in the backward (block.ts
   * productGradient), one flat tensor for every level, sized for the largest: a level-0
   * feed-forward gradient.
   */
  private readonly dyHalf: Tensor | null;
  readonly grads = new Map<string, Tensor>();
  /** The backward's segments in the order it runs them: the levels from dec1 down, then the stem. */
  readonly backwardSegments: readonly BackwardSegment[];
  private readonly weights: ModelWeights<Tensor>;
  private readonly gradWeights: ModelWeights<Tensor>;
  private readonly levels: Level[];
  private readonly streams: HourglassStreams;
  private readonly gradients: HourglassGradients;
  readonly logits: Tensor;
  readonly dlogits: Tensor;
  /** Cross-entropy totals: [loss sum, non-pad targets, correct argmax, 0]. */
  readonly lossStats: Tensor;
  /** The factor of dlogits: 1 / (non-pad targets of the whole optimizer step). */
  private readonly lossScale: Tensor;
  private readonly lossScratch: Tensor;

  constructor(
    readonly gpu: Gpu,
    readonly config: IFlameConfig,
    readonly B: number,
    readonly L: number,
    o: ModelOptions = {},
  ) {
    if (L % 9 !== 0) throw new Error(`sequence length ${L} must be a multiple of 9 (the hourglass pools by 3 twice)`);
    const { dim: D, vocab: V } = config;
    for (const spec of paramSpecs(config)) {
      this.params.set(spec.name, gpu.tensor(spec.shape, "f32", spec.name));
      this.grads.set(spec.name, gpu.tensor(spec.shape, "f32", `grad ${spec.name}`));
    }
    this.precision = o.precision ?? "f32";
    this.half = this.precision === "f16" ? new HalfWeights(gpu, this.params, config) : null;
    this.weights = computeWeights(config, this.params, this.half, "model");
    this.dyHalf = this.half ? gpu.tensor([B * L * Math.max(hiddenDim(config), D)], "f16", "f16 dy") : null;
    this.gradWeights = resolveWeights(config, (name) => this.grads.get(name)!);
    this.backwardSegments = backwardSegments(this.gradWeights);
    const rope = ropeTables(gpu, L, HEAD_DIM);
    const lengths = levelLengths(L);
    this.levels = this.weights.levels.map((blocks, i) => {
      const shape = { B, L: lengths[i], H: config.heads, rope };
      return this.allocateLevel(LEVELS[i], blocks, this.gradWeights.levels[i], shape, D, config.recompute.includes(i));
    });
    const n = B * L;
    this.streams = {
      tokens: gpu.tensor([B, L], "i32", "tokens"),
      embedded: gpu.tensor([n, D], "f32", "embedded"),
      rstd: gpu.tensor([n], "f32", "rstd0"),
      inputs: this.levels.map((lv) => lv.blocks[0].act.x),
      outputs: this.levels.map((lv) => lv.blocks.at(-1)!.act.out),
    };
    this.gradients = {
      levels: this.levels.map((lv) => lv.scratch.dx),
      dEmbedded: gpu.tensor([n, D], "f32", "dEmbedded"),
      upsampleScratch: gpu.tensor([upsampleScratchSize(B, L / 3, D)], "f32", "upsample scratch"),
      embeddingScratch: gpu.tensor([embeddingScratchSize(n, V, D)], "f32", "embedding scratch"),
      normScratch: this.levels[0].scratch.norm,
    };
    this.outputHalf = this.half ? gpu.tensor([n, D], "f16", "output projection input f16") : null;
    this.logits = gpu.tensor([n, V], "f32", "logits");
    this.dlogits = gpu.tensor([n, V], "f32", "dlogits");
    this.lossStats = gpu.tensor([4], "f32", "loss stats");
    this.lossScale = gpu.tensor([1], "f32", "loss scale");
    this.lossScratch = gpu.tensor([crossEntropyScratchSize(B, L)], "f32", "loss scratch");
  }

  /**
   * A level's buffers. Each block keeps its input and output; the intermediates it needs for
   * backward are its own, or — for a recomputed level — one set shared by all its blocks.
   */
  private allocateLevel(name: string, weights: BlockWeights<Tensor>[], grads: BlockWeights<Tensor>[], shape: BlockShape, D: number, recompute: boolean): Level {
    const { gpu } = this;
    const { B, L, H } = shape;
    const rows = B * L, hidden = hiddenDim(this.config);
    const t = (dims: number[], label: string) => gpu.tensor(dims, "f32", label);
    const operand = (dims: number[], label: string) => gpu.tensor(dims, this.precision, label);
    const intermediates = (p: string, full: boolean, linear: boolean) => ({
      h1: operand([rows, D], `${p} h1`),
      rstd1: t([rows], `${p} rstd1`),
      q: t([rows, D], `${p} q`),
      k: t([rows, D], `${p} k`),
      v: t([rows, D], `${p} v`),
      att: t([rows, D], `${p} att`),
      lse: full ? t([B, H, L], `${p} lse`) : null,
      attNorm: linear ? t([rows, D], `${p} attNorm`) : null,
      rstdAtt: linear ? t([rows], `${p} rstdAtt`) : null,
      attHalf: this.half ? operand([rows, D], `${p} attHalf`) : null,
      x1: t([rows, D], `${p} x1`),
      h2: operand([rows, D], `${p} h2`),
      rstd2: t([rows], `${p} rstd2`),
      p1: t([rows, hidden], `${p} p1`),
      p2: t([rows, hidden], `${p} p2`),
    });
    const anyFull = weights.some((w) => !w.headNorm), anyLinear = weights.some((w) => w.headNorm);
    const shared = recompute ? intermediates(`${name} recomputed`, anyFull, anyLinear) : null;
    let input = t([rows, D], `${name} input`);
    const blocks = weights.map((w, i): ModelBlock => {
      const p = w.spec.prefix;
      const act = { x: input, ...(shared ?? intermediates(p, !w.headNorm, !!w.headNorm)), out: t([rows, D], `${p} out`) };
      input = act.out;
      return { weights: w, grads: grads[i], act };
    });
    const scratch: BackwardScratch = {
      dx: t([rows, D], "dx"),
      dTmp: t([rows, D], "dTmp"),
      dh: t([rows, D], "dh"),
      raw: t([rows, D], "raw"),
      dq: t([rows, D], "dq"),
      dk: t([rows, D], "dk"),
      dv: t([rows, D], "dv"),
      datt: t([rows, D], "datt"),
      g: t([rows, hidden], "g"),
      dg: t([rows, hidden], "dg"),
      dp1: t([rows, hidden], "dp1"),
      dp2: t([rows, hidden], "dp2"),
      norm: t([rmsnormScratchSize(rows, D)], "rmsnorm scratch"),
      delta: t([B, H, L], "delta"),
      linear: anyLinear ? linearAttentionScratch(gpu, { B, L, H }) : null,
      half: this.half ? halfScratch(gpu, rows, D, hidden, name) : null,
      dyHalf: this.dyHalf,
    };
    return { shape, blocks, scratch, recompute };
  }

  // -- parameters -------------------------------------------------------------------------

  /** Uploads parameters by state-dict name; every parameter must be given with its shape. */
  setParams(values: Record<string, Float32Array>): void {
    for (const [name, t] of this.params) {
      const v = values[name];
      if (!v) throw new Error(`missing parameter ${name}`);
      if (v.length !== t.size) throw new Error(`parameter ${name}: expected ${t.size} values [${t.shape}], got ${v.length}`);
      this.gpu.write(t, v);
    }
    this.gpu.record((r) => this.castWeights(r));
    const extra = Object.keys(values).filter((k) => !this.params.has(k));
    if (extra.length) throw new Error(`unexpected parameters: ${extra.slice(0, 5).join(", ")}${extra.length > 5 ? ", …" : ""}`);
  }

  initParams(seed: number): void {
    this.setParams(initParams(this.config, seed));
  }

  readParams(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const [name, t] of this.params) out[name] = this.gpu.read(t) as Float32Array;
    return out;
  }

  readGrads(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const [name, t] of this.grads) out[name] = this.gpu.read(t) as Float32Array;
    return out;
  }

  /** Records the f16 weight copies from the f32 masters (f16 models; nothing at f32). */
  castWeights(r: Recorder): void {
    this.half?.record(r);
  }

  /** Sets every gradient to zero (before the first micro-batch of a step). */
  zeroGrads(r: Recorder): void {
    for (const g of this.grads.values()) r.clear(g);
  }

  // -- forward and loss ------------------------------------------------------------------------

  /** Uploads a [B, L] int32 token batch. */
  setTokens(tokens: Int32Array): void {
    if (tokens.length !== this.B * this.L) throw new Error(`token batch of ${tokens.length} does not match [${this.B}, ${this.L}]`);
    this.gpu.write(this.streams.tokens, tokens);
  }

  /** Records the forward pass; logits land in `this.logits` [B·L, V]. */
  forward(r: Recorder): void {
    const w = this.weights;
    hourglassForward(r, w, this.streams, this.B, (level) => {
      const lv = this.levels[level];
      for (const b of lv.blocks) blockForward(r, b.weights, b.act, lv.scratch, lv.shape);
    });
    if (this.outputHalf) cast(r, { src: this.streams.outputs[4], dst: this.outputHalf });
    linearForward(r, { x: this.outputHalf ?? this.streams.outputs[4], weight: w.outputWeight, bias: w.outputBias, y: this.logits, label: "output" });
  }

  /** Sets the factor of dlogits (1 / the step's non-pad target count); takes effect for work recorded after. */
  setLossScale(scale: number): void {
    this.gpu.write(this.lossScale, Float32Array.of(scale));
  }

  /**
   * Records the cross-entropy of `this.logits` against the tokens (SPEC §3) and its gradient
   * into `this.dlogits`; the totals go to lossStats (added to them with `accumulate`).
   */
  loss(r: Recorder, accumulate = false): void {
    crossEntropy(r, {
      logits: this.logits, tokens: this.streams.tokens, scale: this.lossScale, dlogits: this.dlogits, stats: this.lossStats, scratch: this.lossScratch, accumulate,
    });
  }

  /** Records forward, loss and backward for the current tokens (gradients add up). */
  forwardBackward(r: Recorder, accumulateLoss = false): void {
    this.forward(r);
    this.loss(r, accumulateLoss);
    this.backward(r);
  }

  // -- backward ---------------------------------------------------------------------------------

  /**
   * Records the backward pass from `this.dlogits`, adding into the gradients (call zeroGrads
   * before the first micro-batch of a step). `afterSegment` marks the ends of backwardSegments.
   */
  backward(r: Recorder, { afterSegment }: BackwardHooks = {}): void {
    const w = this.weights, g = this.gradWeights;
    // dx, d(dec1 output), stays f32: it is the residual stream's gradient. dlogits stays f32 too
    // (unlike the blocks' dy): rounded to f16, its small probability terms fall into f16's
    // subnormals, and over 200 tiny-config steps that alone widened the f16/f32 loss gap from
    // 0.82% to 2.34% at the worst step (docs/MIXED-PRECISION.md). The output projection is the
    // smallest product of the model (N = vocab), so its f32·f16 kernel costs little.
    linearBackward(r, {
      x: this.outputHalf ?? this.streams.outputs[4], weight: w.outputWeight, dy: this.dlogits, dx: this.gradients.levels[4],
      dweight: g.outputWeight, dbias: g.outputBias, accumulate: true, label: "output",
    });
    hourglassBackward(r, w, g, this.streams, this.gradients, this.B, (level) => {
      const lv = this.levels[level];
      for (let i = lv.blocks.length - 1; i >= 0; i--) {
        const b = lv.blocks[i];
        // Re-running the forward rewrites the block's output with the same values (the kernels
        // are deterministic), so later readers of it are unaffected.
        if (lv.recompute) blockForward(r, b.weights, b.act, lv.scratch, lv.shape);
        blockBackward(r, b.weights, b.grads, b.act, lv.scratch, lv.shape);
      }
      afterSegment?.(LEVELS.length - 1 - level);
    });
    afterSegment?.(LEVELS.length);
  }
}

/**
 * The gradients grouped by the backward segment after which they are final, following the order
 * of IFlameModel.backward and hourglassBackward: the output projection runs before dec1;
 * skip_weights2 takes its last term from the join recorded just before the bottleneck's blocks;
 * norm and embedding come last.
 */
function backwardSegments(g: ModelWeights<Tensor>): BackwardSegment[] {
  const level = (i: number) => ({
    name: LEVELS[i],
    grads: g.levels[i].flatMap((b) => Object.entries(b).filter(([key, t]) => key !== "spec" && t !== null).map(([, t]) => t as Tensor)),
  });
  const [enc0, enc1, bottleneck, dec0, dec1] = LEVELS.map((_, i) => level(i));
  return [
    { name: dec1.name, grads: [g.outputWeight, g.outputBias, ...dec1.grads] },
    dec0,
    { name: bottleneck.name, grads: [g.skipWeights, ...bottleneck.grads] },
    enc1,
    enc0,
    { name: "stem", grads: [g.norm, g.embedding] },
  ];
}
