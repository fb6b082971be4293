/**
 * The decoder's prefill: the training forward (model/hourglass.ts wiring, model/block.ts blocks)
 * over the first `length` tokens of every sequence, in place on one stream per level, each block
 * then handing its keys and values (full attention) or its final state (linear) to its cache.
 */
import type { Gpu, Recorder } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { copyRows } from "../kernels/copy-rows.ts";
import { linearAttentionScratch } from "../kernels/linear-attention.ts";
import type { RopeTables } from "../kernels/rope.ts";
import { blockForward, halfScratch, type BlockActivations, type ForwardScratch } from "../model/block.ts";
import { hiddenDim, type Network } from "../model/config.ts";
import { hourglassForward, type HourglassStreams } from "../model/hourglass.ts";
import { LEVELS, levelLengths } from "../model/levels.ts";
import type { ModelWeights } from "../model/params.ts";
import type { Precision } from "../model/precision.ts";
import type { CachedBlock } from "./step.ts";

/** A level of the decoder: its blocks with their caches, and the positions those hold. */
export interface CachedLevel {
  blocks: CachedBlock[];
  capacity: number;
}

export class Prefill {
  /** The prompt tokens [B·length] i32. */
  readonly tokens: Tensor;
  /** Each level's stream over the whole prompt, [B·n, D]: [enc0, enc1, bottleneck, dec0, dec1]. */
  readonly streams: Tensor[];
  private readonly io: HourglassStreams;
  /** Intermediates every block shares, over all B·length rows (a level uses its first B·n). */
  private readonly shared: Omit<BlockActivations, "x" | "x1" | "out">;
  private readonly scratch: ForwardScratch;
  private readonly owned: Tensor[];

  constructor(
    private readonly gpu: Gpu,
    private readonly network: Network,
    readonly B: number,
    readonly length: number,
    /** The weights' precision ("f16": f16 Linear weights, model/precision.ts). */
    precision: Precision,
  ) {
    const { dim: D, heads: H } = network;
    const hidden = hiddenDim(network);
    const rows = B * length;
    const t = (shape: number[], label: string) => gpu.tensor(shape, "f32", `prefill ${label}`);
    this.tokens = gpu.tensor([rows], "i32", "prefill tokens");
    this.streams = levelLengths(length).map((n, i) => t([B * n, D], LEVELS[i]));
    const h = gpu.tensor([rows, D], precision, "prefill h"), rstd = t([rows], "rstd");
    const half = precision === "f16";
    this.shared = {
      h1: h, rstd1: rstd, h2: h, rstd2: rstd, rstdAtt: rstd,
      q: t([rows, D], "q"), k: t([rows, D], "k"), v: t([rows, D], "v"), att: t([rows, D], "attention"),
      attNorm: t([rows, D], "attention norm"), lse: t([rows, H], "lse"), attHalf: half ? gpu.tensor([rows, D], "f16", "prefill attention f16") : null,
      p1: t([rows, hidden], "p1"), p2: t([rows, hidden], "p2"),
    };
    this.scratch = {
      raw: t([rows, D], "raw q/k"), g: t([rows, hidden], "gate"), linear: linearAttentionScratch(gpu, { B, L: length, H }),
      half: half ? halfScratch(gpu, rows, D, hidden, "prefill") : null,
    };
    this.io = {
      tokens: this.tokens, embedded: t([rows, D], "embedded"), rstd: t([rows], "embedding rstd"), inputs: this.streams, outputs: this.streams,
    };
    const s = this.shared;
    this.owned = [
      this.tokens, ...this.streams, this.io.embedded, this.io.rstd, h, rstd, s.q, s.k, s.v, s.att, s.attNorm!, s.lse!, s.p1, s.p2,
      this.scratch.raw, this.scratch.g, this.scratch.linear!.states, this.scratch.linear!.final,
      ...(s.attHalf ? [s.attHalf] : []), ...Object.values(this.scratch.half ?? {}),
    ];
  }

  /** Records the forward over the prompt, filling every block's cache (levels as the decoder's). */
  record(r: Recorder, weights: ModelWeights<Tensor>, levels: readonly CachedLevel[], rope: RopeTables): void {
    const { B, length } = this;
    const { dim: D, heads: H } = this.network;
    const lengths = levelLengths(length);
    hourglassForward(r, weights, this.io, B, (level) => {
      const x = this.streams[level], n = lengths[level];
      // The intermediates are sized for the finest level; this one uses their first B·n rows.
      const a: BlockActivations = { ...this.sharedRows(B * n), x, x1: x, out: x };
      const scratch = { ...this.scratch, raw: this.scratch.raw.head(B * n), g: this.scratch.g.head(B * n) };
      for (const block of levels[level].blocks) {
        blockForward(r, block.weights, a, scratch, { B, L: n, H, rope });
        if (block.keys && block.values) {
          const copy = { B, rows: n, W: D, srcStride: n * D, srcRow: 0, dstStride: levels[level].capacity * D, dstRow: 0 };
          copyRows(r, { from: a.k, to: block.keys, copy, label: "kv cache" });
          copyRows(r, { from: a.v, to: block.values, copy, label: "kv cache" });
        } else {
          r.copy(scratch.linear!.final, block.state!);
        }
      }
    });
  }

  /** The shared intermediates' first `rows` rows. */
  private sharedRows(rows: number): Omit<BlockActivations, "x" | "x1" | "out"> {
    const s = this.shared;
    const h = s.h1.head(rows), rstd = s.rstd1.head(rows);
    const [q, k, v, att, attNorm, lse, p1, p2] = [s.q, s.k, s.v, s.att, s.attNorm!, s.lse!, s.p1, s.p2].map((t) => t.head(rows));
    return { h1: h, rstd1: rstd, h2: h, rstd2: rstd, rstdAtt: rstd, q, k, v, att, attNorm, lse, p1, p2, attHalf: s.attHalf?.head(rows) ?? null };
  }

  destroy(): void {
    for (const t of this.owned) this.gpu.destroy(t);
  }
}
