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
import { blockSpecs, initParams, paramSpecs, type BlockSpec, type ModelConfig } from "../cpu/model.ts";
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
import { HEAD_DIM, networkOf, type IFlameConfig } from "./config.ts";

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
  readonly network: ModelConfig;
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
    readonly config: IFlameConfig,
    readonly B: number,
    readonly L: number,
  ) {
    if (L % 9 !== 0) throw new Error(`sequence length ${L} must be a multiple of 9 (the hourglass pools by 3 twice)`);
    this.network = networkOf(config);
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
    const { B } = this;
    embeddingForward(r, { tokens: this.tokens, table: this.p("embedding.weight"), out: this.embedded });
    rmsnormForward(r, { x: this.embedded, weight: this.p("norm.weight"), y: this.input(0), rstd: this.rstd0 });
    this.levelForward(r, 0);
    avgPool3Forward(r, { x: this.output(0), y: this.input(1), B });
    this.levelForward(r, 1);
    avgPool3Forward(r, { x: this.output(1), y: this.input(2), B });
    this.levelForward(r, 2);
    upsampleShiftAddForward(r, { x: this.output(2), skip: this.output(1), weights: this.p("skip_weights2"), index: 0, out: this.input(3), B });
    this.levelForward(r, 3);
    upsampleShiftAddForward(r, { x: this.output(3), skip: this.output(0), weights: this.p("skip_weights2"), index: 1, out: this.input(4), B });
    this.levelForward(r, 4);
    linearForward(r, { x: this.output(4), weight: this.p("output_proj.weight"), bias: this.p("output_proj.bias"), y: this.logits, label: "output" });
  }

  private levelForward(r: Recorder, level: number): void {
    const lv = this.levels[level];
    for (const a of lv.blocks) this.blockForward(r, a, lv);
  }

  private blockForward(r: Recorder, a: BlockActivations, lv: Level): void {
    const { B } = this;
    const H = this.network.heads;
    const { L } = lv;
    const p = (s: string) => this.p(`${a.spec.prefix}.${s}`);
    rmsnormForward(r, { x: a.x, weight: p("norm1.weight"), y: a.h1, rstd: a.rstd1 });
    linearForward(r, { x: a.h1, weight: p("attn.v_proj.weight"), y: a.v });
    for (const [proj, rotated] of [["q", a.q], ["k", a.k]] as const) {
      linearForward(r, { x: a.h1, weight: p(`attn.${proj}_proj.weight`), y: lv.scratch.raw });
      ropeForward(r, { x: lv.scratch.raw, out: rotated, B, H, tables: this.rope });
    }
    let attOut: Tensor;
    if (a.spec.full) {
      attentionForward(r, { q: a.q, k: a.k, v: a.v, out: a.att, lse: a.lse!, shape: this.attentionShape(L) });
      attOut = a.att;
    } else {
      linearAttentionForward(r, { q: a.q, k: a.k, v: a.v, out: a.att, scratch: lv.scratch.linear!, shape: this.linearShape(L) });
      rmsnormForward(r, { x: a.att, weight: p("attn.rms_norm.weight"), y: a.attNorm!, rstd: a.rstdAtt! });
      attOut = a.attNorm!;
    }
    // x1 = x + attOut·Woᵀ: copy the residual, then let the matmul accumulate into it.
    r.copy(a.x, a.x1);
    linearForward(r, { x: attOut, weight: p("attn.out_proj.weight"), y: a.x1, accumulate: true });
    rmsnormForward(r, { x: a.x1, weight: p("norm2.weight"), y: a.h2, rstd: a.rstd2 });
    linearForward(r, { x: a.h2, weight: p("feed_forward.proj1.weight"), bias: p("feed_forward.proj1.bias"), y: a.p1 });
    linearForward(r, { x: a.h2, weight: p("feed_forward.proj2.weight"), bias: p("feed_forward.proj2.bias"), y: a.p2 });
    swigluForward(r, { a: a.p1, b: a.p2, h: lv.scratch.g });
    r.copy(a.x1, a.out);
    linearForward(r, { x: lv.scratch.g, weight: p("feed_forward.proj3.weight"), bias: p("feed_forward.proj3.bias"), y: a.out, accumulate: true });
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
    crossEntropy(r, { logits: this.logits, tokens: this.tokens, scale: this.lossScale, dlogits: this.dlogits, stats: this.lossStats, scratch: this.lossScratch, accumulate });
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
    const { B } = this;
    const s4 = this.levels[4].scratch;
    linearBackward(r, {
      x: this.output(4), weight: this.p("output_proj.weight"), dy: this.dlogits,
      dx: s4.dx, dweight: this.g("output_proj.weight"), dbias: this.g("output_proj.bias"), accumulate: true, label: "output",
    });
    // dec1 → d(dec1 input) in s4.dx
    this.levelBackward(r, 4);
    // dec1 input = w1·shift2(up(dec0 out)) + enc0 out: the skip's gradient is dout itself.
    const [s0, s1, s2, s3] = this.levels.map((l) => l.scratch);
    const w = this.p("skip_weights2");
    const dw = this.g("skip_weights2");
    upsampleShiftAddBackward(r, { dout: s4.dx, x: this.output(3), weights: w, index: 1, dx: s3.dx, dweights: dw, scratch: this.upsampleScratch, B, accumulate: true });
    r.copy(s4.dx, s0.dx);
    this.levelBackward(r, 3);
    upsampleShiftAddBackward(r, { dout: s3.dx, x: this.output(2), weights: w, index: 0, dx: s2.dx, dweights: dw, scratch: this.upsampleScratch, B, accumulate: true });
    r.copy(s3.dx, s1.dx);
    this.levelBackward(r, 2);
    // bottleneck input = avgpool3(enc1 out), enc1 input = avgpool3(enc0 out)
    avgPool3Backward(r, { dy: s2.dx, dx: s1.dx, B, accumulate: true });
    this.levelBackward(r, 1);
    avgPool3Backward(r, { dy: s1.dx, dx: s0.dx, B, accumulate: true });
    this.levelBackward(r, 0);
    rmsnormBackward(r, {
      x: this.embedded, weight: this.p("norm.weight"), rstd: this.rstd0, dy: s0.dx,
      dx: this.dEmbedded, dweight: this.g("norm.weight"), scratch: s0.norm, accumulate: true,
    });
    embeddingBackward(r, { tokens: this.tokens, dout: this.dEmbedded, dtable: this.g("embedding.weight"), scratch: this.embeddingScratch, accumulate: true });
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
    const H = this.network.heads;
    const { L } = lv;
    const s = lv.scratch;
    const name = (x: string) => `${a.spec.prefix}.${x}`;
    const p = (x: string) => this.p(name(x));
    const g = (x: string) => this.g(name(x));

    // out = x1 + proj3(silu(p1)·p2): the residual passes dx through unchanged.
    swigluForward(r, { a: a.p1, b: a.p2, h: s.g }); // recompute g rather than keep it
    linearBackward(r, { x: s.g, weight: p("feed_forward.proj3.weight"), dy: s.dx, dx: s.dg, dweight: g("feed_forward.proj3.weight"), dbias: g("feed_forward.proj3.bias"), accumulate: true });
    swigluBackward(r, { a: a.p1, b: a.p2, dh: s.dg, da: s.dp1, db: s.dp2 });
    linearBackward(r, { x: a.h2, weight: p("feed_forward.proj1.weight"), dy: s.dp1, dx: s.dh, dweight: g("feed_forward.proj1.weight"), dbias: g("feed_forward.proj1.bias"), accumulate: true });
    linearBackward(r, { x: a.h2, weight: p("feed_forward.proj2.weight"), dy: s.dp2, dx: s.dTmp, dweight: g("feed_forward.proj2.weight"), dbias: g("feed_forward.proj2.bias"), accumulate: true });
    addInto(r, { x: s.dh, y: s.dTmp });
    // dx += norm2's backward: now d(x1).
    rmsnormBackward(r, { x: a.x1, weight: p("norm2.weight"), rstd: a.rstd2, dy: s.dh, dx: s.dx, dweight: g("norm2.weight"), scratch: s.norm, accumulate: true, addToDx: true });

    // x1 = x + out_proj(att'): d(x) = d(x1) + norm1's backward.
    const attOut = a.spec.full ? a.att : a.attNorm!;
    linearBackward(r, { x: attOut, weight: p("attn.out_proj.weight"), dy: s.dx, dx: s.datt, dweight: g("attn.out_proj.weight"), accumulate: true });
    if (a.spec.full) {
      attentionBackward(r, {
        q: a.q, k: a.k, v: a.v, out: a.att, lse: a.lse!, dOut: s.datt,
        dq: s.dq, dk: s.dk, dv: s.dv, delta: s.delta, shape: this.attentionShape(L),
      });
    } else {
      rmsnormBackward(r, { x: a.att, weight: p("attn.rms_norm.weight"), rstd: a.rstdAtt!, dy: s.datt, dx: s.dTmp, dweight: g("attn.rms_norm.weight"), scratch: s.norm, accumulate: true });
      linearAttentionBackward(r, { q: a.q, k: a.k, v: a.v, dOut: s.dTmp, dq: s.dq, dk: s.dk, dv: s.dv, scratch: s.linear!, shape: this.linearShape(L) });
    }
    // q and k were rotated after projection: take their gradients back through RoPE first.
    ropeBackward(r, { x: s.dq, out: s.raw, B, H, tables: this.rope });
    linearBackward(r, { x: a.h1, weight: p("attn.q_proj.weight"), dy: s.raw, dx: s.dh, dweight: g("attn.q_proj.weight"), accumulate: true });
    ropeBackward(r, { x: s.dk, out: s.raw, B, H, tables: this.rope });
    linearBackward(r, { x: a.h1, weight: p("attn.k_proj.weight"), dy: s.raw, dx: s.dTmp, dweight: g("attn.k_proj.weight"), accumulate: true });
    addInto(r, { x: s.dh, y: s.dTmp });
    linearBackward(r, { x: a.h1, weight: p("attn.v_proj.weight"), dy: s.dv, dx: s.dTmp, dweight: g("attn.v_proj.weight"), accumulate: true });
    addInto(r, { x: s.dh, y: s.dTmp });
    rmsnormBackward(r, { x: a.x, weight: p("norm1.weight"), rstd: a.rstd1, dy: s.dh, dx: s.dx, dweight: g("norm1.weight"), scratch: s.norm, accumulate: true, addToDx: true });
  }
}
