import { describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  linearAttentionBackward as cpuBackward, linearAttentionForward as cpuForward,
  linearAttentionRecurrent as cpuRecurrent,
} from "../src/cpu/linear-attention.ts";
import { dot } from "../src/cpu/gradcheck.ts";
import { alibiSlopes } from "../src/model/tables.ts";
import { randomUniform } from "../src/util/rng.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import type { Tensor } from "../src/gpu/tensor.ts";
import {
  decaySlopes, linearAttentionBackward, linearAttentionFinalState, linearAttentionForward, linearAttentionScratch,
  linearAttentionStep, type LinearAttentionShape,
} from "../src/kernels/linear-attention.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

/**
 * Tolerances are relative to the largest magnitude of the reference (there is no normaliser, so
 * outputs grow with the sequence): forward, final state and decoding steps 1e-4; gradients 1e-3.
 * Inputs are uniform in [−0.3, 0.3).
 */
const FWD_TOL = 1e-4;
const BWD_TOL = 1e-3;
/** Finite differences of the f32 GPU forward; f is linear in each of q, k, v, so eps is free. */
const FD_EPS = 1e-2;
const FD_TOL = 1e-2;
const HD = 32;
const SCALE = 0.3;
/** The first test compiles the kernels: seconds on a CPU Vulkan driver with a cold shader cache. */
const TIMEOUT = 60_000;

const gpu = Gpu.get();
const rand = (n: number, seed: number) => Float32Array.from(randomUniform(n, seed, SCALE));

function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let diff = 0, max = 0;
  for (let i = 0; i < got.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    max = Math.max(max, Math.abs(want[i]));
  }
  return diff / Math.max(max, 1e-30);
}

function inputs(B: number, L: number, H: number, seed: number) {
  const n = B * L * H * HD;
  return { q: rand(n, seed), k: rand(n, seed + 1), v: rand(n, seed + 2), dO: rand(n, seed + 3) };
}

/** GPU forward (+ backward) on the given host arrays; returns the outputs and frees everything. */
function runGpu(s: LinearAttentionShape, x: ReturnType<typeof inputs>, backward: boolean) {
  const shape = [s.B, s.L, s.H, HD];
  const [q, k, v, dO] = [x.q, x.k, x.v, x.dO].map((a) => gpu.upload(a, shape));
  const [o, dq, dk, dv] = [0, 1, 2, 3].map(() => gpu.tensor(shape));
  const scratch = linearAttentionScratch(gpu, s);
  gpu.record((r) => {
    linearAttentionForward(r, { q, k, v, out: o, scratch, shape: s });
    if (backward) linearAttentionBackward(r, { q, k, v, dOut: dO, dq, dk, dv, scratch, shape: s });
  });
  const res = { o: gpu.read(o), dq: gpu.read(dq), dk: gpu.read(dk), dv: gpu.read(dv) };
  for (const t of [q, k, v, dO, o, dq, dk, dv, scratch.states, scratch.final]) gpu.destroy(t);
  return res;
}

describe("linear attention", () => {
  test("decay slopes are the ALiBi slopes (16 heads: 2^(−0.5(h+1)))", () => {
    expect(Array.from(decaySlopes(16))).toEqual(Array.from({ length: 16 }, (_, h) => Math.fround(Math.pow(2, -0.5 * (h + 1)))));
    for (const H of [1, 3, 4, 6]) expect(Array.from(decaySlopes(H))).toEqual(Array.from(alibiSlopes(H)));
  }, TIMEOUT);

  for (const [L, H, chunk] of [[1, 3, undefined], [5, 4, undefined], [63, 3, undefined], [65, 4, undefined], [200, 3, undefined], [200, 4, 16], [37, 3, 5]] as const) {
    test(`forward matches the CPU quadratic and recurrent forms, B=2 L=${L} H=${H} chunk=${chunk ?? "default"}`, () => {
      const s = { B: 2, L, H, chunk }, x = inputs(2, L, H, L * 10 + H);
      const slopes = alibiSlopes(H);
      const got = runGpu(s, x, false);
      expect(relErr(got.o, cpuForward(x.q, x.k, x.v, 2, L, H, HD, slopes))).toBeLessThan(FWD_TOL);
      expect(relErr(got.o, cpuRecurrent(x.q, x.k, x.v, 2, L, H, HD, slopes).o)).toBeLessThan(FWD_TOL);
    }, TIMEOUT);
  }

  for (const [L, H, chunk] of [[1, 3, undefined], [5, 4, undefined], [65, 3, undefined], [200, 4, undefined], [37, 3, 5]] as const) {
    test(`backward matches the CPU, B=2 L=${L} H=${H} chunk=${chunk ?? "default"}`, () => {
      const s = { B: 2, L, H, chunk }, x = inputs(2, L, H, L * 7 + H);
      const got = runGpu(s, x, true);
      const want = cpuBackward(x.q, x.k, x.v, x.dO, 2, L, H, HD, alibiSlopes(H));
      expect(relErr(got.dq, want.dq)).toBeLessThan(BWD_TOL);
      expect(relErr(got.dk, want.dk)).toBeLessThan(BWD_TOL);
      expect(relErr(got.dv, want.dv)).toBeLessThan(BWD_TOL);
    }, TIMEOUT);
  }

  test("gradients match finite differences of the GPU forward", () => {
    const s = { B: 1, L: 9, H: 2, chunk: 4 }, x = inputs(1, 9, 2, 5);
    const grads = runGpu(s, x, true);
    const f = () => dot(runGpu(s, x, false).o, x.dO);
    for (const [name, arr, g] of [["q", x.q, grads.dq], ["k", x.k, grads.dk], ["v", x.v, grads.dv]] as const) {
      for (const i of [0, 37, 100, 300, 575]) {
        const saved = arr[i];
        arr[i] = saved + FD_EPS;
        const plus = f();
        arr[i] = saved - FD_EPS;
        const minus = f();
        arr[i] = saved;
        const numeric = (plus - minus) / (2 * FD_EPS);
        const err = Math.abs(numeric - g[i]) / Math.max(Math.abs(numeric) + Math.abs(g[i]), 1e-3);
        expect(err, `d${name}[${i}]: ${g[i]} vs ${numeric}`).toBeLessThan(FD_TOL);
      }
    }
  }, TIMEOUT);

  test("the final state equals the CPU recurrent state, with and without a scratch", () => {
    const B = 2, L = 70, H = 3, s = { B, L, H, chunk: 16 }, x = inputs(B, L, H, 11);
    const want = cpuRecurrent(x.q, x.k, x.v, B, L, H, HD, alibiSlopes(H)).state;
    const k = gpu.upload(x.k), v = gpu.upload(x.v);
    const viaScratch = gpu.tensor([B, H, HD, HD]), direct = gpu.tensor([B, H, HD, HD]);
    const scratch = linearAttentionScratch(gpu, s);
    gpu.record((r) => {
      linearAttentionFinalState(r, { k, v, state: viaScratch, shape: s, scratch });
      linearAttentionFinalState(r, { k, v, state: direct, shape: s });
    });
    expect(relErr(gpu.read(viaScratch), want)).toBeLessThan(FWD_TOL);
    expect(relErr(gpu.read(direct), want)).toBeLessThan(FWD_TOL);
    for (const t of [k, v, viaScratch, direct, scratch.states, scratch.final]) gpu.destroy(t);
  }, TIMEOUT);

  test("decoding steps from a prefilled state reproduce the full forward row by row", () => {
    const B = 2, L = 24, H = 3, prompt = 10, x = inputs(B, L, H, 3);
    const full = cpuForward(x.q, x.k, x.v, B, L, H, HD, alibiSlopes(H));
    // row t of every batch as a step sees it: [B, H, 32]
    const row = (a: Float32Array, t: number) => {
      const out = new Float32Array(B * H * HD);
      for (let b = 0; b < B; b++) out.set(a.subarray((b * L + t) * H * HD, (b * L + t + 1) * H * HD), b * H * HD);
      return out;
    };
    const promptRows = (a: Float32Array) => {
      const out = new Float32Array(B * prompt * H * HD);
      for (let b = 0; b < B; b++) out.set(a.subarray(b * L * H * HD, (b * L + prompt) * H * HD), b * prompt * H * HD);
      return out;
    };
    const state = gpu.tensor([B, H, HD, HD]);
    const pk = gpu.upload(promptRows(x.k)), pv = gpu.upload(promptRows(x.v));
    gpu.record((r) => linearAttentionFinalState(r, { k: pk, v: pv, state, shape: { B, L: prompt, H } }));
    const [q, k, v, o] = [0, 1, 2, 3].map(() => gpu.tensor([B, H, HD]));
    const got: Float32Array[] = [];
    for (let t = prompt; t < L; t++) {
      gpu.write(q, row(x.q, t));
      gpu.write(k, row(x.k, t));
      gpu.write(v, row(x.v, t));
      gpu.record((r) => linearAttentionStep(r, { q, k, v, state, out: o }));
      got.push(gpu.read(o) as Float32Array);
    }
    for (let t = prompt; t < L; t++) expect(relErr(got[t - prompt], row(full, t))).toBeLessThan(FWD_TOL);
    for (const t of [state, pk, pv, q, k, v, o] as Tensor[]) gpu.destroy(t);
  }, TIMEOUT);

  test("a scratch is checked against the shape", () => {
    const scratch = linearAttentionScratch(gpu, { B: 1, L: 64, H: 2 });
    const t = gpu.tensor([1, 128, 2, HD]);
    expect(() => gpu.record((r) => linearAttentionForward(r, { q: t, k: t, v: t, out: t, scratch, shape: { B: 1, L: 128, H: 2 } }))).toThrow(/scratch/);
    for (const x of [t, scratch.states, scratch.final]) gpu.destroy(x);
  }, TIMEOUT);
});
