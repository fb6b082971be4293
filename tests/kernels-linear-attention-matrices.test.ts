import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { roundHalf } from "../src/cpu/half.ts";
import {
  linearAttentionBackward as cpuBackward, linearAttentionForward as cpuForward, linearAttentionRecurrent as cpuRecurrent,
} from "../src/cpu/linear-attention.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import {
  linearAttentionBackward, linearAttentionFinalState, linearAttentionForward, linearAttentionScratch, type RecurrenceChoice,
} from "../src/kernels/linear-attention.ts";
import { MATRICES_MEASURED_FASTER, recurrenceMatrices, type RecurrenceMatrices } from "../src/kernels/linear-attention-matrices.ts";
import { f16MatrixConfig } from "../src/kernels/matmul-subgroup-matrix.ts";
import { useTensorCores } from "../src/kernels/tensor-cores.ts";
import { alibiSlopes } from "../src/model/tables.ts";
import { maxRelDiff, rand } from "./helpers.ts";

// GPU kernels on lavapipe, compiled in the first test that uses them (bunfig.toml says why).
setDefaultTimeout(120_000);

/**
 * The recurrence on subgroup matrices against the CPU reference (f64) on the same inputs rounded
 * to f16, errors relative to the reference's largest magnitude. Beyond that rounding the kernel
 * rounds each masked score λ^{τ−υ}(x_τ·a_υ) and each decay-weighted a_υ to f16 once (2^-11
 * relative) and sums in f32: with inputs uniform in [−0.3, 0.3), outputs, final states and
 * gradients stay within 2^-10 (two f16 ulps of the largest magnitude; measured ≤ 4.2e-4 on
 * lavapipe, emulated). The backward roles run the same recurrence as the forward, so checking
 * them against the CPU backward, itself gradchecked (tests/cpu-attention.test.ts),
 * checks them; the SIMT kernel's own finite-difference test covers the passes' wiring.
 */
const TOL = 2 ** -10;
const HD = 32;
const SCALE = 0.3;

const gpu = Gpu.get();

function inputs(B: number, L: number, H: number, seed: number) {
  const n = B * L * H * HD;
  return { q: rand(n, seed, SCALE), k: rand(n, seed + 1, SCALE), v: rand(n, seed + 2, SCALE), dO: rand(n, seed + 3, SCALE) };
}

type Shape = { B: number; L: number; H: number; chunk?: number };

/** Forward, backward and the prefill state through the GPU, their recurrence chosen by `choice`. */
function runGpu(s: Shape, x: ReturnType<typeof inputs>, choice: RecurrenceChoice) {
  const shape = [s.B, s.L, s.H, HD];
  const [q, k, v, dO] = [x.q, x.k, x.v, x.dO].map((a) => gpu.upload(a, shape));
  const [o, dq, dk, dv] = [0, 1, 2, 3].map(() => gpu.tensor(shape));
  const prefill = gpu.tensor([s.B, s.H, HD, HD]);
  const scratch = linearAttentionScratch(gpu, s);
  const finalOfForward = gpu.tensor([s.B, s.H, HD, HD]);
  gpu.record((r) => {
    linearAttentionForward(r, { q, k, v, out: o, scratch, shape: s, ...choice });
    r.copy(scratch.final, finalOfForward);
    linearAttentionBackward(r, { q, k, v, dOut: dO, dq, dk, dv, scratch, shape: s, ...choice });
    linearAttentionFinalState(r, { k, v, state: prefill, shape: s, ...choice });
  });
  const res = { o: gpu.read(o), final: gpu.read(finalOfForward), prefill: gpu.read(prefill), dq: gpu.read(dq), dk: gpu.read(dk), dv: gpu.read(dv) };
  for (const t of [q, k, v, dO, o, dq, dk, dv, prefill, finalOfForward, scratch.states, scratch.final]) gpu.destroy(t);
  return res;
}

/** Every output of `runGpu` against the CPU reference on f16-rounded inputs; returns the errors. */
function check(s: Shape, matrices: RecurrenceMatrices, seed: number): Record<string, number> {
  const x = inputs(s.B, s.L, s.H, seed);
  const slopes = alibiSlopes(s.H);
  const [q, k, v, dO] = [x.q, x.k, x.v, x.dO].map(roundHalf);
  const got = runGpu(s, x, { matrices });
  const want = cpuBackward(q, k, v, dO, s.B, s.L, s.H, HD, slopes);
  const state = cpuRecurrent(q, k, v, s.B, s.L, s.H, HD, slopes).state;
  const errors = {
    o: maxRelDiff(got.o, cpuForward(q, k, v, s.B, s.L, s.H, HD, slopes)),
    final: maxRelDiff(got.final, state),
    prefill: maxRelDiff(got.prefill, state),
    dq: maxRelDiff(got.dq, want.dq),
    dk: maxRelDiff(got.dk, want.dk),
    dv: maxRelDiff(got.dv, want.dv),
  };
  for (const [key, err] of Object.entries(errors)) expect(err, key).toBeLessThan(TOL);
  return errors;
}

/**
 * Shapes: L not a multiple of the chunk, chunks shorter and longer than the kernel's 32-row
 * blocks (several blocks per chunk, the last one partial), B > 1, H > 1; H = 3 and 8 give
 * slopes from 2^-8/3 … 2^-1 (decays over a few rows to hundreds).
 */
const SHAPES: Shape[] = [
  { B: 2, L: 37, H: 3, chunk: 16 },
  { B: 2, L: 100, H: 3, chunk: 64 },
  { B: 1, L: 150, H: 8, chunk: 128 },
  { B: 2, L: 1, H: 3 },
];

const hasF16 = gpu.features.f16 && gpu.features.subgroups;
if (!hasF16) console.log(`kernels-linear-attention-matrices: skipped, the adapter lacks shader-f16 or subgroups (${gpu.describe()})`);

describe.skipIf(!hasF16)("linear attention on emulated subgroup matrices (the kernel's staging, masks, decays and roles)", () => {
  for (const [M, N, K] of [[8, 8, 8], [16, 8, 16]]) {
    const emulated: RecurrenceMatrices = { config: { component: "f16", result: "f32", M, N, K }, spelling: "emulated" };
    for (const s of M === 8 ? SHAPES : SHAPES.slice(1, 2)) {
      test(`${M}×${N}×${K}: forward, backward and final states match the CPU on f16 inputs, ${JSON.stringify(s)}`, () => {
        console.log(`errors ${M}×${N}×${K} ${JSON.stringify(s)}: ${JSON.stringify(check(s, emulated, s.L * 3 + s.H))}`);
      });
    }
  }
});

// Devices that offer f16 matrices must run the kernel: a problem there fails the first test.
const offered = hasF16 && f16MatrixConfig(gpu) !== null;
const real = recurrenceMatrices(gpu);
if (!offered) console.log(`kernels-linear-attention-matrices: real subgroup matrices skipped, ${real.problem} (${gpu.describe()}; configs: ${JSON.stringify(gpu.features.subgroupMatrix)})`);

describe.skipIf(!offered)("linear attention on subgroup matrices (tensor cores)", () => {
  test("the kernel compiles in one of Dawn's spellings", () => {
    expect(real.problem).toBeNull();
    console.log(`linear attention on subgroup matrices: ${JSON.stringify(real.matrices)}`);
  });

  for (const s of SHAPES) {
    test(`forward, backward and final states match the CPU on f16 inputs, ${JSON.stringify(s)}`, () => {
      console.log(`errors ${JSON.stringify(s)}: ${JSON.stringify(check(s, real.matrices!, s.L * 3 + s.H))}`);
    });
  }

  test("f16 calls pick the matrices by policy; f32 calls stay SIMT f32", () => {
    const s = { B: 1, L: 40, H: 2, chunk: 16 }, x = inputs(1, 40, 2, 9);
    const want = cpuForward(x.q, x.k, x.v, 1, 40, 2, HD, alibiSlopes(2));
    const matrices = runGpu(s, x, { matrices: real.matrices }), simt = runGpu(s, x, { matrices: null });
    expect(maxRelDiff(runGpu(s, x, {}).o, simt.o)).toBe(0);
    expect(maxRelDiff(simt.o, want)).toBeLessThan(1e-4);
    expect(maxRelDiff(matrices.o, want)).toBeGreaterThan(1e-5); // f16 operands show
    const f16 = runGpu(s, x, { precision: "f16" }).o;
    expect(maxRelDiff(f16, useTensorCores({ measuredFaster: MATRICES_MEASURED_FASTER }) ? matrices.o : simt.o)).toBe(0);
  });
});
