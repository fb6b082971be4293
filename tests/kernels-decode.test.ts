/** The small kernels of cached decoding: strided row copies, one-position resampling, the cursor. */
import { expect, test } from "bun:test";
import { attentionForward } from "../src/cpu/attention.ts";
import { rmsnormForward } from "../src/cpu/rmsnorm.ts";
import { randomUniform } from "../src/cpu/rng.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { attentionDecode } from "../src/kernels/attention-decode.ts";
import { copyRows } from "../src/kernels/copy-rows.ts";
import { advanceCursor, embedAtCursor } from "../src/kernels/cursor.ts";
import { mean3, scaleAdd } from "../src/kernels/hourglass-step.ts";
import { maxAbsDiff, rand } from "./helpers.ts";

const gpu = Gpu.get();

test("copyRows appends rows into a cache and picks a row per sequence", () => {
  const B = 3, n = 2, W = 5, capacity = 7, start = 4;
  const x = rand(B * n * W, 1);
  const cache = rand(B * capacity * W, 2);
  const tx = gpu.upload(x), tcache = gpu.upload(cache), picked = gpu.tensor([B, W]);
  gpu.record((r) => {
    copyRows(r, { from: tx, to: tcache, copy: { B, rows: n, W, srcStride: n * W, srcRow: 0, dstStride: capacity * W, dstRow: start } });
    copyRows(r, { from: tcache, to: picked, copy: { B, rows: 1, W, srcStride: capacity * W, srcRow: start + 1, dstStride: W, dstRow: 0 } });
  });
  const expected = cache.slice();
  for (let b = 0; b < B; b++) expected.set(x.subarray(b * n * W, (b + 1) * n * W), (b * capacity + start) * W);
  expect(Array.from(gpu.read(tcache))).toEqual(Array.from(expected));
  const rows = Array.from({ length: B }, (_, b) => Array.from(x.subarray((b * n + 1) * W, (b * n + 2) * W))).flat();
  expect(Array.from(gpu.read(picked))).toEqual(rows);
  expect(() => gpu.record((r) => copyRows(r, { from: tx, to: tcache, copy: { B, rows: n, W, srcStride: n * W, srcRow: 0, dstStride: capacity * W, dstRow: 6 } }))).toThrow();
  [tx, tcache, picked].forEach((t) => gpu.destroy(t));
});

test("mean3 and scaleAdd match their formulas", () => {
  const n = 1000;
  const [a, b, c] = [rand(n, 3), rand(n, 4), rand(n, 5)];
  const weights = Float32Array.of(0.5, -1.25);
  const [ta, tb, tc, tw] = [a, b, c, weights].map((v) => gpu.upload(v));
  const mean = gpu.tensor([n]), added = gpu.tensor([n]);
  gpu.record((r) => {
    mean3(r, { a: ta, b: tb, c: tc, out: mean });
    scaleAdd(r, { coarse: ta, skip: tb, weights: tw, index: 1, out: added });
  });
  const m = gpu.read(mean), s = gpu.read(added);
  for (let i = 0; i < n; i++) {
    expect(m[i]).toBeCloseTo((a[i] + b[i] + c[i]) / 3, 6);
    expect(s[i]).toBeCloseTo(-1.25 * a[i] + b[i], 6);
  }
  [ta, tb, tc, tw, mean, added].forEach((t) => gpu.destroy(t));
});

test("the cursor: embed and normalise the token before it, note first end tokens, advance", () => {
  const B = 3, S = 12, D = 8, V = 132;
  const table = rand(V * D, 6);
  const normWeight = rand(D, 7);
  const tokens = new Int32Array(B * S).fill(129);
  // Row 0 ends at 9, row 1 at 10 (after a token at 9), row 2 never.
  tokens.set([131, 131], 0 * S + 9);
  tokens.set([7, 131], 1 * S + 9);
  tokens.set([3, 5, 8], 2 * S + 8);
  const tt = gpu.upload(tokens, [B, S]), tc = gpu.upload(Uint32Array.of(9)), ended = gpu.upload(new Int32Array(B));
  const tTable = gpu.upload(table, [V, D]), tNorm = gpu.upload(normWeight), out = gpu.tensor([B, D]);
  gpu.record((r) => {
    advanceCursor(r, { tokens: tt, cursor: tc, ended }); // looks at 9, cursor → 10
    advanceCursor(r, { tokens: tt, cursor: tc, ended }); // looks at 10, cursor → 11
    embedAtCursor(r, { tokens: tt, cursor: tc, table: tTable, normWeight: tNorm, out }); // tokens at 10
  });
  expect(gpu.read(tc)[0]).toBe(11);
  expect(Array.from(gpu.read(ended))).toEqual([9, 10, 0]);
  const rows = new Float32Array([131, 131, 8].flatMap((token) => Array.from(table.subarray(token * D, (token + 1) * D))));
  expect(maxAbsDiff(gpu.read(out), rmsnormForward(rows, normWeight, B, D).y)).toBeLessThan(1e-6);
  [tt, tc, ended, tTable, tNorm, out].forEach((t) => gpu.destroy(t));
});

test("attentionDecode: the last row of causal attention, from a cache with spare capacity", () => {
  const B = 2, H = 3, hd = 32, capacity = 260, row = H * hd;
  for (const Lk of [1, 5, 64, 65, 200, 260]) {
    const [q, k, v] = [1, 2, 3].map((i) => Float64Array.from(randomUniform(B * Lk * row, 10 * Lk + i, 2)));
    const want = attentionForward(q, k, v, B, Lk, H, hd).o;
    const last = new Float32Array(B * row), keys = new Float32Array(B * capacity * row), values = keys.slice();
    for (let b = 0; b < B; b++) {
      last.set(q.subarray((b * Lk + Lk - 1) * row, (b * Lk + Lk) * row), b * row);
      keys.set(k.subarray(b * Lk * row, (b + 1) * Lk * row), b * capacity * row);
      values.set(v.subarray(b * Lk * row, (b + 1) * Lk * row), b * capacity * row);
    }
    const [tq, tk, tv] = [last, keys, values].map((a) => gpu.upload(a));
    const out = gpu.tensor([B, row]);
    gpu.record((r) => attentionDecode(r, { q: tq, keys: tk, values: tv, out, shape: { B, H, Lk, capacity } }));
    const got = gpu.read(out);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < row; i++) expect(Math.abs(got[b * row + i] - want[(b * Lk + Lk - 1) * row + i])).toBeLessThan(1e-5);
    }
    [tq, tk, tv, out].forEach((t) => gpu.destroy(t));
  }
});
