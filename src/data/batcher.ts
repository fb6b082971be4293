/**
 * Training batches: `[B, 9·rows]` Int32Array token blocks in the reference's layout (SPEC §1):
 * a start row, the face rows, an end row, then pad rows.
 *
 * - Meshes with more than maxFaces faces are filtered out up front (`filtered` counts them).
 * - Each epoch visits the kept meshes in a fresh seeded permutation; the last incomplete batch
 *   is dropped, as the reference's DataLoader(drop_last=True) does.
 * - Position is a cursor (epoch, position in that epoch's order): `next(cursor)` returns the batch
 *   and the cursor after it, so a checkpoint that stores the cursor resumes the same stream.
 * - With augmentation, sample seeds come from (seed, epoch, mesh index): repeatable, resumable.
 * - Length bucketing (optional): instead of padding every sequence to maxFaces + 2 rows, pad to
 *   the batch's longest sequence rounded up to a multiple of `bucketRows` rows, capped at
 *   maxFaces + 2. A row is 9 tokens, so any row count gives a length divisible by 9, which is all
 *   the hourglass needs (two ×3 poolings); rounding to `bucketRows` (default 8) keeps the number
 *   of distinct lengths small, so GPU buffers and pipelines for a length are reused.
 */
import { TOKENS, sequenceFromFaceTokens } from "../tokenizer/index.ts";
import { mixSeed, permutation } from "./random.ts";

/** Anything that can hand out tokenized meshes by index (the shard cache is one). */
export interface SequenceSource {
  readonly size: number;
  /** Unaugmented tokenized face count of item i. */
  faceCount(i: number): number;
  /** Face rows of item i, augmented with `augmentSeed` when given. */
  faceTokens(i: number, augmentSeed?: number): Int32Array;
}

export interface Cursor {
  epoch: number;
  /** Sequences of this epoch's order already consumed. */
  position: number;
}

export interface BatcherOptions {
  batchSize: number;
  maxFaces: number;
  seed: number;
  augment: boolean;
  /** Pad each batch only to its longest sequence, rounded up to this many rows; off when absent. */
  bucketRows?: number;
  /**
   * Data parallelism: the stream advances by batchSize·count sequences (the global batch) and
   * this batcher returns slice `index` of each, so `count` shards together yield exactly the
   * batches of one batcher with batchSize·count. Absent: one shard.
   */
  shard?: { index: number; count: number };
}

export interface Batch {
  /** batchSize × (9·rows) tokens, row-major. */
  tokens: Int32Array;
  rows: number;
  /** Source indices of the batch's sequences. */
  items: Uint32Array;
  /** Where the next batch starts. */
  next: Cursor;
}

export const DEFAULT_BUCKET_ROWS = 8;

/** Indices of the items with at most maxFaces faces. */
function keptItems(source: SequenceSource, maxFaces: number): Uint32Array {
  const kept: number[] = [];
  for (let i = 0; i < source.size; i++) if (source.faceCount(i) <= maxFaces) kept.push(i);
  return Uint32Array.from(kept);
}

export class Batcher {
  /** Source indices short enough to train on. */
  readonly kept: Uint32Array;
  /** Source meshes left out for having more than maxFaces faces. */
  readonly filtered: number;
  private orderCache: { epoch: number; order: Uint32Array } | null = null;

  constructor(private readonly source: SequenceSource, readonly opts: BatcherOptions) {
    if (opts.bucketRows !== undefined && !(Number.isInteger(opts.bucketRows) && opts.bucketRows > 0)) throw new Error(`bucketRows must be a positive integer, got ${opts.bucketRows}`);
    this.kept = keptItems(source, opts.maxFaces);
    this.filtered = source.size - this.kept.length;
    if (this.kept.length < this.globalBatch) {
      throw new Error(`only ${this.kept.length} meshes fit maxFaces ${opts.maxFaces} (${this.filtered} longer ones left out); a batch needs ${this.globalBatch}`);
    }
  }

  /** Sequences the stream advances per batch: batchSize times the shard count. */
  get globalBatch(): number {
    return this.opts.batchSize * (this.opts.shard?.count ?? 1);
  }

  get batchesPerEpoch(): number {
    return Math.floor(this.kept.length / this.globalBatch);
  }

  /** The epoch's visiting order (source indices). */
  order(epoch: number): Uint32Array {
    if (this.orderCache?.epoch !== epoch) {
      const permuted = permutation(this.kept.length, mixSeed(this.opts.seed, epoch));
      this.orderCache = { epoch, order: permuted.map((k) => this.kept[k]) };
    }
    return this.orderCache.order;
  }

  next(cursor: Cursor): Batch {
    const B = this.opts.batchSize;
    const global = this.globalBatch;
    let { epoch, position } = cursor;
    if (position + global > this.kept.length) [epoch, position] = [epoch + 1, 0];
    const start = position + B * (this.opts.shard?.index ?? 0);
    const items = this.order(epoch).slice(start, start + B);
    const faceTokens = Array.from(items, (i) => this.source.faceTokens(i, this.opts.augment ? mixSeed(this.opts.seed, epoch, i) : undefined));
    const { tokens, rows } = assemble(faceTokens, B, this.opts.maxFaces, this.opts.bucketRows);
    return { tokens, rows, items, next: { epoch, position: position + global } };
  }
}

/** Rows a batch is padded to (see the file comment). */
export function batchRows(longestFaces: number, maxFaces: number, bucketRows?: number): number {
  if (bucketRows === undefined) return maxFaces + 2;
  return Math.min(maxFaces + 2, Math.ceil((longestFaces + 2) / bucketRows) * bucketRows);
}

/** Lays out face-token lists as sequences in one block; slots past the lists are all pad (no loss targets). */
function assemble(faceTokens: Int32Array[], batchSize: number, maxFaces: number, bucketRows?: number): { tokens: Int32Array; rows: number } {
  const longest = Math.max(0, ...faceTokens.map((t) => t.length / TOKENS.perFace));
  const rows = batchRows(longest, maxFaces, bucketRows);
  const length = TOKENS.perFace * rows;
  const tokens = new Int32Array(batchSize * length).fill(TOKENS.pad);
  faceTokens.forEach((t, b) => tokens.set(sequenceFromFaceTokens(t, rows - 2), b * length));
  return { tokens, rows };
}

/**
 * Validation / evaluation batches: every mesh that fits, in source order, no augmentation. The
 * last batch is filled up with all-pad sequences, which contribute no targets to loss or accuracy.
 */
export function* evalBatches(source: SequenceSource, opts: Omit<BatcherOptions, "seed" | "augment">): Generator<{ tokens: Int32Array; rows: number; count: number }> {
  const kept = keptItems(source, opts.maxFaces);
  for (let at = 0; at < kept.length; at += opts.batchSize) {
    const items = Array.from(kept.subarray(at, at + opts.batchSize));
    yield { ...assemble(items.map((i) => source.faceTokens(i)), opts.batchSize, opts.maxFaces, opts.bucketRows), count: items.length };
  }
}
