import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { adamwState, adamwStep as cpuAdamw, clipScale, globalGradNorm, muonStep as cpuMuon } from "../src/cpu/optim.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import type { Tensor } from "../src/gpu/tensor.ts";
import {
  MuonScratch, STEP, adamwStep, createGradNormPartials, createOptimStep, gradNorm, muonStep, readGradNorm, writeOptimStep,
} from "../src/kernels/optim.ts";
import { rand } from "./helpers.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

// Tolerances (GPU f32 vs the CPU reference, which sums in f64):
//   AdamW after several steps: |Δ| ≤ 1e-6 · max(|x|, max|x| / 10) per element of param, m and v
//   (the floor: an element near zero after cancellation keeps the rounding error of its inputs);
//   grad norm: ≤ 1e-5 relative; clip scale: ≤ 1e-5 relative;
//   Muon, after each of two steps: |Δparam| ≤ 1e-4 · lr·0.2·√max(rows, cols) per element, i.e. the
//   orthogonalised update (entries ~0.1..1) agrees to 1e-4 absolute; measured ~2e-6 (15 f32
//   matmuls against f64-summed CPU products). lr = 1 so that param resolves the update finely:
//   a 0.1% change of one Newton–Schulz coefficient then fails the test by ~40×.

const gpu = Gpu.get();
const owned: Tensor[] = [];
const keep = (t: Tensor) => (owned.push(t), t);
afterAll(() => owned.forEach((t) => gpu.destroy(t)));

const upload = (a: Float32Array) => keep(gpu.upload(a));
const read = (t: Tensor) => gpu.read(t) as Float32Array;

/** max_i |got_i − want_i| / max(|want_i|, floor) ≤ tol; floor defaults to a tenth of max|want|. */
function expectClose(got: Float32Array, want: ArrayLike<number>, tol: number, what: string, floor = -1): void {
  let worst = 0, at = 0;
  if (floor < 0) for (let i = 0; i < want.length; i++) floor = Math.max(floor, 0.1 * Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]) / Math.max(Math.abs(want[i]), floor);
    if (!(e <= worst)) [worst, at] = [e, i];
  }
  if (!(worst <= tol)) console.error(`${what}: worst ${worst} at ${at}: gpu ${got[at]} cpu ${want[at]}`);
  expect(worst).toBeLessThanOrEqual(tol);
}

describe("global gradient norm and clipping", () => {
  const sizes = [1, 7, 4097, 12345, 3 * 513];
  const grads = sizes.map((n, i) => rand(n, 100 + i, 0.01 * (i + 1)));
  const gradTensors = grads.map(upload);
  const partials = keep(createGradNormPartials(gpu, sizes));
  const step = keep(createOptimStep(gpu));

  test("norm over 5 odd-sized tensors, clip scale, deterministic", () => {
    const norm = globalGradNorm(grads);
    for (const maxNorm of [2 * norm, 0.1 * norm]) {
      gpu.record((r) => gradNorm(r, { grads: gradTensors, partials, step, maxNorm }));
      const got = readGradNorm(gpu, step);
      expect(Math.abs(got.norm - norm) / norm).toBeLessThanOrEqual(1e-5);
      expect(Math.abs(got.clipScale - clipScale(norm, maxNorm)) / clipScale(norm, maxNorm)).toBeLessThanOrEqual(1e-5);
      expect(got.nonFinite).toBe(false);
      expect(got.clipScale === 1).toBe(maxNorm > norm);
    }
    const first = read(step).slice();
    gpu.record((r) => gradNorm(r, { grads: gradTensors, partials, step, maxNorm: 0.1 * norm }));
    expect(Array.from(read(step))).toEqual(Array.from(first));
  });

  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
    test(`a ${bad} gradient sets the flag, and the update kernels then change nothing`, () => {
      const poisoned = grads[3].slice();
      poisoned[777] = bad;
      const tensors = [...gradTensors.slice(0, 3), upload(poisoned), gradTensors[4]];
      gpu.record((r) => gradNorm(r, { grads: tensors, partials, step }));
      const got = readGradNorm(gpu, step);
      expect(got.nonFinite).toBe(true);
      expect(Number.isFinite(got.norm)).toBe(false);

      const p = rand(poisoned.length, 7), zeros = new Float32Array(poisoned.length);
      const [pt, mt, vt] = [upload(p), upload(zeros), upload(zeros)];
      writeOptimStep(gpu, step, { lr: 1e-2, step: 1 });
      gpu.record((r) => adamwStep(r, { param: pt, grad: tensors[3], m: mt, v: vt, step }));
      expect(Array.from(read(pt))).toEqual(Array.from(p));
      expect(Array.from(read(mt))).toEqual(Array.from(zeros));
    });
  }
});

describe("AdamW vs src/cpu/optim.ts", () => {
  test("5 steps with a changing learning rate and clip scale", () => {
    const n = 1000 + 37;
    const p = rand(n, 1), cpuState = adamwState(n);
    const [pt, mt, vt] = [upload(p), upload(new Float32Array(n)), upload(new Float32Array(n))];
    const step = keep(createOptimStep(gpu));
    const partials = keep(createGradNormPartials(gpu, [n]));
    for (let t = 1; t <= 5; t++) {
      const g = rand(n, 10 + t, 0.5);
      const lr = 0.05 / t, maxNorm = t % 2 ? 1e9 : 2; // odd steps do not clip, even ones do
      const gt = upload(g);
      writeOptimStep(gpu, step, { lr, step: t });
      gpu.record((r) => {
        gradNorm(r, { grads: [gt], partials, step, maxNorm });
        adamwStep(r, { param: pt, grad: gt, m: mt, v: vt, step });
      });
      const scale = read(step)[STEP.clipScale]; // the GPU's f32 scale: the CPU then rounds alike
      if (t % 2 === 0) expect(scale).toBeLessThan(1);
      cpuAdamw(p, g.map((x) => x * scale), cpuState, { lr });
    }
    expectClose(read(pt), p, 1e-6, "param");
    expectClose(read(mt), cpuState.m, 1e-6, "m");
    expectClose(read(vt), cpuState.v, 1e-6, "v");
  });
});

describe("Muon vs src/cpu/optim.ts", () => {
  for (const [rows, cols] of [[5, 7], [64, 48], [48, 64], [7, 5]] as const) {
    test(`one step, then a second, on ${rows}×${cols}${rows > cols ? " (tall: transposed)" : ""}`, () => {
      const n = rows * cols;
      const count = 3; // a batch of equal-shape matrices, through a scratch of batch 2 (two groups)
      const params = Array.from({ length: count }, (_, i) => rand(n, 200 + i));
      const momenta = Array.from({ length: count }, () => new Float32Array(n));
      const tensors = params.map((p, i) => ({ param: upload(p), grad: upload(rand(n, 300 + i)), momentum: upload(momenta[i]) }));
      const scratch = new MuonScratch(gpu, rows, cols, 2);
      const step = keep(createOptimStep(gpu));
      const lr = 1; // a large step, so that param resolves the update to ~1e-7
      for (let s = 1; s <= 2; s++) {
        const grads = params.map((_, i) => rand(n, 1000 * s + i, 0.1 * (i + 1)));
        tensors.forEach((t, i) => gpu.write(t.grad, grads[i]));
        writeOptimStep(gpu, step, { lr, step: s });
        gpu.record((r) => muonStep(r, { matrices: tensors, scratch, step }));
        params.forEach((p, i) => cpuMuon(p, grads[i], momenta[i], rows, cols, { lr }));
        const stepSize = lr * 0.2 * Math.sqrt(Math.max(rows, cols)); // Δparam per unit of update
        tensors.forEach((t, i) => {
          expectClose(read(t.param), params[i], 1e-4 * stepSize, `param ${i} step ${s}`, 1);
          expectClose(read(t.momentum), momenta[i], 1e-6, `momentum ${i} step ${s}`);
        });
      }
      scratch.destroy();
    });
  }
});
