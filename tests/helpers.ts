/** What the kernel tests share: seeded random inputs and error measures. */
import { expect } from "bun:test";
import { join } from "node:path";
import { encodeSafetensors } from "../src/interop/safetensors.ts";
import { initParams, paramSpecs } from "../src/model/params.ts";
import { pcgHash, randomUniform } from "../src/util/rng.ts";
import { type Mesh, triangleMesh } from "../src/mesh/mesh.ts";
import { ModelConfigSchema } from "../src/model/config.ts";

/** Attention's lse from the CPU reference's [B, L, H] to the kernels' [B, H, L]. */
export const lseToHeadMajor = (lse: ArrayLike<number>, B: number, L: number, H: number) =>
  Float32Array.from({ length: B * H * L }, (_, i) => lse[(Math.floor(i / (H * L)) * L + (i % L)) * H + (Math.floor(i / L) % H)]);

/** n values uniform in [−scale, scale), f32, from a seed. */
export const rand = (n: number, seed: number, scale = 1) => Float32Array.from(randomUniform(n, seed, scale));

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** max |a − b| over max |b| (at least `floor`): the error relative to the reference's scale. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-30): number {
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  return maxAbsDiff(a, b) / Math.max(scale, floor);
}

/** A real mesh shipped in an npm package (devDependencies bunny, teapot, snowden). */
export function packageMesh(name: "bunny" | "teapot" | "snowden"): Mesh {
  const { positions, cells } = require(name) as { positions: number[][]; cells: number[][] };
  return triangleMesh(new Float32Array(positions.flat()), new Uint32Array(cells.flat()));
}

/** A checkpoint folder of a tiny random model (dim 64, at most 8 faces) under `dir`; returns its path. */
export async function writeTinyCheckpoint(dir: string): Promise<string> {
  const config = ModelConfigSchema.parse({ name: "test", dim: 64, heads: 2, blocksPerLevel: [2, 1, 2, 1, 2], fullPeriod: 2, vocab: 132, maxFaces: 8 });
  const params = initParams(config, 3);
  const tensors = Object.fromEntries(paramSpecs(config).map(({ name, shape }) => [name, { shape, data: params[name] }]));
  const checkpoint = join(dir, "checkpoint");
  await Bun.write(join(checkpoint, "model.safetensors"), encodeSafetensors(tensors, { config: JSON.stringify(config) }));
  return checkpoint;
}

/** B token rows of length L as the tokenizer lays them out: start row, 2–4 random faces, end row, pad. */
export function tokenRows(B: number, L: number, seed: number): Int32Array {
  const t = new Int32Array(B * L);
  for (let b = 0; b < B; b++) {
    const faces = 2 + (b % 3);
    for (let p = 0; p < L; p++) {
      const row = Math.floor(p / 9);
      t[b * L + p] = row === 0 ? 130 : row <= faces ? pcgHash(seed * 7919 + b * L + p) % 129 : row === faces + 1 ? 131 : 129;
    }
  }
  return t;
}
