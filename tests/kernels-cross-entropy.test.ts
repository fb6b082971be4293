import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { crossEntropy as cpuCrossEntropy, lossTargets } from "../src/cpu/cross-entropy.ts";
import { gradcheck } from "../src/cpu/gradcheck.ts";
import { randomUniform, uniform01 } from "../src/util/rng.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { countTargets, crossEntropy, crossEntropyScratchSize } from "../src/kernels/cross-entropy.ts";
import { TOKENS } from "../src/tokenizer/tokens.ts";
import { maxAbsDiff } from "./helpers.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const PAD_TOKEN = TOKENS.pad;

/** dlogits: absolute; the loss sum: relative; count and correct: exact. */
const ABS_TOL = 1e-5;
const REL_TOL = 1e-4;
const FD_EPS = 1e-2;
const FD_TOL = 1e-2;

const gpu = Gpu.get();

/** Tokens like a training sequence: 9 start tokens, random ones, then a pad tail of `pad` tokens. */
function randomTokens(B: number, L: number, V: number, pad: number, seed: number): Int32Array {
  const tokens = new Int32Array(B * L);
  for (let b = 0; b < B; b++) {
    for (let p = 0; p < L; p++) {
      const i = b * L + p;
      tokens[i] = p < 9 ? 130 % V : p >= L - pad ? PAD_TOKEN : Math.floor(uniform01(seed, i) * V);
    }
  }
  return tokens;
}

function run(logits: Float32Array, tokens: Int32Array, B: number, L: number, V: number, prior?: Float32Array) {
  const count = countTargets(tokens, B, L);
  const t = {
    logits: gpu.upload(logits, [B * L, V]), tokens: gpu.upload(tokens, [B, L]), scale: gpu.upload(Float32Array.of(count ? 1 / count : 0)),
    dlogits: gpu.tensor([B * L * V]), stats: gpu.upload(prior ?? new Float32Array(3)),
    scratch: gpu.tensor([crossEntropyScratchSize(B, L)]),
  };
  gpu.record((r) => crossEntropy(r, { ...t, accumulate: prior !== undefined }));
  const out = { count, dlogits: gpu.read(t.dlogits) as Float32Array, stats: gpu.read(t.stats) as Float32Array };
  Object.values(t).forEach((x) => gpu.destroy(x));
  return out;
}

describe("cross-entropy", () => {
  for (const [B, L, V, pad] of [[1, 9, 132, 0], [1, 10, 132, 0], [2, 27, 132, 9], [3, 50, 132, 20], [2, 36, 200, 4], [4, 1000, 132, 400]]) {
    test(`matches the CPU, B=${B} L=${L} V=${V} pad=${pad}`, () => {
      const logits = Float32Array.from(randomUniform(B * L * V, B + L + V, 4));
      const tokens = randomTokens(B, L, V, pad, L);
      const got = run(logits, tokens, B, L, V);
      const ref = cpuCrossEntropy(logits, lossTargets(tokens, B, L), B * L, V);
      expect(got.count).toBe(ref.count);
      expect(got.stats[1]).toBe(ref.count);
      expect(got.stats[2]).toBe(ref.correct);
      expect(Math.abs(got.stats[0] - ref.lossSum)).toBeLessThanOrEqual(REL_TOL * Math.abs(ref.lossSum));
      expect(maxAbsDiff(got.dlogits, ref.dlogits)).toBeLessThan(ABS_TOL);
    });
  }

  test("argmax ties go to the first class; large logits stay finite", () => {
    const B = 1, L = 12, V = 132;
    const logits = new Float32Array(B * L * V);
    logits.fill(80, 9 * V, 10 * V); // row 9: all equal → argmax 0
    logits[10 * V + 7] = 1e4; // row 10: one huge logit (exp would overflow without the max shift)
    // Targets of rows 8, 9, 10: 5 (wrong: all-zero row → argmax 0), 0 (right by the tie rule), 7 (right).
    const tokens = Int32Array.from({ length: L }, (_, p) => (p === 10 ? 0 : p === 11 ? 7 : 5));
    const got = run(logits, tokens, B, L, V);
    const ref = cpuCrossEntropy(logits, lossTargets(tokens, B, L), B * L, V);
    expect([ref.count, ref.correct]).toEqual([3, 2]);
    expect([got.stats[1], got.stats[2]]).toEqual([3, 2]);
    expect(Math.abs(got.stats[0] - ref.lossSum)).toBeLessThanOrEqual(REL_TOL * ref.lossSum);
    expect(got.dlogits.every(Number.isFinite)).toBe(true);
    expect(maxAbsDiff(got.dlogits, ref.dlogits)).toBeLessThan(ABS_TOL);
  });

  test("all targets pad: zero count, loss and gradient", () => {
    const B = 2, L = 18, V = 132;
    const tokens = new Int32Array(B * L).fill(PAD_TOKEN);
    const got = run(Float32Array.from(randomUniform(B * L * V, 3)), tokens, B, L, V);
    expect([...got.stats]).toEqual([0, 0, 0]);
    expect(got.dlogits.every((v) => v === 0)).toBe(true);
  });

  test("accumulate adds the stats of another micro-batch", () => {
    const B = 2, L = 27, V = 132;
    const logits = Float32Array.from(randomUniform(B * L * V, 9, 3));
    const tokens = randomTokens(B, L, V, 5, 9);
    const alone = run(logits, tokens, B, L, V).stats;
    const summed = run(logits, tokens, B, L, V, Float32Array.of(10, 20, 30)).stats;
    expect(summed[0]).toBeCloseTo(alone[0] + 10, 4);
    expect([summed[1], summed[2]]).toEqual([alone[1] + 20, alone[2] + 30]);
  });

  test("dlogits matches finite differences of the GPU mean loss", () => {
    const B = 1, L = 13, V = 6;
    const logits = Float32Array.from(randomUniform(B * L * V, 21, 2));
    const tokens = randomTokens(B, L, V, 0, 4);
    const { dlogits, count } = run(logits, tokens, B, L, V);
    const loss = () => run(logits, tokens, B, L, V).stats[0] / count;
    // Rows 8..11 have targets; check all their logits.
    const kept = logits.subarray(8 * V, 12 * V);
    const res = gradcheck(loss, kept, dlogits.subarray(8 * V, 12 * V), { count: kept.length, eps: FD_EPS, floor: 1e-2 });
    expect(res.maxError).toBeLessThan(FD_TOL);
  });
});
