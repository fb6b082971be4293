/** What the kernel tests share: seeded random inputs and error measures. */
import { expect } from "bun:test";
import { join } from "node:path";
import { attentionBackward as cpuAttentionBackward, attentionForward as cpuAttentionForward } from "../src/cpu/attention.ts";
import { roundHalf } from "../src/cpu/half.ts";
import type { Gpu } from "../src/gpu/runtime.ts";
import type { Tensor } from "../src/gpu/tensor.ts";
import { encodeSafetensors } from "../src/interop/safetensors.ts";
import { attentionBackward, attentionForward, type AttentionShape } from "../src/kernels/attention.ts";
import type { AttentionMatrices } from "../src/kernels/attention-matrices.ts";
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

/** The errors of one f16 attention case against the CPU reference (see f16AttentionErrors). */
export interface AttentionErrors {
  /** Largest absolute error of out (f16) and of lse ([B, H, L]). */
  out: number;
  lse: number;
  /** Largest error of each gradient relative to the reference's largest entry (floor 1e-2). */
  dq: number;
  dk: number;
  dv: number;
}

/**
 * Causal attention of B×L×H heads of 32 on the GPU with f16 q, k, v (random, rounded) and f32
 * dOut, forward then backward (`matrices` as attentionForward's: undefined lets attention.ts
 * choose), against the CPU reference on the same rounded inputs. The reference backward is fed the
 * GPU's own out and lse, so the gradients' errors are the backward's alone.
 */
export function f16AttentionErrors(gpu: Gpu, B: number, L: number, H: number, matrices?: AttentionMatrices): AttentionErrors {
  const HD = 32;
  const n = B * L * H * HD, shape = [B, L, H, HD];
  const seed = B * 100 + L + H;
  const host = { q: roundHalf(rand(n, seed, 2)), k: roundHalf(rand(n, seed + 1, 2)), v: roundHalf(rand(n, seed + 2)), dOut: rand(n, seed + 3) };
  const half = (x: Float32Array, label: string) => gpu.upload(Float16Array.from(x), shape, label);
  const t: Record<string, Tensor> = {
    q: half(host.q, "q"), k: half(host.k, "k"), v: half(host.v, "v"), dOut: gpu.upload(host.dOut, shape, "dOut"),
    out: gpu.tensor(shape, "f16", "out"), lse: gpu.tensor([B, H, L], "f32", "lse"), delta: gpu.tensor([B, H, L], "f32", "delta"),
    dq: gpu.tensor(shape, "f32", "dq"), dk: gpu.tensor(shape, "f32", "dk"), dv: gpu.tensor(shape, "f32", "dv"),
  };
  try {
    const s: AttentionShape = { B, H, Lq: L, Lk: L, qOffset: 0 };
    gpu.record((r) => {
      attentionForward(r, { q: t.q, k: t.k, v: t.v, out: t.out, lse: t.lse, shape: s, matrices });
      attentionBackward(r, { q: t.q, k: t.k, v: t.v, out: t.out, lse: t.lse, dOut: t.dOut, dq: t.dq, dk: t.dk, dv: t.dv, delta: t.delta, shape: s, matrices });
    });
    const ref = cpuAttentionForward(host.q, host.k, host.v, B, L, H, HD);
    const out = Float32Array.from(gpu.read(t.out)), lse = Float32Array.from(gpu.read(t.lse));
    // [B, H, L] (GPU) → [B, L, H] (CPU).
    const lseRows = Float32Array.from({ length: B * L * H }, (_, i) => lse[(Math.floor(i / (L * H)) * H + (i % H)) * L + (Math.floor(i / H) % L)]);
    const grad = cpuAttentionBackward(host.q, host.k, host.v, out, lseRows, host.dOut, B, L, H, HD);
    const gradError = (name: "dq" | "dk" | "dv") => maxRelDiff(gpu.read(t[name]), grad[name], 1e-2);
    return {
      out: maxAbsDiff(out, ref.o), lse: maxAbsDiff(lse, lseToHeadMajor(ref.lse, B, L, H)),
      dq: gradError("dq"), dk: gradError("dk"), dv: gradError("dv"),
    };
  } finally {
    Object.values(t).forEach((x) => gpu.destroy(x));
  }
}
