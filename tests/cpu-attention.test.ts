import { describe, expect, test } from "bun:test";
import { attentionBackward, attentionForward } from "../src/cpu/attention.ts";
import { dot, gradcheck } from "../src/cpu/gradcheck.ts";
import {
  linearAttentionBackward, linearAttentionForward, linearAttentionRecurrent, linearAttentionStep,
} from "../src/cpu/linear-attention.ts";
import { alibiSlopes } from "../src/model/tables.ts";
import { randomUniform as rand } from "../src/util/rng.ts";

const TOL = 1e-6;
const B = 2, L = 7, H = 2, hd = 4, n = B * L * H * hd;
const at = (b: number, t: number, h: number) => ((b * L + t) * H + h) * hd;

function expectGradient(f: () => number, x: Float64Array, analytic: ArrayLike<number>): void {
  const r = gradcheck(f, x, analytic, { count: 24 });
  if (r.maxError > TOL) console.error("gradcheck worst", r.worst);
  expect(r.maxError).toBeLessThan(TOL);
}

describe("causal softmax attention", () => {
  const q = rand(n, 1, 2), k = rand(n, 2, 2), v = rand(n, 3);

  test("matches an explicit masked softmax; lse is the row log-sum-exp", () => {
    const { o, lse } = attentionForward(q, k, v, B, L, H, hd);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let t = 0; t < L; t++) {
          const s = Array.from({ length: L }, (_, u) =>
            u > t ? -Infinity : dot(q.subarray(at(b, t, h), at(b, t, h) + hd), k.subarray(at(b, u, h), at(b, u, h) + hd)) / Math.sqrt(hd));
          const z = s.reduce((acc, x) => acc + Math.exp(x), 0);
          expect(lse[(b * L + t) * H + h]).toBeCloseTo(Math.log(z), 12);
          for (let d = 0; d < hd; d++) {
            let expected = 0;
            for (let u = 0; u <= t; u++) expected += (Math.exp(s[u]) / z) * v[at(b, u, h) + d];
            expect(o[at(b, t, h) + d]).toBeCloseTo(expected, 12);
          }
        }
      }
    }
  });

  test("rows sum to one: constant values pass through; the first row sees only itself", () => {
    const { o } = attentionForward(q, k, new Float64Array(n).fill(1.5), B, L, H, hd);
    for (const x of o) expect(x).toBeCloseTo(1.5, 12);
    const first = attentionForward(q, k, v, B, L, H, hd).o;
    for (let d = 0; d < hd; d++) expect(first[at(1, 0, 1) + d]).toBeCloseTo(v[at(1, 0, 1) + d], 12);
  });

  test("causal: later keys and values do not change earlier rows", () => {
    const before = attentionForward(q, k, v, B, L, H, hd).o;
    const k2 = k.slice(), v2 = v.slice();
    for (let d = 0; d < hd; d++) { k2[at(0, 4, 1) + d] += 1; v2[at(0, 4, 1) + d] -= 1; }
    const after = attentionForward(q, k2, v2, B, L, H, hd).o;
    for (let i = 0; i < at(0, 4, 0); i++) expect(after[i]).toBe(before[i]);
    expect(after[at(0, 4, 1)]).not.toBe(before[at(0, 4, 1)]);
  });

  test("backward", () => {
    const r = rand(n, 4);
    const f = () => dot(attentionForward(q, k, v, B, L, H, hd).o, r);
    const { o, lse } = attentionForward(q, k, v, B, L, H, hd);
    const g = attentionBackward(q, k, v, o, lse, r, B, L, H, hd);
    expectGradient(f, q, g.dq);
    expectGradient(f, k, g.dk);
    expectGradient(f, v, g.dv);
  });
});

describe("decayed linear attention", () => {
  const q = rand(n, 5), k = rand(n, 6), v = rand(n, 7);
  const slopes = alibiSlopes(H);

  test("ALiBi slopes, as lightning_attn's _build_slope_tensor", () => {
    const log2 = (n: number) => [...alibiSlopes(n)].map(Math.log2);
    const expectLog2 = (heads: number, exponents: number[]) => {
      const got = log2(heads);
      expect(got.length).toBe(exponents.length);
      exponents.forEach((e, i) => expect(got[i]).toBeCloseTo(e, 6));
    };
    expectLog2(16, Array.from({ length: 16 }, (_, h) => -0.5 * (h + 1)));
    expectLog2(2, [-4, -8]);
    expectLog2(6, [-2, -4, -6, -8, -1, -3]);
    expectLog2(12, [-1, -2, -3, -4, -5, -6, -7, -8, -0.5, -1.5, -2.5, -3.5]);
  });

  test("hand-computed case: one head of dim 1", () => {
    const s = Float32Array.of(0.5);
    const o = linearAttentionForward(Float64Array.of(1, 2, 3), Float64Array.of(4, 5, 6), Float64Array.of(7, 8, 9), 1, 3, 1, 1, s);
    const e = Math.exp(-0.5);
    expect(o[0]).toBeCloseTo(1 * 4 * 7, 12);
    expect(o[1]).toBeCloseTo(2 * (e * 4 * 7 + 5 * 8), 12);
    expect(o[2]).toBeCloseTo(3 * (e * e * 4 * 7 + e * 5 * 8 + 6 * 9), 12);
  });

  test("quadratic and recurrent forms agree (f64 and f32)", () => {
    const quad = linearAttentionForward(q, k, v, B, L, H, hd, slopes);
    const rec = linearAttentionRecurrent(q, k, v, B, L, H, hd, slopes).o;
    for (let i = 0; i < n; i++) expect(rec[i]).toBeCloseTo(quad[i], 12);
    const [q32, k32, v32] = [q, k, v].map((x) => Float32Array.from(x));
    const quad32 = linearAttentionForward(q32, k32, v32, B, L, H, hd, slopes);
    const rec32 = linearAttentionRecurrent(q32, k32, v32, B, L, H, hd, slopes).o;
    expect(quad32).toBeInstanceOf(Float32Array);
    for (let i = 0; i < n; i++) expect(Math.abs(rec32[i] - quad[i])).toBeLessThan(1e-5);
  });

  test("a carried state continues the sequence; single steps reproduce it", () => {
    const full = linearAttentionRecurrent(q, k, v, B, L, H, hd, slopes);
    // Split after 3 rows: rows [B, 3, H, hd] then [B, 4, H, hd] (rows of each batch are contiguous).
    const rows = (x: Float64Array, from: number, to: number) => {
      const out = new Float64Array(B * (to - from) * H * hd);
      for (let b = 0; b < B; b++) out.set(x.subarray(at(b, from, 0), at(b, to, 0)), b * (to - from) * H * hd);
      return out;
    };
    const head = linearAttentionRecurrent(rows(q, 0, 3), rows(k, 0, 3), rows(v, 0, 3), B, 3, H, hd, slopes);
    const tail = linearAttentionRecurrent(rows(q, 3, L), rows(k, 3, L), rows(v, 3, L), B, L - 3, H, hd, slopes, head.state);
    const expectedTail = rows(full.o, 3, L);
    for (let i = 0; i < tail.o.length; i++) expect(tail.o[i]).toBeCloseTo(expectedTail[i], 12);
    for (let i = 0; i < full.state.length; i++) expect(tail.state[i]).toBeCloseTo(full.state[i], 12);

    const state = new Float64Array(B * H * hd * hd);
    for (let t = 0; t < L; t++) {
      const o = linearAttentionStep(rows(q, t, t + 1), rows(k, t, t + 1), rows(v, t, t + 1), state, B, H, hd, slopes);
      const expected = rows(full.o, t, t + 1);
      for (let i = 0; i < o.length; i++) expect(o[i]).toBeCloseTo(expected[i], 12);
    }
  });

  test("causal: later inputs do not change earlier rows", () => {
    const before = linearAttentionForward(q, k, v, B, L, H, hd, slopes);
    const v2 = v.slice();
    v2[at(1, 5, 0)] += 1;
    const after = linearAttentionForward(q, k, v2, B, L, H, hd, slopes);
    for (let i = 0; i < at(1, 5, 0); i++) expect(after[i]).toBe(before[i]);
    expect(after[at(1, 5, 0)]).not.toBe(before[at(1, 5, 0)]);
  });

  test("backward", () => {
    const r = rand(n, 8);
    const f = () => dot(linearAttentionForward(q, k, v, B, L, H, hd, slopes), r);
    const g = linearAttentionBackward(q, k, v, r, B, L, H, hd, slopes);
    expectGradient(f, q, g.dq);
    expectGradient(f, k, g.dk);
    expectGradient(f, v, g.dv);
  });
});
