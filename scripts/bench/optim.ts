/**
 * Optimizer and sampling kernels at the ShapeNet sizes: AdamW over all ~75.7 M parameters as one
 * flat tensor, the global grad norm over the real list of parameter tensors and over one flat
 * tensor, Muon over the 168 block matrices (batched 16 at a time), sampling at B = 1 and 32.
 */
import { randomUniform } from "../../src/cpu/rng.ts";
import type { Gpu } from "../../src/gpu/runtime.ts";
import type { Tensor } from "../../src/gpu/tensor.ts";
import {
  MuonScratch, adamwStep, createGradNormPartials, createOptimStep, gradNorm, muonStep, writeOptimStep, type MuonMatrix,
} from "../../src/kernels/optim.ts";
import { sample } from "../../src/kernels/sampling.ts";
import type { BenchCase } from "./common.ts";

const D = 512, HIDDEN = 1365, VOCAB = 132, BLOCKS = 24;
const MUON_BATCH = 16;

/** Sizes of every ShapeNet parameter tensor (SPEC §2): blocks i % 4 ≠ 0 are linear attention. */
function shapeNetParameterSizes(): number[] {
  const sizes = [VOCAB * D, D, 2, VOCAB * D, VOCAB]; // embedding, norm, skip weights, output_proj
  for (let i = 1; i <= BLOCKS; i++) {
    sizes.push(D * D, D * D, D * D, D * D); // q, k, v, out
    sizes.push(HIDDEN * D, HIDDEN, HIDDEN * D, HIDDEN, D * HIDDEN, D); // proj1, proj2, proj3 with biases
    sizes.push(D, D); // norm1, norm2
    if (i % 4 !== 0) sizes.push(D); // attn.rms_norm
  }
  return sizes;
}

/**
 * A tensor of n pseudo-random values in ±scale, or [0, scale) when `positive` (a 1 Mi block of
 * stream `seed`, repeated). Not constants: an H100 compresses uniform data in memory, which
 * would flatter the bandwidth figures.
 */
function filled(gpu: Gpu, n: number, scale: number, label: string, seed: number, positive = false): Tensor {
  const t = gpu.tensor([n], "f32", label);
  const block = Float32Array.from(randomUniform(Math.min(n, 1 << 20), seed, scale), (x) => (positive ? Math.abs(x) : x));
  for (let at = 0; at < n; at += block.length) gpu.write(t, block.subarray(0, Math.min(block.length, n - at)), at);
  return t;
}

export function benchCases(gpu: Gpu): BenchCase[] {
  const sizes = shapeNetParameterSizes();
  const total = sizes.reduce((a, b) => a + b, 0);
  /** Every case owns its step tensor, so each case's dispose frees everything it made. */
  const makeStep = () => {
    const step = createOptimStep(gpu);
    writeOptimStep(gpu, step, { lr: 1e-3, step: 10 });
    return step;
  };
  const cases: BenchCase[] = [];

  {
    const [p, g, m, v] = ["param", "grad", "m", "v"].map((l, i) => filled(gpu, total, 1e-3, l, i, l === "v"));
    const step = makeStep();
    cases.push({
      name: "AdamW step", shape: `n=${total} (all parameters, flat)`, flops: 0, bytes: 7 * 4 * total,
      record: (r) => adamwStep(r, { param: p, grad: g, m, v, step }),
      dispose: () => [p, g, m, v, step].forEach((t) => gpu.destroy(t)),
    });
  }

  {
    const grads = sizes.map((n, i) => filled(gpu, n, 1e-3, `grad ${i}`, i));
    const partials = createGradNormPartials(gpu, sizes);
    const step = makeStep();
    cases.push({
      name: "grad norm + clip scale", shape: `${sizes.length} tensors, ${total} floats`, flops: 0, bytes: 4 * total,
      record: (r) => gradNorm(r, { grads, partials, step }),
      dispose: () => [...grads, partials, step].forEach((t) => gpu.destroy(t)),
    });
    const flat = filled(gpu, total, 1e-3, "flat grad", 0);
    const flatPartials = createGradNormPartials(gpu, [total]);
    const flatStep = makeStep();
    cases.push({
      name: "grad norm + clip scale", shape: `1 flat tensor, ${total} floats`, flops: 0, bytes: 4 * total,
      record: (r) => gradNorm(r, { grads: [flat], partials: flatPartials, step: flatStep }),
      dispose: () => [flat, flatPartials, flatStep].forEach((t) => gpu.destroy(t)),
    });
  }

  {
    const groups: { rows: number; cols: number; count: number }[] = [
      { rows: D, cols: D, count: 4 * BLOCKS }, // q, k, v, out
      { rows: HIDDEN, cols: D, count: 2 * BLOCKS }, // proj1, proj2 (tall)
      { rows: D, cols: HIDDEN, count: BLOCKS }, // proj3
    ];
    const step = makeStep();
    const owned: Tensor[] = [step];
    const work = groups.map(({ rows, cols, count }) => {
      const matrices: MuonMatrix[] = Array.from({ length: count }, (_, i) => {
        const [param, grad, momentum] = ["param", "grad", "momentum"].map((l, j) => filled(gpu, rows * cols, 1e-3, l, 3 * i + j));
        owned.push(param, grad, momentum);
        return { param, grad, momentum };
      });
      return { matrices, scratch: new MuonScratch(gpu, rows, cols, MUON_BATCH) };
    });
    // Per matrix and Newton–Schulz step (r = min, c = max): X·Xᵀ 2r²c, A·A 2r³, P·X 2r²c.
    const flops = groups.reduce((s, { rows, cols, count }) => {
      const r = Math.min(rows, cols), c = Math.max(rows, cols);
      return s + count * 5 * (4 * r * r * c + 2 * r * r * r);
    }, 0);
    const elements = groups.reduce((s, g) => s + g.count * g.rows * g.cols, 0);
    cases.push({
      name: "Muon step", shape: `168 matrices (96×512², 48×1365×512, 24×512×1365), batch ${MUON_BATCH}`,
      flops, bytes: 6 * 4 * elements, // param, grad, momentum in, param, momentum out, update
      record: (r) => work.forEach(({ matrices, scratch }) => muonStep(r, { matrices, scratch, step })),
      dispose: () => {
        owned.forEach((t) => gpu.destroy(t));
        work.forEach(({ scratch }) => scratch.destroy());
      },
    });
  }

  for (const B of [1, 32]) {
    const logits = filled(gpu, B * VOCAB, 4, "logits", B);
    const out = gpu.tensor([B], "i32", "tokens");
    cases.push({
      name: "sample (T, top-k 50, top-p 0.95)", shape: `B=${B} V=${VOCAB}`, flops: 0, bytes: 4 * B * VOCAB,
      record: (r) => sample(r, { logits: logits.reshape([B, VOCAB]), out, options: { temperature: 1, topK: 50, topP: 0.95, seed: 1, counter: 0 } }),
      dispose: () => [logits, out].forEach((t) => gpu.destroy(t)),
    });
  }

  return cases;
}
