/**
 * Cached incremental decoding on the GPU (SPEC §4): B sequences decode in parallel, one token per
 * step, each step running only the hourglass levels that have new input (src/generate/schedule.ts).
 *
 * Per full-attention block a K/V cache [B, capacity of its level, H, 32] (K after RoPE), per linear
 * block its state [B, H, 32, 32]; rings of the last three enc0 and enc1 outputs (for the pools);
 * the newest bottleneck and dec0 outputs (what the shift-by-2 upsampling hands the finer levels).
 * The weights are the caller's tensors (an IFlameModel's `params`), never copied; with
 * `precision: "f16"` the decoder casts f16 copies of the Linear weights once, at construction,
 * and the step's projections and the prefill's products read those (half the bytes a step reads).
 *
 * A step's position is known when it is recorded, so the schedule is decided on the CPU and steps
 * need no GPU branching. The token a step consumes is read through the cursor (kernels/cursor.ts),
 * so many steps can be recorded into one submission: step t embeds the token that step t − 1
 * sampled into the sequence buffer.
 *
 * A step's blocks run on B rows, one position per sequence: each is five dispatches of kernels
 * fused for that (generate/step.ts), since at a few rows a step is bound by its count of
 * dispatches. The prefill (generate/prefill.ts) is the training forward over every row of the
 * prompt. Both read the weights as the records of model/params.ts, resolved once here.
 *
 * Prompts are prefilled in one batched forward pass over their first `prefill` tokens (a multiple
 * of 9, so every level sees whole positions: real prompts are whole rows anyway); any further
 * given tokens go through the step path without sampling.
 *
 * Finished sequences: a row that has sampled `end` keeps decoding with the batch (its rows share
 * every matmul, so masking it would save nothing); with the grammar on it can only repeat `end`,
 * and the caller cuts each sequence at its first end token (`ended`).
 */
import type { Gpu, Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { copyRows } from "../kernels/copy-rows.ts";
import { advanceCursor, embedAtCursor } from "../kernels/cursor.ts";
import { grammarMask } from "../kernels/grammar.ts";
import { mean3, scaleAdd } from "../kernels/hourglass-step.ts";
import { rowsLinear } from "../kernels/rows-gemv.ts";
import { ropeTables, type RopeTables } from "../kernels/rope.ts";
import { sampleAtPosition, type SampleOptions } from "../kernels/sampling.ts";
import { HEAD_DIM, type Network } from "../model/config.ts";
import { levelLengths } from "../model/levels.ts";
import type { ModelWeights } from "../model/params.ts";
import { computeWeights, HalfWeights, type Precision } from "../model/precision.ts";
import { TOKENS } from "../tokenizer/index.ts";
import type { GrammarOptions } from "./grammar.ts";
import { type CachedLevel, Prefill } from "./prefill.ts";
import { stepLevels } from "./schedule.ts";
import { allocateCache, allocateStepWorkspace, stepBlock, type StepWorkspace } from "./step.ts";

const ROW = TOKENS.perFace;

/** How a step chooses the next token once the given tokens run out. */
export interface EmitOptions {
  /** Row b draws with seed + b (its own stream); the draw counter is the position. */
  sampling: Omit<SampleOptions, "counter">;
  grammar: GrammarOptions | null;
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
  readonly precision: Precision;
  /** f16 decoders: the f16 copies of the Linear weights. */
  private readonly half: HalfWeights | null;
  private readonly weights: ModelWeights<Tensor>;
  private readonly levels: CachedLevel[];
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
    readonly network: Network,
    params: ReadonlyMap<string, Tensor>,
    readonly B: number,
    /** Tokens per sequence, a multiple of 9: start row, face rows, end row. */
    readonly capacity: number,
    o: { precision?: Precision } = {},
  ) {
    if (!Number.isInteger(capacity) || capacity % ROW !== 0 || capacity < 3 * ROW) {
      throw new Error(`decoder: capacity ${capacity} must be a multiple of ${ROW} of at least ${3 * ROW} (start row, a face, end row)`);
    }
    if (network.dim !== network.heads * HEAD_DIM) throw new Error(`decoder: dim ${network.dim} is not heads × ${HEAD_DIM}`);
    this.V = network.vocab;
    this.D = network.dim;
    const { D, V } = this;
    const capacities = levelLengths(capacity);
    this.precision = o.precision ?? "f32";
    this.half = this.precision === "f16" ? new HalfWeights(gpu, params, network) : null;
    if (this.half) gpu.record((r) => this.half!.record(r));
    this.weights = computeWeights(network, params, this.half, "decoder");
    this.levels = this.weights.levels.map((blocks, i) => ({
      capacity: capacities[i],
      blocks: blocks.map((w) => allocateCache(gpu, w, B, network.heads, capacities[i])),
    }));
    this.rope = ropeTables(gpu, capacity, HEAD_DIM);
    this.work = allocateStepWorkspace(gpu, network, B);
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
    const old = this.prefillState;
    if (old && old.length === length) return old;
    old?.destroy();
    this.prefillState = new Prefill(this.gpu, this.network, this.B, length, this.precision);
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
    pf.record(r, this.weights, this.levels, this.rope);
    const lengths = levelLengths(L);
    const last = (level: number, to: Tensor) => {
      const n = lengths[level];
      copyRows(r, { from: pf.streams[level], to, copy: { B, rows: 1, W: D, srcStride: n * D, srcRow: n - 1, dstStride: D, dstRow: 0 }, label: "hourglass" });
    };
    last(2, this.bottleneck);
    last(3, this.dec0);
    last(4, this.dec1);
    this.output(r);
    this.emit(r, L - 1);
  }

  /** Records the step at `position` (see schedule.ts), then its emit. */
  step(r: Recorder): void {
    if (!this.canStep) throw new Error(`decoder: no token to decode at position ${this.next}`);
    const { t, coarse, bottleneck } = stepLevels(this.next);
    const w = this.weights;
    const fine = this.fineRing[t % 3];
    embedAtCursor(r, { tokens: this.tokens, cursor: this.cursor, table: w.embedding, normWeight: w.norm, out: fine });
    this.stepLevel(r, 0, fine, t);
    if (coarse !== null) {
      const coarseSlot = this.coarseRing[coarse % 3];
      mean3(r, { a: this.fineRing[0], b: this.fineRing[1], c: this.fineRing[2], out: coarseSlot });
      this.stepLevel(r, 1, coarseSlot, coarse);
      if (bottleneck !== null) {
        mean3(r, { a: this.coarseRing[0], b: this.coarseRing[1], c: this.coarseRing[2], out: this.bottleneck });
        this.stepLevel(r, 2, this.bottleneck, bottleneck);
      }
      scaleAdd(r, { coarse: this.bottleneck, skip: coarseSlot, weights: w.skipWeights, index: 0, out: this.dec0 });
      this.stepLevel(r, 3, this.dec0, coarse);
    }
    scaleAdd(r, { coarse: this.dec0, skip: fine, weights: w.skipWeights, index: 1, out: this.dec1 });
    this.stepLevel(r, 4, this.dec1, t);
    this.output(r);
    this.emit(r, t);
    this.next = t + 1;
  }

  private output(r: Recorder): void {
    rowsLinear(r, { x: this.dec1, weight: this.weights.outputWeight, bias: this.weights.outputBias, y: this.logits, label: "output" });
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
    for (const block of blocks) stepBlock(r, block, x, position, capacity, this.work, this.network.heads);
  }

  /** Frees every tensor the decoder allocated (not the weights). */
  destroy(): void {
    const { gpu } = this;
    for (const level of this.levels) {
      for (const b of level.blocks) for (const t of [b.keys, b.values, b.state]) if (t) gpu.destroy(t);
    }
    const w = this.work;
    for (const t of [w.q, w.k, w.v, w.att, w.g]) gpu.destroy(t);
    this.prefillState?.destroy();
    this.prefillState = null;
    this.half?.destroy();
    for (const t of [this.tokens, this.logits, this.cursor, this.ended, this.mask, ...this.fineRing, ...this.coarseRing, this.bottleneck, this.dec0, this.dec1]) {
      gpu.destroy(t);
    }
  }
}
