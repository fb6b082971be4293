/** The shapes every data source hands to the shard cache and the batcher. */
import type { Mesh } from "../mesh/mesh.ts";
import { mixSeed, permutation } from "./random.ts";

export interface NamedMesh {
  /** Where the mesh came from: a ShapeNet name, a path relative to the folder, a procedural id. */
  name: string;
  mesh: Mesh;
}

export interface Splits<T> {
  train: T;
  val: T;
}

/**
 * A seeded split for sources without their own (folders, procedural): `valFraction` of the
 * items, at least one when there are two or more, go to validation; order within each part is
 * the input order.
 */
export function splitTrainVal<T>(items: T[], valFraction: number, seed: number): Splits<T[]> {
  if (!(valFraction >= 0 && valFraction < 1)) throw new Error(`valFraction must be in [0, 1), got ${valFraction}`);
  const valCount = items.length < 2 ? 0 : Math.max(valFraction > 0 ? 1 : 0, Math.round(items.length * valFraction));
  const isVal = new Uint8Array(items.length);
  permutation(items.length, mixSeed(seed, 0x5e1)).subarray(0, valCount).forEach((i) => (isVal[i] = 1));
  return { train: items.filter((_, i) => !isVal[i]), val: items.filter((_, i) => isVal[i]) };
}
