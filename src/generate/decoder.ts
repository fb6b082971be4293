/**
 * Cached incremental decoding on the GPU (SPEC §4): B sequences decode in parallel, one token per
 * step, each step running only the hourglass levels that have new input (src/generate/schedule.ts).
 *
 * Per full-attention block a K/V cache [B, capacity of its level, H, 32] (K after RoPE), per linear
 * block its state [B, H, 32, 32]; rings of the last three enc0 and enc1 outputs (for the pools);
 * the newest bottleneck and dec0 outputs (what the shift-by-2 upsampling hands the finer levels).
 * The weights are the caller's tensors (an IFlameModel's `params`), never copied.
 *
 * A step's position is known when it is recorded, so the schedule is decided on the CPU and steps
 * need no GPU branching. The token a step consumes is read through the cursor (kernels/cursor.ts),
 * so many steps can be recorded into one submission: step t embeds the token that step t − 1
 * sampled into the sequence buffer.
 *
 * A step's blocks run on B rows, one position per sequence: each is five dispatches of kernels
 * fused for that (kernels/rows-gemv.ts), since at a few rows a step is bound by its count of
 * dispatches. The prefill runs the general kernels over every row of the prompt.
 *
 * Prompts are prefilled in one batched forward pass over their first `prefill` tokens (a multiple
 * of 9, so every level sees whole positions: real prompts are whole rows anyway); any further
 * given tokens go through the step path without sampling.
 *
 * Finished sequences: a row that has sampled `end` keeps decoding with the batch (its rows share
 * every matmul, so masking it would save nothing); with the grammar on it can only repeat `end`,
 * and the caller cuts each sequence at its first end token (`ended`).
 */
import { blockSpecs, type BlockSpec, type ModelConfig } from "../cpu/model.ts";
import type { Gpu, Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { attentionForward } from "../kernels/attention.ts";
import { attentionDecode } from "../kernels/attention-decode.ts";
import { copyRows } from "../kernels/copy-rows.ts";
import { advanceCursor, embedAtCursor } from "../kernels/cursor.ts";
import { embeddingForward } from "../kernels/embedding.ts";
import { grammarMask } from "../kernels/grammar.ts";
import { avgPool3Forward, upsampleShiftAddForward } from "../kernels/hourglass.ts";
import { mean3, scaleAdd } from "../kernels/hourglass-step.ts";
import {
  linearAttentionForward, linearAttentionScratch, linearAttentionStep, type LinearAttentionScratch,
} from "../kernels/linear-attention.ts";
import { linearForward } from "../kernels/matmul.ts";
import { rmsnormForward } from "../kernels/rmsnorm.ts";
import { ropeForward, ropeTables, type RopeTables } from "../kernels/rope.ts";
import { rowsLinear, rowsQkvRope, rowsSwigluUp } from "../kernels/rows-gemv.ts";
import { sampleAtPosition, type SampleOptions } from "../kernels/sampling.ts";
import { swigluForward } from "../kernels/swiglu.ts";
import { HEAD_DIM } from "../model/config.ts";
import { TOKENS } from "../tokenizer/index.ts";
import type { GrammarOptions } from "./grammar.ts";
import { levelLengths, stepLevels } from "./schedule.ts";

const ROW = TOKENS.perFace;

/** How a step chooses the next token once the given tokens run out. */
export interface EmitOptions {
  /** Row b draws with seed + b (its own stream); the draw counter is the position. */
  sampling: Omit<SampleOptions, "counter">;
  grammar: GrammarOptions | null;
}

interface CachedBlock {
  spec: BlockSpec;
  /** Full attention: RoPE'd keys and values of every position so far, [B, capacity, H, 32]. */
  keys: Tensor | null;
  values: Tensor | null;
  /** Linear attention: S [B, H, 32, 32]. */
  state: Tensor | null;
}

interface Level {
  blocks: CachedBlock[];
  /** Positions the level's caches hold. */
  capacity: number;
}

/**
 * The working tensors of a decoding step's blocks, [B, ·] (the fused kernels of rows-gemv.ts keep
 * every other intermediate on chip).
 */
interface StepWorkspace {
  /** Full blocks write k and v straight into their caches; linear blocks here. */
  q: Tensor;
  k: Tensor;
  v: Tensor;
  att: Tensor;
  g: Tensor;
}

/** The prefill's working tensors, over all B·L rows, for the general kernels. */
interface PrefillWorkspace {
  h: Tensor;
  rstd: Tensor;
  raw: Tensor;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  att: Tensor;
  attNorm: Tensor;
  p1: Tensor;
  p2: Tensor;
  g: Tensor;
  /** What the parallel forms need: the full-attention forward's log-sum-exp rows, the linear one's chunk states. */
  lse: Tensor;
  linear: LinearAttentionScratch;
}

/** The prefill's activations: each level's stream over the whole prompt, [B·n, D]. */
interface Prefill {
  length: number;
  tokens: Tensor;
  embedded: Tensor;
  streams: [Tensor, Tensor, Tensor, Tensor, Tensor];
  work: PrefillWorkspace;
}

export class Decoder {
  readonly V: number;
  readonly D: number;
  /** The sequence buffer [B, capacity] i32: given tokens, then sampled ones. */
  readonly tokens: Tensor;
  /** Logits [B, V] of the newest processed position. */
  readonly logits: Tensor;
  /** u32 [1]: the position the sampler writes next. */
  readonly cursor: Tensor;
  /** [B] i32: position of each sequence's first end token, 0 while it has none. */
  readonly ended: Tensor;
  private readonly levels: Level[];
  private readonly rope: RopeTables;
  private readonly work: StepWorkspace;
  /** enc0 outputs at the last three fine positions (slot t % 3), enc1's at coarse ones (j % 3). */
  private readonly fineRing: Tensor[];
  private readonly coarseRing: Tensor[];
  /** Newest bottleneck output, newest dec0 output, and the dec1 stream of the step. */
  private readonly bottleneck: Tensor;
  private readonly dec0: Tensor;
  private readonly dec1: Tensor;
  /** The grammar's token mask [B, V] u32 for the position at the cursor. */
  private readonly mask: Tensor;
  private prefillState: Prefill | null = null;
  private given = 0;
  private prefillLength = 0;
  private emitOptions: EmitOptions | null = null;
  /** The fine position the next step processes. */
  private next = 0;

  constructor(
    readonly gpu: Gpu,
    readonly network: ModelConfig,
    private readonly params: ReadonlyMap<string, Tensor>,
    readonly B: number,
    /** Tokens per sequence, a multiple of 9: start row, face rows, end row. */
    readonly capacity: number,
  ) {
    if (!Number.isInteger(capacity) || capacity % ROW !== 0 || capacity < 3 * ROW) {
      throw new Error(`decoder: capacity ${capacity} must be a multiple of ${ROW} of at least ${3 * ROW} (start row, a face, end row)`);
    }
    if (network.dim !== network.heads * HEAD_DIM) throw new Error(`decoder: dim ${network.dim} is not heads × ${HEAD_DIM}`);
    this.V = network.vocab;
    this.D = network.dim;
    const { D, V } = this;
    const capacities = levelLengths(capacity);
    this.levels = blockSpecs(network).map((specs, i) => ({
      capacity: capacities[i],
      blocks: specs.map((spec) => this.allocateBlock(spec, capacities[i])),
    }));
    this.rope = ropeTables(gpu, capacity, HEAD_DIM);
    this.work = this.allocateStepWorkspace();
    this.tokens = gpu.tensor([B, capacity], "i32", "decoder tokens");
    this.logits = gpu.tensor([B, V], "f32", "decoder logits");
    this.cursor = gpu.tensor([1], "u32", "decoder cursor");
    this.ended = gpu.tensor([B], "i32", "decoder ended");
    this.mask = gpu.tensor([B, V], "u32", "decoder token mask");
    this.fineRing = [0, 1, 2].map((i) => gpu.tensor([B, D], "f32", `enc0 ring ${i}`));
    this.coarseRing = [0, 1, 2].map((i) => gpu.tensor([B, D], "f32", `enc1 ring ${i}`));
    this.bottleneck = gpu.tensor([B, D], "f32", "newest bottleneck output");
    this.dec0 = gpu.tensor([B, D], "f32", "newest dec0 output");
    this.dec1 = gpu.tensor([B, D], "f32", "dec1 stream");
  }

  private allocateBlock(spec: BlockSpec, capacity: number): CachedBlock {
    const { gpu, B } = this;
    const H = this.network.heads;
    if (spec.full) {
      return {
        spec,
        keys: gpu.tensor([B, capacity, H, HEAD_DIM], "f32", `${spec.prefix} keys`),
        values: gpu.tensor([B, capacity, H, HEAD_DIM], "f32", `${spec.prefix} values`),
        state: null,
      };
    }
    return { spec, keys: null, values: null, state: gpu.tensor([B, H, HEAD_DIM, HEAD_DIM], "f32", `${spec.prefix} state`) };
  }

  private allocateStepWorkspace(): StepWorkspace {
    const { gpu, B, D } = this;
    const t = (width: number, label: string) => gpu.tensor([B, width], "f32", `decoder step ${label}`);
    return { q: t(D, "q"), k: t(D, "k"), v: t(D, "v"), att: t(D, "attention"), g: t(this.network.hidden, "gate") };
  }

  private allocatePrefillWorkspace(rows: number): PrefillWorkspace {
    const { gpu, B, D } = this;
    const { hidden, heads: H } = this.network;
    const t = (shape: number[], label: string) => gpu.tensor(shape, "f32", label);
    return {
      h: t([rows, D], "decoder h"),
      rstd: t([rows], "decoder rstd"),
      raw: t([rows, D], "decoder raw q/k"),
      q: t([rows, D], "decoder q"),
      k: t([rows, D], "decoder k"),
      v: t([rows, D], "decoder v"),
      att: t([rows, D], "decoder attention"),
      attNorm: t([rows, D], "decoder attention norm"),
      p1: t([rows, hidden], "decoder p1"),
      p2: t([rows, hidden], "decoder p2"),
      g: t([rows, hidden], "decoder gate"),
      lse: t([rows, H], "decoder lse"),
      linear: linearAttentionScratch(gpu, { B, L: rows / B, H }),
    };
  }

  private destroyPrefill(pf: Prefill): void {
    const w = pf.work;
    for (const t of [pf.tokens, pf.embedded, ...pf.streams, w.h, w.rstd, w.raw, w.q, w.k, w.v, w.att, w.attNorm, w.p1, w.p2, w.g, w.lse, w.linear.states, w.linear.final]) {
      this.gpu.destroy(t);
    }
  }

  private p(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) throw new Error(`decoder: no parameter ${name}`);
    return t;
  }

  /** Bytes of decoding state one sequence holds: K/V caches, linear states, rings and streams. */
  cacheBytesPerSequence(): number {
    let bytes = 0;
    for (const level of this.levels) {
      for (const b of level.blocks) for (const t of [b.keys, b.values, b.state]) if (t) bytes += t.byteLength;
    }
    for (const t of [...this.fineRing, ...this.coarseRing, this.bottleneck, this.dec0]) bytes += t.byteLength;
    return bytes / this.B;
  }

  /** The fine position the next step processes. */
  get position(): number {
    return this.next;
  }

  /** Whether another step can run: its token exists (given, or sampled by the step before). */
  get canStep(): boolean {
    return this.next < this.capacity && (this.next < this.given || this.emitOptions !== null);
  }

  /**
   * Starts new sequences: `given` [B, G] i32 are their first G tokens (the prompt; or a whole
   * sequence to replay), of which the first `prefill` (a multiple of 9, ≥ 9) are prefilled.
   * With `emit`, steps past the given tokens sample; without, decoding stops there. Writes the
   * sequence buffer and the cursor (queue writes: ordered after work already submitted).
   */
  begin(given: Int32Array, G: number, prefill: number, emit: EmitOptions | null): void {
    const { B, capacity } = this;
    if (given.length !== B * G) throw new Error(`decoder: ${given.length} given tokens are not [${B}, ${G}]`);
    if (prefill % ROW !== 0 || prefill < ROW || prefill > G || G > capacity) {
      throw new Error(`decoder: prefill ${prefill} must be a multiple of ${ROW} in [${ROW}, ${G}], and ${G} given tokens at most the capacity ${capacity}`);
    }
    const sequences = new Int32Array(B * capacity).fill(TOKENS.pad);
    const prompt = new Int32Array(B * prefill);
    for (let b = 0; b < B; b++) {
      sequences.set(given.subarray(b * G, (b + 1) * G), b * capacity);
      prompt.set(given.subarray(b * G, b * G + prefill), b * prefill);
    }
    this.gpu.write(this.tokens, sequences);
    this.gpu.write(this.cursor, Uint32Array.of(prefill));
    this.gpu.write(this.ended, new Int32Array(B));
    this.gpu.write(this.preparePrefill(prefill).tokens, prompt);
    this.given = G;
    this.prefillLength = prefill;
    this.emitOptions = emit;
    this.next = prefill;
  }

  private preparePrefill(length: number): Prefill {
    const { gpu, B, D } = this;
    const old = this.prefillState;
    if (old && old.length === length) return old;
    if (old) this.destroyPrefill(old);
    const [n0, n1, n2, n3, n4] = levelLengths(length);
    const stream = (n: number, label: string) => gpu.tensor([B * n, D], "f32", `prefill ${label}`);
    this.prefillState = {
      length,
      tokens: gpu.tensor([B * length], "i32", "prefill tokens"),
      embedded: stream(n0, "embedded"),
      streams: [stream(n0, "enc0"), stream(n1, "enc1"), stream(n2, "bottleneck"), stream(n3, "dec0"), stream(n4, "dec1")],
      work: this.allocatePrefillWorkspace(B * length),
    };
    return this.prefillState;
  }

  /**
   * Records the prefill: the full forward over the first `prefill` tokens, filling every cache,
   * then the hand-off to the step path (newest bottleneck and dec0 outputs, logits of the last
   * prompt position) and that position's emit.
   */
  prefill(r: Recorder): void {
    const pf = this.prefillState;
    const L = this.prefillLength;
    if (!pf || pf.length !== L || this.next !== L) throw new Error("decoder: prefill() must follow begin()");
    const { B, D } = this;
    const [e0, e1, bott, d0, d1] = pf.streams;
    const lengths = levelLengths(L);
    const w = this.p("skip_weights2");
    embeddingForward(r, { tokens: pf.tokens, table: this.p("embedding.weight"), out: pf.embedded });
    rmsnormForward(r, { x: pf.embedded, weight: this.p("norm.weight"), y: e0, rstd: pf.work.rstd });
    const run = (level: number, x: Tensor) => {
      for (const block of this.levels[level].blocks) this.prefillBlock(r, block, this.levels[level].capacity, x, lengths[level], pf.work);
    };
    run(0, e0);
    avgPool3Forward(r, { x: e0, y: e1, B });
    run(1, e1);
    avgPool3Forward(r, { x: e1, y: bott, B });
    run(2, bott);
    upsampleShiftAddForward(r, { x: bott, skip: e1, weights: w, index: 0, out: d0, B });
    run(3, d0);
    upsampleShiftAddForward(r, { x: d0, skip: e0, weights: w, index: 1, out: d1, B });
    run(4, d1);
    const last = (from: Tensor, n: number, to: Tensor) =>
      copyRows(r, { from, to, copy: { B, rows: 1, W: D, srcStride: n * D, srcRow: n - 1, dstStride: D, dstRow: 0 }, label: "hourglass" });
    last(bott, lengths[2], this.bottleneck);
    last(d0, lengths[3], this.dec0);
    last(d1, lengths[4], this.dec1);
    this.output(r);
    this.emit(r, L - 1);
  }

  /** Records the step at `position` (see schedule.ts), then its emit. */
  step(r: Recorder): void {
    if (!this.canStep) throw new Error(`decoder: no token to decode at position ${this.next}`);
    const { t, coarse, bottleneck } = stepLevels(this.next);
    const w = this.p("skip_weights2");
    const fine = this.fineRing[t % 3];
    embedAtCursor(r, { tokens: this.tokens, cursor: this.cursor, table: this.p("embedding.weight"), normWeight: this.p("norm.weight"), out: fine });
    this.stepLevel(r, 0, fine, t);
    if (coarse !== null) {
      const coarseSlot = this.coarseRing[coarse % 3];
      mean3(r, { a: this.fineRing[0], b: this.fineRing[1], c: this.fineRing[2], out: coarseSlot });
      this.stepLevel(r, 1, coarseSlot, coarse);
      if (bottleneck !== null) {
        mean3(r, { a: this.coarseRing[0], b: this.coarseRing[1], c: this.coarseRing[2], out: this.bottleneck });
        this.stepLevel(r, 2, this.bottleneck, bottleneck);
      }
      scaleAdd(r, { coarse: this.bottleneck, skip: coarseSlot, weights: w, index: 0, out: this.dec0 });
      this.stepLevel(r, 3, this.dec0, coarse);
    }
    scaleAdd(r, { coarse: this.dec0, skip: fine, weights: w, index: 1, out: this.dec1 });
    this.stepLevel(r, 4, this.dec1, t);
    this.output(r);
    this.emit(r, t);
    this.next = t + 1;
  }

  private output(r: Recorder): void {
    rowsLinear(r, { x: this.dec1, weight: this.p("output_proj.weight"), bias: this.p("output_proj.bias"), y: this.logits, label: "output" });
  }

  /**
   * After the logits of position t: unless token t + 1 is given, choose it (grammar mask, then
   * sampling into the sequence buffer at the cursor, which is t + 1); then note end tokens and
   * advance the cursor.
   */
  private emit(r: Recorder, t: number): void {
    const e = this.emitOptions;
    if (e && t + 1 >= this.given) {
      if (e.grammar) grammarMask(r, { tokens: this.tokens, cursor: this.cursor, mask: this.mask, strictOrder: e.grammar.strictOrder, label: "sampling" });
      sampleAtPosition(r, {
        logits: this.logits, mask: e.grammar ? this.mask : undefined, tokens: this.tokens, position: this.cursor,
        options: { ...e.sampling, counter: 0 },
      });
    }
    advanceCursor(r, { tokens: this.tokens, cursor: this.cursor, ended: this.ended });
  }

  /** Runs a level's blocks in place on its stream x [B, D] at the level's position `position`. */
  private stepLevel(r: Recorder, level: number, x: Tensor, position: number): void {
    const { capacity, blocks } = this.levels[level];
    for (const block of blocks) this.stepBlock(r, block, capacity, x, position);
  }

  /**
   * One block on one position per sequence, against its cache: five dispatches, the norms, RoPE,
   * the cache append, the gate and the residual adds fused into the projections (rows-gemv.ts).
   */
  private stepBlock(r: Recorder, block: CachedBlock, capacity: number, x: Tensor, position: number): void {
    const { B, D } = this;
    const H = this.network.heads;
    const w = this.work;
    const p = (s: string) => this.p(`${block.spec.prefix}.${s}`);
    const qkv = (k: Tensor, v: Tensor, kvStride: number, kvOffset: number) => {
      rowsQkvRope(r, {
        x, normWeight: p("norm1.weight"), wq: p("attn.q_proj.weight"), wk: p("attn.k_proj.weight"), wv: p("attn.v_proj.weight"),
        q: w.q, kOut: k, vOut: v, kvStride, kvOffset, heads: H, position, label: "qkv",
      });
    };
    let outNorm: Tensor | undefined;
    if (block.keys && block.values) {
      qkv(block.keys, block.values, capacity * D, position * D);
      attentionDecode(r, { q: w.q, keys: block.keys, values: block.values, out: w.att, shape: { B, H, Lk: position + 1, capacity } });
    } else {
      qkv(w.k, w.v, D, 0);
      linearAttentionStep(r, { q: w.q, k: w.k, v: w.v, state: block.state!, out: w.att });
      outNorm = p("attn.rms_norm.weight");
    }
    rowsLinear(r, { x: w.att, weight: p("attn.out_proj.weight"), normWeight: outNorm, y: x, accumulate: true, label: "out proj" });
    rowsSwigluUp(r, {
      x, normWeight: p("norm2.weight"), w1: p("feed_forward.proj1.weight"), b1: p("feed_forward.proj1.bias"),
      w2: p("feed_forward.proj2.weight"), b2: p("feed_forward.proj2.bias"), g: w.g, label: "feed-forward",
    });
    rowsLinear(r, { x: w.g, weight: p("feed_forward.proj3.weight"), bias: p("feed_forward.proj3.bias"), y: x, accumulate: true, label: "feed-forward" });
  }

  /** x ← x + Attn(norm1(x)); x ← x + SwiGLU(norm2(x)) over positions 0..n−1 of every sequence, filling the block's cache. */
  private prefillBlock(r: Recorder, block: CachedBlock, capacity: number, x: Tensor, n: number, work: PrefillWorkspace): void {
    const { B, D } = this;
    const H = this.network.heads;
    const p = (s: string) => this.p(`${block.spec.prefix}.${s}`);
    // The workspace is sized for the finest level; this level uses its first B·n rows.
    const rows = B * n;
    const [h, rstd, raw, q, k, v, att, attNorm, p1, p2, g] = [
      work.h, work.rstd, work.raw, work.q, work.k, work.v, work.att, work.attNorm, work.p1, work.p2, work.g,
    ].map((t) => t.head(rows));
    rmsnormForward(r, { x, weight: p("norm1.weight"), y: h, rstd });
    linearForward(r, { x: h, weight: p("attn.v_proj.weight"), y: v });
    for (const [proj, rotated] of [["q", q], ["k", k]] as const) {
      linearForward(r, { x: h, weight: p(`attn.${proj}_proj.weight`), y: raw });
      ropeForward(r, { x: raw, out: rotated, B, H, tables: this.rope });
    }
    let attended: Tensor;
    if (block.keys && block.values) {
      const append = { B, rows: n, W: D, srcStride: n * D, srcRow: 0, dstStride: capacity * D, dstRow: 0 };
      copyRows(r, { from: k, to: block.keys, copy: append, label: "kv cache" });
      copyRows(r, { from: v, to: block.values, copy: append, label: "kv cache" });
      attentionForward(r, { q, k: block.keys, v: block.values, out: att, lse: work.lse, shape: { B, H, Lq: n, Lk: n, qOffset: 0, kvCapacity: capacity } });
      attended = att;
    } else {
      linearAttentionForward(r, { q, k, v, out: att, scratch: work.linear, shape: { B, L: n, H } });
      r.copy(work.linear.final, block.state!);
      rmsnormForward(r, { x: att, weight: p("attn.rms_norm.weight"), y: attNorm, rstd });
      attended = attNorm;
    }
    linearForward(r, { x: attended, weight: p("attn.out_proj.weight"), y: x, accumulate: true });
    rmsnormForward(r, { x, weight: p("norm2.weight"), y: h, rstd });
    linearForward(r, { x: h, weight: p("feed_forward.proj1.weight"), bias: p("feed_forward.proj1.bias"), y: p1 });
    linearForward(r, { x: h, weight: p("feed_forward.proj2.weight"), bias: p("feed_forward.proj2.bias"), y: p2 });
    swigluForward(r, { a: p1, b: p2, h: g });
    linearForward(r, { x: g, weight: p("feed_forward.proj3.weight"), bias: p("feed_forward.proj3.bias"), y: x, accumulate: true });
  }

  /** Frees every tensor the decoder allocated (not the weights). */
  destroy(): void {
    const { gpu } = this;
    for (const level of this.levels) {
      for (const b of level.blocks) for (const t of [b.keys, b.values, b.state]) if (t) gpu.destroy(t);
    }
    const w = this.work;
    for (const t of [w.q, w.k, w.v, w.att, w.g]) gpu.destroy(t);
    if (this.prefillState) this.destroyPrefill(this.prefillState);
    this.prefillState = null;
    for (const t of [this.tokens, this.logits, this.cursor, this.ended, this.mask, ...this.fineRing, ...this.coarseRing, this.bottleneck, this.dec0, this.dec1]) {
      gpu.destroy(t);
    }
  }
}
