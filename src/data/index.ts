/**
 * One entry to the data sources: the built-in procedural primitives or shapes (furniture with
 * parts, a fixed held-out split), the MeshGPT ShapeNet pickle, or
 * a folder of mesh files, as train/val mesh lists or as shard caches ready for the batcher.
 */
import { createHash } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type NamedMesh, type Splits, splitTrainVal } from "./dataset.ts";
import { readMeshFolder } from "./folder.ts";
import { proceduralMeshes } from "./procedural.ts";
import { shapeMeshes } from "./shapes/index.ts";
import { openOrBuildShards, type ShardDataset } from "./shards.ts";
import { readShapeNetPickle } from "./shapenet.ts";

export type DatasetSpec =
  | { kind: "procedural"; count: number; seed: number }
  /** Shapes 0 .. count-1 (their train and val parts; the test part is never trained on). */
  | { kind: "shapes"; count: number }
  | { kind: "pickle"; path: string; category?: string }
  | { kind: "folder"; path: string };

export interface OpenOptions {
  /** Procedural meshes and shapes are drawn to fit this many tokenized faces (default 800). */
  maxFaces?: number;
  /** Share of a procedural or folder dataset held out for validation (default 0.05); the pickle has its own split. */
  valFraction?: number;
  /**
   * Folder meshes over maxFaces are simplified to fit (meshoptimizer) instead of left out
   * (default true). The pickle keeps the reference's filter; built-in data always fits.
   */
  simplify?: boolean;
}

export async function openDataset(spec: DatasetSpec, opts: OpenOptions = {}): Promise<Splits<NamedMesh[]>> {
  const valFraction = opts.valFraction ?? 0.05;
  switch (spec.kind) {
    case "procedural":
      return splitTrainVal(proceduralMeshes({ count: spec.count, seed: spec.seed, maxFaces: opts.maxFaces }), valFraction, spec.seed);
    case "shapes": {
      const split = (name: "train" | "val") => shapeMeshes({ count: spec.count, maxFaces: opts.maxFaces ?? 800, split: name });
      return { train: split("train"), val: split("val") };
    }
    case "pickle":
      return readShapeNetPickle(spec.path, { category: spec.category });
    case "folder":
      return splitTrainVal(await readMeshFolder(spec.path), valFraction, 0);
  }
}

/**
 * Train and val shard caches for `spec` under `cacheDir`, built on first use (sources read and
 * tokenized once) and reused while the spec, maxFaces, valFraction and tokenizer are unchanged.
 * A cache does not notice edits to the source files themselves: delete it to rebuild.
 */
export async function openShardedDataset(
  spec: DatasetSpec, opts: OpenOptions & { maxFaces: number; cacheDir: string; mmap?: boolean; log?: (line: string) => void },
): Promise<Splits<ShardDataset>> {
  await mkdir(opts.cacheDir, { recursive: true });
  const source = { spec, valFraction: opts.valFraction ?? 0.05 };
  const simplify = spec.kind === "folder" && (opts.simplify ?? true);
  const key = createHash("sha256").update(JSON.stringify({ ...source, maxFaces: opts.maxFaces, simplify })).digest("hex").slice(0, 12);
  let loaded: Promise<Splits<NamedMesh[]>> | null = null;
  const meshes = (split: "train" | "val") => async () => (await (loaded ??= openDataset(spec, opts)))[split];
  const open = (split: "train" | "val") =>
    openOrBuildShards(join(opts.cacheDir, `${spec.kind}-${key}-${split}.shards`), { maxFaces: opts.maxFaces, simplify, source: { ...source, split } }, meshes(split), opts);
  return { train: await open("train"), val: await open("val") };
}
