import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { randomUniform, uniform01 } from "../src/util/rng.ts";
import { sampleToken, samplingWeights, type SamplingOptions } from "../src/cpu/sampling.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import type { Tensor } from "../src/gpu/tensor.ts";
import { sample, sampleAtPosition, type SampleOptions } from "../src/kernels/sampling.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

// Tolerance: none. The GPU must choose the very token the CPU reference chooses for the same
// logits and (seed + row, counter); f32 vs f64 sums could only disagree when u or top-p falls
// within ~1e-7 of a boundary, which these fixed seeds do not hit.

const gpu = Gpu.get();
const V = 132;
const owned: Tensor[] = [];
const keep = (t: Tensor) => (owned.push(t), t);
afterAll(() => owned.forEach((t) => gpu.destroy(t)));

/** Logits of B rows with varied sharpness, from stream `seed`. */
function randomLogits(B: number, seed: number): Float32Array {
  const x = Float32Array.from(randomUniform(B * V, seed));
  for (let b = 0; b < B; b++) {
    const sharpness = 1 + 7 * uniform01(seed + 1, b);
    for (let i = 0; i < V; i++) x[b * V + i] *= sharpness;
  }
  return x;
}

function randomMask(B: number, seed: number, allowedShare: number): Uint8Array {
  const m = new Uint8Array(B * V);
  for (let i = 0; i < m.length; i++) m[i] = uniform01(seed, i) < allowedShare ? 1 : 0;
  for (let b = 0; b < B; b++) m[b * V + (b % V)] = 1; // never a fully masked row
  return m;
}

function runGpu(logits: Float32Array, mask: Uint8Array | null, B: number, opts: SampleOptions): Int32Array {
  const l = keep(gpu.upload(logits, [B, V], "logits"));
  const m = mask ? keep(gpu.upload(Uint32Array.from(mask), [B, V], "mask")) : undefined;
  const out = keep(gpu.tensor([B], "i32", "tokens"));
  gpu.record((r) => sample(r, { logits: l, mask: m, out, options: opts }));
  return gpu.read(out) as Int32Array;
}

function runCpu(logits: Float32Array, mask: Uint8Array | null, B: number, opts: SampleOptions): Int32Array {
  const out = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const cpuOpts: SamplingOptions = { temperature: opts.temperature, topK: opts.topK, topP: opts.topP };
    if (mask) cpuOpts.mask = mask.subarray(b * V, (b + 1) * V);
    out[b] = sampleToken(logits.subarray(b * V, (b + 1) * V), uniform01(opts.seed + b, opts.counter), cpuOpts);
  }
  return out;
}

describe("sampling vs src/cpu/sampling.ts", () => {
  const configs: { name: string; opts: SampleOptions; allowedShare: number | null }[] = [
    { name: "reference defaults", opts: { temperature: 1, topK: 50, topP: 0.95, seed: 11, counter: 0 }, allowedShare: null },
    { name: "cold, small k", opts: { temperature: 0.6, topK: 8, topP: 0.9, seed: 12, counter: 7 }, allowedShare: null },
    { name: "hot, no cuts", opts: { temperature: 1.7, topK: 0, topP: 0, seed: 13, counter: 99 }, allowedShare: null },
    { name: "nucleus only, masked", opts: { temperature: 1, topK: 0, topP: 0.5, seed: 14, counter: 3 }, allowedShare: 0.3 },
    { name: "k and p, sparse mask", opts: { temperature: 0.8, topK: 50, topP: 0.95, seed: 15, counter: 1 << 20 }, allowedShare: 0.05 },
  ];
  const rows = 40; // 5 configs × 40 = 200 rows

  for (const { name, opts, allowedShare } of configs) {
    test(`identical tokens: ${name}`, () => {
      const logits = randomLogits(rows, opts.seed * 100);
      const mask = allowedShare === null ? null : randomMask(rows, opts.seed * 100 + 1, allowedShare);
      const gpuTokens = runGpu(logits, mask, rows, opts);
      expect(Array.from(gpuTokens)).toEqual(Array.from(runCpu(logits, mask, rows, opts)));
      if (mask) for (let b = 0; b < rows; b++) expect(mask[b * V + gpuTokens[b]]).toBe(1);
    });
  }

  test("top-k = 1 is the argmax, ties to the lower id", () => {
    const B = 16;
    const logits = randomLogits(B, 21);
    for (let b = 0; b < B; b += 2) {
      const row = logits.subarray(b * V, (b + 1) * V);
      const hi = 100 + b;
      row[b + 3] = hi;
      row[b + 40] = hi; // a tie at a higher id loses
    }
    const tokens = runGpu(logits, null, B, { temperature: 1, topK: 1, topP: 0.95, seed: 5, counter: 0 });
    for (let b = 0; b < B; b++) {
      const row = logits.subarray(b * V, (b + 1) * V);
      let best = 0;
      for (let i = 1; i < V; i++) if (row[i] > row[best]) best = i;
      expect(tokens[b]).toBe(best);
    }
  });

  test("masked tokens are never chosen, even the most probable", () => {
    const B = 64;
    const logits = randomLogits(B, 31);
    const mask = randomMask(B, 32, 0.5);
    for (let b = 0; b < B; b++) {
      const top = (b * 7) % V;
      logits[b * V + top] = 50;
      mask[b * V + top] = 0;
      mask[b * V + ((top + 1) % V)] = 1;
    }
    const tokens = runGpu(logits, mask, B, { temperature: 2, topK: 0, topP: 0, seed: 9, counter: 4 });
    for (let b = 0; b < B; b++) expect(mask[b * V + tokens[b]]).toBe(1);
  });

  test("the token histogram matches the kept probabilities (chi-square)", () => {
    const B = 4096;
    const row = randomLogits(1, 41).map((x) => x * 0.5);
    const logits = new Float32Array(B * V);
    for (let b = 0; b < B; b++) logits.set(row, b * V);
    const opts = { temperature: 1, topK: 30, topP: 0.9 };
    const counts = new Float64Array(V);
    for (let counter = 0; counter < 3; counter++) {
      for (const t of runGpu(logits, null, B, { ...opts, seed: 1000, counter })) counts[t]++;
    }
    const w = samplingWeights(row, opts);
    const total = w.reduce((s, x) => s + x, 0);
    const draws = 3 * B;
    let chi2 = 0, dof = -1;
    for (let i = 0; i < V; i++) {
      if (w[i] === 0) {
        expect(counts[i]).toBe(0);
        continue;
      }
      const expected = (draws * w[i]) / total;
      chi2 += (counts[i] - expected) ** 2 / expected;
      dof++;
    }
    // mean dof, sd √(2 dof): 6 sd is far beyond chance and far below a wrong distribution.
    expect(chi2).toBeLessThan(dof + 6 * Math.sqrt(2 * dof));
  });

  test("position from GPU memory: counter + position, written into the sequence buffer", () => {
    const B = 8, seqLen = 10;
    const logits = randomLogits(B, 51);
    const l = keep(gpu.upload(logits, [B, V]));
    const tokens = keep(gpu.upload(new Int32Array(B * seqLen).fill(-1), [B, seqLen]));
    const position = keep(gpu.upload(Uint32Array.of(6), [1]));
    const opts = { temperature: 1, topK: 50, topP: 0.95, seed: 77, counter: 1000 };
    gpu.record((r) => sampleAtPosition(r, { logits: l, tokens, position, options: opts }));
    const got = gpu.read(tokens) as Int32Array;
    const expected = runCpu(logits, null, B, { ...opts, counter: opts.counter + 6 });
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < seqLen; t++) expect(got[b * seqLen + t]).toBe(t === 6 ? expected[b] : -1);
    }
    gpu.write(position, Uint32Array.of(seqLen)); // past the end: nothing is written
    gpu.record((r) => sampleAtPosition(r, { logits: l, tokens, position, options: opts }));
    expect(Array.from(gpu.read(tokens) as Int32Array)).toEqual(Array.from(got));
  });
});
