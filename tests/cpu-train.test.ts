import { describe, expect, test } from "bun:test";
import { crossEntropy, lossTargets } from "../src/cpu/cross-entropy.ts";
import { gradcheck } from "../src/cpu/gradcheck.ts";
import { matmulABt } from "../src/cpu/matmul.ts";
import {
  adamwState, adamwStep, clipScale, globalGradNorm, muonStep, newtonSchulz5,
} from "../src/cpu/optim.ts";
import { pcgHash, randomUniform as rand, uniform01 } from "../src/util/rng.ts";
import { sampleToken, samplingWeights } from "../src/cpu/sampling.ts";
import { TOKENS } from "../src/tokenizer/tokens.ts";
import { learningRate, usesMuon } from "../src/train/recipe.ts";

const PAD_TOKEN = TOKENS.pad;

describe("cross-entropy", () => {
  const N = 5, V = 6;
  const logits = rand(N * V, 1, 3);
  const targets = [2, PAD_TOKEN, 0, 5, PAD_TOKEN];

  test("mean over non-pad rows; pad rows have no loss and no gradient", () => {
    const { lossSum, count, dlogits } = crossEntropy(logits, targets, N, V);
    expect(count).toBe(3);
    let expected = 0;
    for (const n of [0, 2, 3]) {
      const row = [...logits.subarray(n * V, (n + 1) * V)];
      expected += Math.log(row.reduce((s, x) => s + Math.exp(x), 0)) - row[targets[n]];
    }
    expect(lossSum).toBeCloseTo(expected, 12);
    for (const n of [1, 4]) for (let c = 0; c < V; c++) expect(dlogits[n * V + c]).toBe(0);
    const changed = logits.slice();
    changed[1 * V + 3] += 5;
    expect(crossEntropy(changed, targets, N, V).lossSum).toBe(lossSum);
  });

  test("dlogits is the gradient of lossSum / count", () => {
    const f = () => { const r = crossEntropy(logits, targets, N, V); return r.lossSum / r.count; };
    const r = gradcheck(f, logits, crossEntropy(logits, targets, N, V).dlogits, { count: N * V });
    expect(r.maxError).toBeLessThan(1e-6);
  });

  test("argmax accuracy, first maximum wins ties", () => {
    const l = Float32Array.of(1, 3, 3, 0, /* row 2 */ 5, 0, 0, 0);
    expect(crossEntropy(l, [1, 0], 2, 4).correct).toBe(2);
    expect(crossEntropy(l, [2, 0], 2, 4).correct).toBe(1);
  });

  test("lossTargets: position p predicts token p+1, for 8 <= p <= L-2", () => {
    const B = 2, L = 18;
    const tokens = Array.from({ length: B * L }, (_, i) => i % 100);
    const t = lossTargets(tokens, B, L);
    for (let b = 0; b < B; b++) {
      for (let p = 0; p < L; p++) {
        const expected = p >= 8 && p <= L - 2 ? tokens[b * L + p + 1] : PAD_TOKEN;
        expect(t[b * L + p]).toBe(expected);
      }
    }
  });
});

/** Eigenvalues of a symmetric n×n matrix by cyclic Jacobi rotations. */
function symmetricEigenvalues(S: ArrayLike<number>, n: number): number[] {
  const A = Float64Array.from(S);
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p * n + q] ** 2;
    if (off < 1e-24) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(A[p * n + q]) < 1e-300) continue;
        const theta = 0.5 * Math.atan2(2 * A[p * n + q], A[q * n + q] - A[p * n + p]);
        const c = Math.cos(theta), s = Math.sin(theta);
        for (let k = 0; k < n; k++) { // A ← A J, then A ← Jᵀ A
          const akp = A[k * n + p], akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k], aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  return Array.from({ length: n }, (_, i) => A[i * n + i]);
}

/** Singular values of X [rows, cols] as square roots of the small Gram matrix's eigenvalues. */
function singularValues(X: Float32Array, rows: number, cols: number): number[] {
  const gram = rows <= cols ? matmulABt(X, X, rows, cols, rows) : matmulABt(transpose(X, rows, cols), transpose(X, rows, cols), cols, rows, cols);
  return symmetricEigenvalues(gram, Math.min(rows, cols)).map((e) => Math.sqrt(Math.max(e, 0)));
}

function transpose(X: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const T = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) T[j * rows + i] = X[i * cols + j];
  return T;
}

describe("optimizer", () => {
  test("Jacobi helper finds known singular values", () => {
    const X = Float32Array.of(3, 0, 0, 0, 0.5, 0); // diag(3, 0.5) padded to 2×3
    expect(singularValues(X, 2, 3).sort()).toEqual([0.5, 3]);
  });

  test("Newton–Schulz: singular values of the output in [0.5, 1.5], wide and tall", () => {
    for (const [rows, cols] of [[16, 40], [40, 16]]) {
      const G = rand(rows * cols, rows, 1);
      const before = singularValues(Float32Array.from(G), rows, cols);
      expect(Math.max(...before) / Math.min(...before)).toBeGreaterThan(3); // a real test input
      const sv = singularValues(newtonSchulz5(G, rows, cols), rows, cols);
      for (const s of sv) {
        expect(s).toBeGreaterThan(0.5);
        expect(s).toBeLessThan(1.5);
      }
    }
  });

  test("Newton–Schulz commutes with transposition and ignores the input scale", () => {
    const rows = 12, cols = 20, G = rand(rows * cols, 3);
    const wide = newtonSchulz5(G, rows, cols);
    const tall = newtonSchulz5(transpose(G, rows, cols), cols, rows);
    const scaled = newtonSchulz5(G.map((x) => 50 * x), rows, cols);
    const back = transpose(tall, cols, rows);
    for (let i = 0; i < wide.length; i++) {
      expect(back[i]).toBeCloseTo(wide[i], 5);
      expect(scaled[i]).toBeCloseTo(wide[i], 5);
    }
  });

  test("Muon step: Nesterov momentum, decoupled decay, lr·0.2·sqrt(max dim)", () => {
    const rows = 8, cols = 24, lr = 1e-3;
    const p0 = Float32Array.from(rand(rows * cols, 4)), g = rand(rows * cols, 5);
    const p = p0.slice(), buf = new Float32Array(rows * cols);
    muonStep(p, g, buf, rows, cols, { lr });
    for (let i = 0; i < g.length; i++) expect(buf[i]).toBeCloseTo(g[i], 6);
    // First step: u = g + 0.95·g, and Newton–Schulz ignores the scale.
    const O = newtonSchulz5(g, rows, cols);
    for (let i = 0; i < p.length; i++) {
      expect(p[i]).toBeCloseTo(p0[i] * (1 - lr * 0.1) - lr * 0.2 * Math.sqrt(cols) * O[i], 6);
    }
    // Second step with g2: buf = 0.95 g + g2, u = g2 + 0.95 buf.
    const g2 = rand(rows * cols, 6), p1 = p.slice();
    muonStep(p, g2, buf, rows, cols, { lr });
    const u = g2.map((x, i) => x + 0.95 * (0.95 * g[i] + x));
    const O2 = newtonSchulz5(u, rows, cols);
    for (let i = 0; i < p.length; i++) {
      expect(p[i]).toBeCloseTo(p1[i] * (1 - lr * 0.1) - lr * 0.2 * Math.sqrt(cols) * O2[i], 6);
    }
  });

  test("Muon/AdamW split as the reference's get_optimizer", () => {
    expect(usesMuon("encoder_blocks.0.0.attn.q_proj.weight", [512, 512])).toBe(true);
    expect(usesMuon("bottleneckd.1.feed_forward.proj3.weight", [512, 1365])).toBe(true);
    expect(usesMuon("embedding.weight", [132, 512])).toBe(true); // the reference only excludes "embed_tokens"
    expect(usesMuon("output_proj.weight", [132, 512])).toBe(false);
    expect(usesMuon("bottleneckd.1.feed_forward.proj3.bias", [512])).toBe(false);
    expect(usesMuon("skip_weights2", [2])).toBe(false);
  });

  test("AdamW part: bias-corrected, eps outside the correction, decoupled decay", () => {
    const lr = 1e-3, wd = 0.1, b1 = 0.95, b2 = 0.95, eps = 1e-8;
    // The last coordinate's gradients are ~eps, where eps's placement (outside the bias correction) shows.
    const p = Float64Array.of(0.5, -0.25, 1, 2), p0 = p.slice();
    const g1 = [0.3, -2, 1e-3, 2e-9], g2 = [-0.1, -1, 4, -3e-9];
    const state = adamwState(4);
    adamwStep(p, g1, state, { lr });
    // First step: m/√v = ±1 and the correction √(1−β2)/(1−β1) cancels it, so the step is ≈ lr·sign(g).
    for (let i = 0; i < 3; i++) expect(p[i]).toBeCloseTo(p0[i] * (1 - lr * wd) - lr * Math.sign(g1[i]), 6);
    const p1 = p.slice();
    adamwStep(p, g2, state, { lr });
    expect(state.step).toBe(2);
    for (let i = 0; i < 4; i++) {
      const m = (1 - b1) * (b1 * g1[i] + g2[i]);
      const v = (1 - b2) * (b2 * g1[i] ** 2 + g2[i] ** 2);
      const update = (m / (eps + Math.sqrt(v))) * (Math.sqrt(1 - b2 ** 2) / (1 - b1 ** 2));
      expect(p[i]).toBeCloseTo(p1[i] * (1 - lr * wd) - lr * update, 9);
    }
  });

  test("global grad norm and clip scale", () => {
    expect(globalGradNorm([Float32Array.of(3), Float64Array.of(0, 4)])).toBe(5);
    expect(clipScale(5)).toBeCloseTo(1 / 5, 6);
    expect(clipScale(5)).toBeLessThan(1 / 5);
    expect(clipScale(0.5)).toBe(1);
  });

  test("learning rate: linear warm-up over 10% of steps, cosine to 1.28e-6", () => {
    const total = 1000;
    expect(learningRate(0, total)).toBe(0);
    expect(learningRate(50, total)).toBeCloseTo(5e-4, 12);
    expect(learningRate(100, total)).toBeCloseTo(1e-3, 12);
    expect(learningRate(550, total)).toBeCloseTo(1.28e-6 + (1e-3 - 1.28e-6) * 0.5, 12);
    expect(learningRate(total, total)).toBeCloseTo(1.28e-6, 12);
    for (let s = 101; s <= total; s++) expect(learningRate(s, total)).toBeLessThan(learningRate(s - 1, total));
  });
});

describe("rng", () => {
  test("PCG hash and uniforms match an independent u32 implementation", () => {
    // Values from a Python implementation with explicit & 0xffffffff masking.
    expect([0, 1, 12345, 0xffffffff].map(pcgHash)).toEqual([129708002, 2831084092, 4099845390, 3861530882]);
    expect(uniform01(0, 0)).toBe(0.19039934873580933);
    expect(uniform01(1, 0)).toBe(0.9108019471168518);
    expect(uniform01(42, 7)).toBe(0.4519132971763611);
    expect(uniform01(0xdeadbeef, 123456789)).toBe(0.3376430869102478);
  });

  test("uniforms look uniform", () => {
    const n = 20000, bins = new Array(10).fill(0);
    for (let i = 0; i < n; i++) {
      const u = uniform01(7, i);
      expect(u >= 0 && u < 1).toBe(true);
      bins[Math.floor(u * 10)]++;
    }
    for (const c of bins) expect(Math.abs(c - n / 10)).toBeLessThan(150); // ~5σ
  });
});

describe("sampling", () => {
  const logits = [Math.log(0.5), Math.log(0.3), Math.log(0.2)]; // softmax = [0.5, 0.3, 0.2]
  const opts = { temperature: 1, topK: 0, topP: 0 };

  test("top-k and top-p keep the reference's tokens", () => {
    const w = (o: Partial<typeof opts>) => [...samplingWeights(logits, { ...opts, ...o })].map((x) => +x.toFixed(12));
    expect(w({})).toEqual([0.5, 0.3, 0.2]);
    expect(w({ topK: 2 })).toEqual([0.5, 0.3, 0]);
    expect(w({ topP: 0.6 })).toEqual([0.5, 0.3, 0]); // 0.5 ≤ 0.6 so the crossing token is kept
    expect(w({ topP: 0.4 })).toEqual([0.5, 0, 0]);
    expect(w({ topK: 1, topP: 0.99 })).toEqual([0.5, 0, 0]);
  });

  test("temperature and mask", () => {
    const hot = samplingWeights(logits, { ...opts, temperature: 1e6 });
    for (const x of hot) expect(x).toBeCloseTo(1 / 3, 5);
    const masked = samplingWeights(logits, { ...opts, mask: Uint8Array.of(0, 1, 1) });
    expect(masked[0]).toBe(0);
    expect(masked[1]).toBeCloseTo(0.6, 12);
    expect(() => samplingWeights(logits, { ...opts, mask: Uint8Array.of(0, 0, 0) })).toThrow();
  });

  test("the uniform picks by inverse CDF in token order", () => {
    const o = { ...opts, topK: 2 }; // weights [0.5, 0.3, 0]: token 0 below u = 0.625
    expect(sampleToken(logits, 0, o)).toBe(0);
    expect(sampleToken(logits, 0.62, o)).toBe(0);
    expect(sampleToken(logits, 0.63, o)).toBe(1);
    expect(sampleToken(logits, 0.999999, o)).toBe(1);
    const counts = [0, 0, 0];
    for (let i = 0; i < 10000; i++) counts[sampleToken(logits, uniform01(3, i), opts)]++;
    [0.5, 0.3, 0.2].forEach((p, i) => expect(Math.abs(counts[i] / 10000 - p)).toBeLessThan(0.025));
  });
});
