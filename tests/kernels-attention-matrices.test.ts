import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { attentionBackward as cpuBackward, attentionForward as cpuForward } from "../src/cpu/attention.ts";
import { roundHalf } from "../src/cpu/half.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import type { Tensor } from "../src/gpu/tensor.ts";
import { attentionBackward, attentionForward, type AttentionShape } from "../src/kernels/attention.ts";
import { attentionMatrices, deviceAttentionMatrices, deviceAttentionProblem, MATRIX_ATTENTION_TILES, type AttentionMatrices } from "../src/kernels/attention-matrices.ts";
import { setTensorCores } from "../src/kernels/tensor-cores.ts";
import { f16AttentionErrors, lseToHeadMajor, maxAbsDiff, maxRelDiff, rand } from "./helpers.ts";

// GPU kernels on lavapipe, compiled in the first test that uses them (bunfig.toml says why): the
// emulated ones took 57 s cold on a busy 2-core machine, hence 3× that.
setDefaultTimeout(180_000);

/**
 * The tensor-core attention kernels against the CPU reference on the same f16-rounded q, k, v
 * (f32 dOut). Beyond the SIMT kernels' f32 arithmetic (2e-4 absolute, as tests/kernels-attention.test.ts),
 * the forward rounds P to f16 for P·V (each weight within 2^-11 relative, so out within
 * 2^-11·max|v| = 2^-11 here) and the f16 out is rounded once more (2^-11): out within 2e-4 + 2^-10;
 * lse is all f32 (2e-4). The backward rounds dOut (for dP and dV) and dS (for dq and dk) to f16:
 * each term within about 2^-11 relative, so gradients within 4e-3 of the largest reference entry
 * (the SIMT kernels: 1e-3). The backward is checked against the CPU reference backward, fed the
 * GPU's own out and lse; that reference is itself checked by finite differences
 * (tests/cpu-attention.test.ts), as are the SIMT kernels (tests/kernels-attention.test.ts).
 */
const LSE_TOL = 2e-4;
const OUT_TOL = 2e-4 + 2 ** -10;
const GRAD_TOL = 4e-3;
const GRAD_FLOOR = 1e-2;
const HD = 32;

const gpu = Gpu.get();
const ready = gpu.features.f16 && gpu.features.subgroups;
if (!ready) console.log(`kernels-attention-matrices: skipped, the adapter lacks shader-f16 or subgroups (${gpu.describe()})`);

/** Forward and backward of B×L×H heads on `matrices`, checked against the CPU. */
function check(matrices: AttentionMatrices, B: number, L: number, H: number): void {
  const e = f16AttentionErrors(gpu, B, L, H, matrices);
  expect(e.out).toBeLessThan(OUT_TOL);
  expect(e.lse).toBeLessThan(LSE_TOL);
  for (const name of ["dq", "dk", "dv"] as const) expect(e[name]).toBeLessThan(GRAD_TOL);
}

/**
 * The last Lq queries after `past` positions, keys and values in a cache of Lmax rows per batch
 * (rows past L junk), dOut zero on the earlier rows: out and lse are the CPU forward's last rows;
 * dq its last rows and dk, dv the whole of its backward (rows with zero dOut add nothing).
 */
function checkOffset(matrices: AttentionMatrices, B: number, L: number, H: number, Lq: number, Lmax: number): void {
  const row = H * HD, past = L - Lq, seed = 7 * L + Lq;
  const full = { q: roundHalf(rand(B * L * row, seed, 2)), k: roundHalf(rand(B * L * row, seed + 1, 2)), v: roundHalf(rand(B * L * row, seed + 2)), dOut: rand(B * L * row, seed + 3) };
  for (let b = 0; b < B; b++) full.dOut.fill(0, b * L * row, (b * L + past) * row);
  const lastRows = (x: Float32Array) => Float32Array.from({ length: B * Lq * row }, (_, i) => x[(Math.floor(i / (Lq * row)) * L + past) * row + (i % (Lq * row))]);
  const cached = (x: Float32Array) => {
    const c = rand(B * Lmax * row, seed + 4, 100);
    for (let b = 0; b < B; b++) c.set(x.subarray(b * L * row, (b + 1) * L * row), b * Lmax * row);
    return c;
  };
  const step = [B, Lq, H, HD], cache = [B, Lmax, H, HD];
  const t: Record<string, Tensor> = {
    q: gpu.upload(Float16Array.from(lastRows(full.q)), step, "q"), dOut: gpu.upload(lastRows(full.dOut), step, "dOut"),
    k: gpu.upload(Float16Array.from(cached(full.k)), cache, "k"), v: gpu.upload(Float16Array.from(cached(full.v)), cache, "v"),
    out: gpu.tensor(step, "f16", "out"), lse: gpu.tensor([B, H, Lq], "f32", "lse"), delta: gpu.tensor([B, H, Lq], "f32", "delta"),
    dq: gpu.tensor(step, "f32", "dq"), dk: gpu.tensor(cache, "f32", "dk"), dv: gpu.tensor(cache, "f32", "dv"),
  };
  try {
    const s: AttentionShape = { B, H, Lq, Lk: L, qOffset: past, kvCapacity: Lmax };
    gpu.record((r) => {
      attentionForward(r, { q: t.q, k: t.k, v: t.v, out: t.out, lse: t.lse, shape: s, matrices });
      attentionBackward(r, { q: t.q, k: t.k, v: t.v, out: t.out, lse: t.lse, dOut: t.dOut, dq: t.dq, dk: t.dk, dv: t.dv, delta: t.delta, shape: s, matrices });
    });
    const ref = cpuForward(full.q, full.k, full.v, B, L, H, HD);
    const out = Float32Array.from(gpu.read(t.out)), lse = Float32Array.from(gpu.read(t.lse));
    expect(maxAbsDiff(out, lastRows(ref.o))).toBeLessThan(OUT_TOL);
    const refLse = lseToHeadMajor(ref.lse, B, L, H);
    expect(maxAbsDiff(lse, Float32Array.from({ length: B * H * Lq }, (_, i) => refLse[Math.floor(i / Lq) * L + past + (i % Lq)]))).toBeLessThan(LSE_TOL);
    // the backward's reference reads the CPU forward's out and lse (the GPU's differ within the tolerances above)
    const grad = cpuBackward(full.q, full.k, full.v, ref.o, ref.lse, full.dOut, B, L, H, HD);
    expect(maxRelDiff(gpu.read(t.dq), lastRows(grad.dq), GRAD_FLOOR)).toBeLessThan(GRAD_TOL);
    const keys = (x: ArrayLike<number>) => Float32Array.from({ length: B * L * row }, (_, i) => x[Math.floor(i / (L * row)) * Lmax * row + (i % (L * row))]);
    expect(maxRelDiff(keys(gpu.read(t.dk)), grad.dk, GRAD_FLOOR)).toBeLessThan(GRAD_TOL);
    expect(maxRelDiff(keys(gpu.read(t.dv)), grad.dv, GRAD_FLOOR)).toBeLessThan(GRAD_TOL);
  } finally {
    Object.values(t).forEach((x) => gpu.destroy(x));
  }
}

const SHAPES = [[2, 7, 3], [1, 70, 2]] as const;
const OFFSET_CASE = "cached decoding: 5 queries after 40 positions, keys in a cache of 48 rows, B=2 H=2";

describe.skipIf(!ready)("attention on emulated subgroup matrices (the kernels' staging, masking, softmax and indexing)", () => {
  // Matrices emulated by every invocation (views of workgroup memory), in NVIDIA's 16×8×16 shape:
  // not square, so rows and columns cannot be confused, and few enough matrices per tile that
  // lavapipe compiles the three kernels in about a minute cold (8×4×8: two).
  const emulated: AttentionMatrices = {
    config: { component: "f16", result: "f32", M: 16, N: 8, K: 16 }, spelling: "emulated",
    subgroupSize: gpu.dev.info.subgroupMaxSize, tiles: MATRIX_ATTENTION_TILES,
  };
  for (const [B, L, H] of SHAPES) test(`forward and backward match the CPU, B=${B} L=${L} H=${H}`, () => check(emulated, B, L, H));
  test(OFFSET_CASE, () => checkOffset(emulated, 2, 45, 2, 5, 48));
});

const matrices = ready ? deviceAttentionMatrices(gpu) : null;
if (ready && !matrices) {
  console.log(`kernels-attention-matrices: real subgroup matrices skipped, ${deviceAttentionProblem(gpu) ?? "the device has no f16 × f16 → f32 subgroup-matrix configuration"} (${gpu.describe()}; configs: ${JSON.stringify(gpu.features.subgroupMatrix)})`);
}

describe.skipIf(!matrices)("attention on subgroup matrices (tensor cores)", () => {
  test("the kernels compile (in one of Dawn's spellings)", () => {
    expect(deviceAttentionProblem(gpu)).toBeNull();
    console.log(`attention on subgroup matrices: ${JSON.stringify(matrices!.config)}, builtins spelled with the majorness as a ${matrices!.spelling}, subgroup size ${matrices!.subgroupSize}`);
  });
  for (const [B, L, H] of SHAPES) test(`forward and backward match the CPU, B=${B} L=${L} H=${H}`, () => check(matrices!, B, L, H));
  test(OFFSET_CASE, () => checkOffset(matrices!, 2, 45, 2, 5, 48));
});

test("the policy: matrices only for f16 q, k, v, on a device that has them, under IFLAME_TENSOR_CORES=force", () => {
  const q16 = gpu.tensor([1, 4, 1, HD], "f16", "q"), q32 = gpu.tensor([1, 4, 1, HD], "f32", "q");
  const previous = setTensorCores("measured");
  try {
    expect(attentionMatrices(gpu, q16, HD)).toBeNull(); // unmeasured on a GPU: SIMT by default
    setTensorCores("force");
    expect(attentionMatrices(gpu, q16, HD)).toBe(ready ? deviceAttentionMatrices(gpu) : null);
    expect(attentionMatrices(gpu, q32, HD)).toBeNull();
    expect(attentionMatrices(gpu, q16, 36)).toBeNull(); // a head dim the matrices do not divide: SIMT
    setTensorCores("off");
    expect(attentionMatrices(gpu, q16, HD)).toBeNull();
  } finally {
    setTensorCores(previous);
    gpu.destroy(q16);
    gpu.destroy(q32);
  }
});
