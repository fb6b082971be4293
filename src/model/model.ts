/**
 * The iFlame hourglass on the GPU (SPEC §2), forward and backward, for a fixed batch shape
 * [B, L]. Every activation the backward needs is kept in buffers allocated once; a training
 * step allocates nothing. Parameters and gradients are named as the reference's state dict.
 *
 *   x = RMSNorm(Embedding(tokens))
 *   enc0 @ L;   skip0 = x;  x = avgpool3(x)
 *   enc1 @ L/3; skip1 = x;  x = avgpool3(x)
 *   bottleneck @ L/9
 *   x = w[0]·shift2(upsample3(x)) + skip1;  dec0 @ L/3
 *   x = w[1]·shift2(upsample3(x)) + skip0;  dec1 @ L
 *   logits = output_proj(x)
 * Every block: x = x + Attn(norm1(x)); x = x + SwiGLU(norm2(x)).
 */
import type { Gpu, Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { attentionBackward, attentionForward, type AttentionShape } from "../kernels/attention.ts";
import { crossEntropy, crossEntropyScratchSize } from "../kernels/cross-entropy.ts";
import { addInto } from "../kernels/elementwise.ts";
import { embeddingBackward, embeddingForward, embeddingScratchSize } from "../kernels/embedding.ts";
import { avgPool3Backward, avgPool3Forward, upsampleScratchSize, upsampleShiftAddBackward, upsampleShiftAddForward } from "../kernels/hourglass.ts";
import {
  linearAttentionBackward, linearAttentionForward, linearAttentionScratch, type LinearAttentionScratch, type LinearAttentionShape,
} from "../kernels/linear-attention.ts";
import { linearBackward, linearForward } from "../kernels/matmul.ts";
import { rmsnormBackward, rmsnormForward, rmsnormScratchSize } from "../kernels/rmsnorm.ts";
import { ropeBackward, ropeForward, ropeTables, type RopeTables } from "../kernels/rope.ts";
import { swigluBackward, swigluForward } from "../kernels/swiglu.ts";
import { HEAD_DIM, hiddenDim, type ModelConfig } from "./config.ts";
import { blockSpecs, initParams, paramSpecs, type BlockSpec } from "./params.ts";

/** What one block keeps from its forward for its backward. */
interface BlockActivations {
  spec: BlockSpec;
  /** The block's input (the previous block's output). */
  x: Tensor;
  h1: Tensor;
  rstd1: Tensor;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** Attention output (linear blocks: before their RMSNorm). */
  att: Tensor;
  /** Full attention: log-sum-exp rows; linear: unused. */
  lse: Tensor | null;
  /** Linear attention: RMSNorm of att, and its rstd. */
  attNorm: Tensor | null;
  rstdAtt: Tensor | null;
  x1: Tensor;
  h2: Tensor;
  rstd2: Tensor;
  p1: Tensor;
  p2: Tensor;
  /** The block's output. */
  out: Tensor;
}

/** Scratch shared by every block of one level during backward. */
interface LevelScratch {
  /** The gradient flowing down the residual stream (updated in place block by block). */
  dx: Tensor;
  dTmp: Tensor;
  dh: Tensor;
  /** Projection output before RoPE (forward), or a gradient moved back through RoPE (backward). */
  raw: Tensor;
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
  datt: Tensor;
  g: Tensor;
  dg: Tensor;
  dp1: Tensor;
  dp2: Tensor;
  norm: Tensor;
  delta: Tensor;
  linear: LinearAttentionScratch | null;
}

interface Level {
  L: number;
  rows: number;
  blocks: BlockActivations[];
  scratch: LevelScratch;
  /** Blocks keep only their inputs; backward re-runs each block's forward first. */
  recompute: boolean;
}

export class IFlameModel {
  readonly network: ModelConfig & { hidden: number };
  readonly params = new Map<string, Tensor>();
  readonly grads = new Map<string, Tensor>();
  private readonly levels: Level[];
  private readonly rope: RopeTables;
  private readonly tokens: Tensor;
  private readonly embedded: Tensor;
  private readonly rstd0: Tensor;
  private readonly upsampleScratch: Tensor;
  readonly logits: Tensor;
  readonly dlogits: Tensor;
  /** Cross-entropy totals: [loss sum, non-pad targets, correct argmax, 0]. */
  readonly lossStats: Tensor;
  /** The factor of dlogits: 1 / (non-pad targets of the whole optimizer step). */
  private readonly lossScale: Tensor;
  private readonly lossScratch: Tensor;
  private readonly dEmbedded: Tensor;
  private readonly embeddingScratch: Tensor;

  constructor(
    readonly gpu: Gpu,
    readonly config: ModelConfig,
    readonly B: number,
    readonly L: number,
  ) {
    if (L % 9 !== 0) throw new Error(`sequence length ${L} must be a multiple of 9 (the hourglass pools by 3 twice)`);
    this.network = { ...config, hidden: hiddenDim(config) };
    const { dim: D, vocab: V } = this.network;
    for (const spec of paramSpecs(this.network)) {
      this.params.set(spec.name, gpu.tensor(spec.shape, "f32", spec.name));
      this.grads.set(spec.name, gpu.tensor(spec.shape, "f32", `grad ${spec.name}`));
    }
    const specs = blockSpecs(this.network);
    const lengths = [L, L / 3, L / 9, L / 3, L];
    this.levels = specs.map((blocks, i) => this.allocateLevel(blocks, lengths[i], config.recompute.includes(i)));
    this.rope = ropeTables(gpu, L, HEAD_DIM);
    const n = B * L;
    this.tokens = gpu.tensor([B, L], "i32", "tokens");
    this.embedded = gpu.tensor([n, D], "f32", "embedded");
    this.rstd0 = gpu.tensor([n], "f32", "rstd0");
    this.upsampleScratch = gpu.tensor([upsampleScratchSize(B, L / 3, D)], "f32", "upsample scratch");
    this.logits = gpu.tensor([n, V], "f32", "logits");
    this.dlogits = gpu.tensor([n, V], "f32", "dlogits");
    this.lossStats = gpu.tensor([4], "f32", "loss stats");
    this.lossScale = gpu.tensor([1], "f32", "loss scale");
    this.lossScratch = gpu.tensor([crossEntropyScratchSize(B, L)], "f32", "loss scratch");
    this.dEmbedded = gpu.tensor([n, D], "f32", "dEmbedded");
    this.embeddingScratch = gpu.tensor([embeddingScratchSize(n, V, D)], "f32", "embedding scratch");
  }

  /**
   * A level's buffers. Each block keeps its input and output; the intermediates it needs for
   * backward are its own, or — for a recomputed level — one set shared by all its blocks.
   */
  private allocateLevel(specs: BlockSpec[], L: number, recompute: boolean): Level {
    const { gpu, B } = this;
    const { dim: D, hidden: Hd, heads: H } = this.network;
    const rows = B * L;
    const t = (shape: number[], label: string) => gpu.tensor(shape, "f32", label);
    const intermediates = (p: string, full: boolean, linear: boolean) => ({
      h1: t([rows, D], `${p} h1`),
      rstd1: t([rows], `${p} rstd1`),
      q: t([rows, D], `${p} q`),
      k: t([rows, D], `${p} k`),
      v: t([rows, D], `${p} v`),
      att: t([rows, D], `${p} att`),
      lse: full ? t([B, H, L], `${p} lse`) : null,
      attNorm: linear ? t([rows, D], `${p} attNorm`) : null,
      rstdAtt: linear ? t([rows], `${p} rstdAtt`) : null,
      x1: t([rows, D], `${p} x1`),
      h2: t([rows, D], `${p} h2`),
      rstd2: t([rows], `${p} rstd2`),
      p1: t([rows, Hd], `${p} p1`),
      p2: t([rows, Hd], `${p} p2`),
    });
    const shared = recompute ? intermediates(`L${L} recomputed`, specs.some((b) => b.full), specs.some((b) => !b.full)) : null;
    let input = t([rows, D], `L${L} input`);
    const blocks = specs.map((spec): BlockActivations => {
      const a: BlockActivations = {
        spec,
        x: input,
        ...(shared ?? intermediates(spec.prefix, spec.full, !spec.full)),
        out: t([rows, D], `${spec.prefix} out`),
      };
      input = a.out;
      return a;
    });
    const anyLinear = specs.some((s) => !s.full);
    const scratch: LevelScratch = {
      dx: t([rows, D], "dx"),
      dTmp: t([rows, D], "dTmp"),
      dh: t([rows, D], "dh"),
      raw: t([rows, D], "raw"),
      dq: t([rows, D], "dq"),
      dk: t([rows, D], "dk"),
      dv: t([rows, D], "dv"),
      datt: t([rows, D], "datt"),
      g: t([rows, Hd], "g"),
      dg: t([rows, Hd], "dg"),
      dp1: t([rows, Hd], "dp1"),
      dp2: t([rows, Hd], "dp2"),
      norm: t([rmsnormScratchSize(rows, D)], "rmsnorm scratch"),
      delta: t([B, H, L], "delta"),
      linear: anyLinear ? linearAttentionScratch(gpu, { B, L, H }) : null,
    };
    return { L, rows, blocks, scratch, recompute };
  }

  /** Level input tensor (the first block's input). */
  private input(level: number): Tensor {
    return this.levels[level].blocks[0].x;
  }

  private output(level: number): Tensor {
    const blocks = this.levels[level].blocks;
    return blocks[blocks.length - 1].out;
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
    const extra = Object.keys(values).filter((k) => !this.params.has(k));
    if (extra.length) throw new Error(`unexpected parameters: ${extra.slice(0, 5).join(", ")}${extra.length > 5 ? ", …" : ""}`);
  }

  initParams(seed: number): void {
    this.setParams(initParams(this.network, seed));
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

  /** Sets every gradient to zero (before the first micro-batch of a step). */
  zeroGrads(r: Recorder): void {
    for (const g of this.grads.values()) r.clear(g);
  }

  private p(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) throw new Error(`no parameter ${name}`);
    return t;
  }

  private g(name: string): Tensor {
    return this.grads.get(name)!;
  }

  // -- forward ----------------------------------------------------------------------------------

  /** Uploads a [B, L] int32 token batch. */
  setTokens(tokens: Int32Array): void {
    if (tokens.length !== this.B * this.L) throw new Error(`token batch of ${tokens.length} does not match [${this.B}, ${this.L}]`);
    this.gpu.write(this.tokens, tokens);
  }

  /** Records the forward pass; logits land in `this.logits` [B·L, V]. */
  forward(r: Recorder): void {
    const { B, L } = this;
    const { dim: D, vocab: V } = this.network;
    const n = B * L;
    r.label = "embedding";
    embeddingForward(r, this.tokens, this.p("embedding.weight"), this.embedded, n, D);
    rmsnormForward(r, this.embedded, this.p("norm.weight"), this.input(0), this.rstd0, n, D);
    this.levelForward(r, 0);
    r.label = "hourglass";
    avgPool3Forward(r, this.output(0), this.input(1), B, L, D);
    this.levelForward(r, 1);
    r.label = "hourglass";
    avgPool3Forward(r, this.output(1), this.input(2), B, L / 3, D);
    this.levelForward(r, 2);
    r.label = "hourglass";
    upsampleShiftAddForward(r, this.output(2), this.output(1), this.p("skip_weights2"), 0, this.input(3), B, L / 9, D);
    this.levelForward(r, 3);
    r.label = "hourglass";
    upsampleShiftAddForward(r, this.output(3), this.output(0), this.p("skip_weights2"), 1, this.input(4), B, L / 3, D);
    this.levelForward(r, 4);
    r.label = "output";
    linearForward(r, this.output(4), this.p("output_proj.weight"), this.p("output_proj.bias"), this.logits, n, D, V);
  }

  private levelForward(r: Recorder, level: number): void {
    const lv = this.levels[level];
    for (const a of lv.blocks) this.blockForward(r, a, lv);
  }

  private blockForward(r: Recorder, a: BlockActivations, lv: Level): void {
    const { B } = this;
    const { dim: D, hidden: Hd, heads: H } = this.network;
    const { rows, L } = lv;
    const p = (s: string) => this.p(`${a.spec.prefix}.${s}`);
    r.label = "rmsnorm";
    rmsnormForward(r, a.x, p("norm1.weight"), a.h1, a.rstd1, rows, D);
    r.label = "matmul";
    linearForward(r, a.h1, p("attn.v_proj.weight"), undefined, a.v, rows, D, D);
    for (const [proj, rotated] of [["q", a.q], ["k", a.k]] as const) {
      r.label = "matmul";
      linearForward(r, a.h1, p(`attn.${proj}_proj.weight`), undefined, lv.scratch.raw, rows, D, D);
      r.label = "rope";
      ropeForward(r, lv.scratch.raw, rotated, B, L, H, this.rope);
    }
    let attOut: Tensor;
    if (a.spec.full) {
      r.label = "attention";
      attentionForward(r, a.q, a.k, a.v, a.att, a.lse!, this.attentionShape(L));
      attOut = a.att;
    } else {
      r.label = "linear attention";
      linearAttentionForward(r, a.q, a.k, a.v, a.att, lv.scratch.linear!, this.linearShape(L));
      r.label = "rmsnorm";
      rmsnormForward(r, a.att, p("attn.rms_norm.weight"), a.attNorm!, a.rstdAtt!, rows, D);
      attOut = a.attNorm!;
    }
    // x1 = x + attOut·Woᵀ: copy the residual, then let the matmul accumulate into it.
    r.copy(a.x, a.x1);
    r.label = "matmul";
    linearForward(r, attOut, p("attn.out_proj.weight"), undefined, a.x1, rows, D, D, true);
    r.label = "rmsnorm";
    rmsnormForward(r, a.x1, p("norm2.weight"), a.h2, a.rstd2, rows, D);
    r.label = "matmul";
    linearForward(r, a.h2, p("feed_forward.proj1.weight"), p("feed_forward.proj1.bias"), a.p1, rows, D, Hd);
    linearForward(r, a.h2, p("feed_forward.proj2.weight"), p("feed_forward.proj2.bias"), a.p2, rows, D, Hd);
    r.label = "swiglu";
    swigluForward(r, a.p1, a.p2, lv.scratch.g, rows * Hd);
    r.copy(a.x1, a.out);
    r.label = "matmul";
    linearForward(r, lv.scratch.g, p("feed_forward.proj3.weight"), p("feed_forward.proj3.bias"), a.out, rows, Hd, D, true);
  }

  private attentionShape(L: number): AttentionShape {
    return { B: this.B, H: this.network.heads, Lq: L, Lk: L, qOffset: 0 };
  }

  private linearShape(L: number): LinearAttentionShape {
    return { B: this.B, L, H: this.network.heads };
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
    r.label = "cross-entropy";
    const { B, L } = this;
    crossEntropy(r, this.logits, this.tokens, this.lossScale, this.dlogits, this.lossStats, this.lossScratch, B, L, this.network.vocab, accumulate);
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
   * before the first micro-batch of a step).
   */
  backward(r: Recorder): void {
    const { B, L } = this;
    const { dim: D, vocab: V } = this.network;
    const n = B * L;
    const s4 = this.levels[4].scratch;
    r.label = "output";
    linearBackward(r, this.output(4), this.p("output_proj.weight"), this.dlogits, s4.dx, this.g("output_proj.weight"), this.g("output_proj.bias"), n, D, V, true);
    // dec1 → d(dec1 input) in s4.dx
    this.levelBackward(r, 4);
    // dec1 input = w1·shift2(up(dec0 out)) + enc0 out: the skip's gradient is dout itself.
    const [s0, s1, s2, s3] = this.levels.map((l) => l.scratch);
    const w = this.p("skip_weights2");
    const dw = this.g("skip_weights2");
    r.label = "hourglass";
    upsampleShiftAddBackward(r, s4.dx, this.output(3), w, 1, s3.dx, dw, this.upsampleScratch, B, L / 3, D, true);
    r.copy(s4.dx, s0.dx);
    this.levelBackward(r, 3);
    r.label = "hourglass";
    upsampleShiftAddBackward(r, s3.dx, this.output(2), w, 0, s2.dx, dw, this.upsampleScratch, B, L / 9, D, true);
    r.copy(s3.dx, s1.dx);
    this.levelBackward(r, 2);
    // bottleneck input = avgpool3(enc1 out), enc1 input = avgpool3(enc0 out)
    r.label = "hourglass";
    avgPool3Backward(r, s2.dx, s1.dx, B, L / 3, D, true);
    this.levelBackward(r, 1);
    r.label = "hourglass";
    avgPool3Backward(r, s1.dx, s0.dx, B, L, D, true);
    this.levelBackward(r, 0);
    r.label = "rmsnorm";
    rmsnormBackward(r, this.embedded, this.p("norm.weight"), this.rstd0, s0.dx, this.dEmbedded, this.g("norm.weight"), s0.norm, n, D, true);
    r.label = "embedding";
    embeddingBackward(r, this.tokens, this.dEmbedded, this.g("embedding.weight"), this.embeddingScratch, n, V, D, true);
  }

  /** On entry scratch.dx holds d(level output); on exit d(level input). */
  private levelBackward(r: Recorder, level: number): void {
    const lv = this.levels[level];
    for (let i = lv.blocks.length - 1; i >= 0; i--) {
      // Re-running the forward rewrites the block's output with the same values (the kernels
      // are deterministic), so later readers of it are unaffected.
      if (lv.recompute) this.blockForward(r, lv.blocks[i], lv);
      this.blockBackward(r, lv.blocks[i], lv);
    }
  }

  private blockBackward(r: Recorder, a: BlockActivations, lv: Level): void {
    const { B } = this;
    const { dim: D, hidden: Hd, heads: H } = this.network;
    const { rows, L } = lv;
    const s = lv.scratch;
    const name = (x: string) => `${a.spec.prefix}.${x}`;
    const p = (x: string) => this.p(name(x));
    const g = (x: string) => this.g(name(x));

    // out = x1 + proj3(silu(p1)·p2): the residual passes dx through unchanged.
    r.label = "swiglu";
    swigluForward(r, a.p1, a.p2, s.g, rows * Hd); // recompute g rather than keep it
    r.label = "matmul";
    linearBackward(r, s.g, p("feed_forward.proj3.weight"), s.dx, s.dg, g("feed_forward.proj3.weight"), g("feed_forward.proj3.bias"), rows, Hd, D, true);
    r.label = "swiglu";
    swigluBackward(r, a.p1, a.p2, s.dg, s.dp1, s.dp2, rows * Hd);
    r.label = "matmul";
    linearBackward(r, a.h2, p("feed_forward.proj1.weight"), s.dp1, s.dh, g("feed_forward.proj1.weight"), g("feed_forward.proj1.bias"), rows, D, Hd, true);
    linearBackward(r, a.h2, p("feed_forward.proj2.weight"), s.dp2, s.dTmp, g("feed_forward.proj2.weight"), g("feed_forward.proj2.bias"), rows, D, Hd, true);
    addInto(r, s.dh, s.dTmp, rows * D);
    r.label = "rmsnorm";
    // dx += norm2's backward: now d(x1).
    rmsnormBackward(r, a.x1, p("norm2.weight"), a.rstd2, s.dh, s.dx, g("norm2.weight"), s.norm, rows, D, true, true);

    // x1 = x + out_proj(att'): d(x) = d(x1) + norm1's backward.
    const attOut = a.spec.full ? a.att : a.attNorm!;
    r.label = "matmul";
    linearBackward(r, attOut, p("attn.out_proj.weight"), s.dx, s.datt, g("attn.out_proj.weight"), undefined, rows, D, D, true);
    if (a.spec.full) {
      r.label = "attention";
      attentionBackward(r, a.q, a.k, a.v, a.att, a.lse!, s.datt, s.dq, s.dk, s.dv, { delta: s.delta }, this.attentionShape(L));
    } else {
      r.label = "rmsnorm";
      rmsnormBackward(r, a.att, p("attn.rms_norm.weight"), a.rstdAtt!, s.datt, s.dTmp, g("attn.rms_norm.weight"), s.norm, rows, D, true);
      r.label = "linear attention";
      linearAttentionBackward(r, a.q, a.k, a.v, s.dTmp, s.dq, s.dk, s.dv, s.linear!, this.linearShape(L));
    }
    // q and k were rotated after projection: take their gradients back through RoPE first.
    r.label = "rope";
    ropeBackward(r, s.dq, s.raw, B, L, H, this.rope);
    r.label = "matmul";
    linearBackward(r, a.h1, p("attn.q_proj.weight"), s.raw, s.dh, g("attn.q_proj.weight"), undefined, rows, D, D, true);
    r.label = "rope";
    ropeBackward(r, s.dk, s.raw, B, L, H, this.rope);
    r.label = "matmul";
    linearBackward(r, a.h1, p("attn.k_proj.weight"), s.raw, s.dTmp, g("attn.k_proj.weight"), undefined, rows, D, D, true);
    addInto(r, s.dh, s.dTmp, rows * D);
    linearBackward(r, a.h1, p("attn.v_proj.weight"), s.dv, s.dTmp, g("attn.v_proj.weight"), undefined, rows, D, D, true);
    addInto(r, s.dh, s.dTmp, rows * D);
    r.label = "rmsnorm";
    rmsnormBackward(r, a.x, p("norm1.weight"), a.rstd1, s.dh, s.dx, g("norm1.weight"), s.norm, rows, D, true, true);
  }
}
