/**
 * The trainer's view of the data: the source named by --data (procedural, a MeshGPT pickle, a
 * folder of meshes) as shard caches, a seeded resumable batcher over the train split, and the
 * validation batches. Batches are always padded to the model's full length (maxFaces + 2 rows).
 */
import { existsSync, statSync } from "node:fs";
import { Batcher, evalBatches } from "../data/batcher.ts";
import { openShardedDataset, type DatasetSpec } from "../data/index.ts";
import { type ShardDataset, simplifiedCount } from "../data/shards.ts";
import type { IFlameConfig } from "../model/config.ts";
import type { TrainState } from "../checkpoint/checkpoint.ts";
import type { TrainOptions } from "./options.ts";

export interface TrainingData {
  trainSize: number;
  valSize: number;
  /** The next [B, L] training batch; advances state.epoch / state.cursor. */
  nextTrainBatch(state: TrainState): Int32Array;
  /** Every validation mesh once, in [B, L] batches (the last one filled with all-pad rows); with shards, this rank's share of them. */
  valBatches(): Iterable<Int32Array>;
}

/** The source --data names (with --meshes, --seed, --category where they apply). */
export function datasetSpec(opts: Pick<TrainOptions, "data" | "meshes" | "seed" | "category">): DatasetSpec {
  if (opts.data === "procedural") return { kind: "procedural", count: opts.meshes, seed: opts.seed };
  if (opts.data === "shapes") return { kind: "shapes", count: opts.meshes };
  if (!existsSync(opts.data)) throw new Error(`--data ${opts.data}: not 'procedural' or 'shapes', and no such file or folder`);
  if (statSync(opts.data).isDirectory()) return { kind: "folder", path: opts.data };
  return { kind: "pickle", path: opts.data, category: opts.category };
}

/** Where shard caches live, for every source (file names carry a hash of the data spec). */
const CACHE_DIR = ".cache/iflame";

/**
 * Opens the data of a run. With `shard` (data parallelism: this rank's index among `count`),
 * each training batch is this rank's slice of the global batch of batch·count sequences, and
 * validation batches are dealt out round-robin.
 */
export async function openTrainingData(
  opts: TrainOptions, config: IFlameConfig, log: (line: string) => void, shard = { index: 0, count: 1 },
): Promise<TrainingData> {
  const spec = datasetSpec(opts);
  const splits = await openShardedDataset(spec, { maxFaces: config.maxFaces, cacheDir: CACHE_DIR, simplify: opts.simplify, log });
  const B = opts.batch;
  const batcher = new Batcher(splits.train, { batchSize: B, maxFaces: config.maxFaces, seed: opts.seed, augment: opts.augment, shard });
  if (batcher.filtered > 0) log(`left out ${batcher.filtered} training meshes with more than ${config.maxFaces} faces`);
  const val: ShardDataset = splits.val;
  const simplified = simplifiedCount(splits.train.header) + simplifiedCount(val.header);
  log(`data: ${spec.kind} · ${batcher.kept.length} training meshes · ${val.size} validation meshes${simplified ? ` · ${simplified} simplified to fit` : ""}`);
  return {
    trainSize: batcher.kept.length,
    valSize: val.size,
    nextTrainBatch(state) {
      const batch = batcher.next({ epoch: state.epoch, position: state.cursor });
      state.epoch = batch.next.epoch;
      state.cursor = batch.next.position;
      return batch.tokens;
    },
    *valBatches() {
      let i = 0;
      for (const b of evalBatches(val, { batchSize: B, maxFaces: config.maxFaces })) if (i++ % shard.count === shard.index) yield b.tokens;
    },
  };
}
