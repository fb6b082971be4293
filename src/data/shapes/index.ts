/**
 * The built-in `shapes` dataset: furniture and tableware with parts and proportions
 * (shapes/families.ts), for learning something recognisable in minutes. Mesh i depends only on
 * i and the face budget: the seed is fixed, so the held-out split names the same objects in
 * every run. Each mesh is drawn at a random detail level and rebuilt coarser until it fits
 * `maxFaces` tokenized faces (so the tiny config gets coarse, simple objects and the ShapeNet
 * config finer ones); a draw that does not fit even at the coarsest level is redrawn.
 */
import { tokenizeMesh } from "../../tokenizer/index.ts";
import type { NamedMesh } from "../dataset.ts";
import { geometryToMesh } from "../procedural.ts";
import { mixSeed, SeededRandom } from "../random.ts";
import { Assembly, DETAIL_LEVELS } from "./assembly.ts";
import { SHAPE_FAMILIES, type ShapeFamily } from "./families.ts";

/** Fixed, so that shape i and its split are the same in every run. */
const SHAPES_SEED = 0x5a4e5;
const FAMILY_NAMES = Object.keys(SHAPE_FAMILIES) as ShapeFamily[];
/** Draws per mesh before giving up (small budgets reject the larger families). */
const ATTEMPTS = 64;

export const SHAPE_SPLITS = ["train", "val", "test"] as const;
export type ShapeSplit = (typeof SHAPE_SPLITS)[number];

/** 1 in 20 shapes is held out for testing, 1 in 20 for validation, by a hash of the index. */
export function shapeSplit(index: number): ShapeSplit {
  const bucket = mixSeed(SHAPES_SEED, 0x5b1, index) % 20;
  return bucket === 0 ? "test" : bucket === 1 ? "val" : "train";
}

export function shapeMesh(index: number, maxFaces: number): NamedMesh {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const seed = mixSeed(SHAPES_SEED, index, attempt);
    const choice = new SeededRandom(seed);
    const family = choice.pick(FAMILY_NAMES);
    for (let detail = choice.int(0, DETAIL_LEVELS - 1); detail >= 0; detail--) {
      // The same proportions at every detail level: the family's stream does not depend on it.
      const mesh = geometryToMesh(SHAPE_FAMILIES[family](new SeededRandom(mixSeed(seed, 1)), new Assembly(detail)));
      if (tokenizeMesh(mesh).faceCount <= maxFaces) return { name: `shapes/${index}-${family}`, mesh };
    }
  }
  throw new Error(`shapes: no object of ${ATTEMPTS} draws fits maxFaces ${maxFaces} (mesh ${index}); raise maxFaces`);
}

/** The meshes of `split` among shapes 0 .. count-1 (about 90% train, 5% val, 5% test). */
export function shapeMeshes(opts: { count: number; maxFaces: number; split: ShapeSplit }): NamedMesh[] {
  const meshes: NamedMesh[] = [];
  for (let i = 0; i < opts.count; i++) if (shapeSplit(i) === opts.split) meshes.push(shapeMesh(i, opts.maxFaces));
  return meshes;
}

/** The first `count` shapes of `split`, however far the indices run (for exporting a held-out set). */
export function firstShapes(opts: { count: number; maxFaces: number; split: ShapeSplit }): NamedMesh[] {
  const meshes: NamedMesh[] = [];
  for (let i = 0; meshes.length < opts.count; i++) if (shapeSplit(i) === opts.split) meshes.push(shapeMesh(i, opts.maxFaces));
  return meshes;
}
