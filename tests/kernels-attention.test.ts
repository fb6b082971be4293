import { describe, expect, test } from "bun:test";
import { attentionBackward as cpuBackward, attentionForward as cpuForward } from "../src/cpu/attention.ts";
import { dot, gradcheck } from "../src/cpu/gradcheck.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { Tensor } from "../src/gpu/tensor.ts";
import { attentionBackward, attentionForward, type AttentionShape } from "../src/kernels/attention.ts";
import { lseToHeadMajor, maxAbsDiff, maxRelDiff, rand } from "./helpers.ts";

/**
 * Outputs and lse: absolute. Gradients: relative to the largest entry of each reference grad (or
 * to GRAD_FLOOR where that is smaller: with L = 1, dq and dk are exactly 0).
 */
const OUT_TOL = 2e-4;
const GRAD_TOL = 1e-3;
const GRAD_FLOOR = 1e-2;
/** Finite differences of the f32 GPU forward (eps 1e-2): relative error per coordinate. */
const FD_EPS = 1e-2;
const FD_TOL = 2e-2;
const HD = 32;

const gpu = Gpu.get();

/** Random q, k, v [B, L, H, 32] (scaled so that softmax rows are neither flat nor one-hot), on the GPU. */
function setup(B: number, L: number, H: number, seed: number) {
  const n = B * L * H * HD;
  const host = { q: rand(n, seed, 2), k: rand(n, seed + 1, 2), v: rand(n, seed + 2), dOut: rand(n, seed + 3) };
  const shape = [B, L, H, HD];
  const t = {
    q: gpu.upload(host.q, shape, "q"), k: gpu.upload(host.k, shape, "k"), v: gpu.upload(host.v, shape, "v"),
    dOut: gpu.upload(host.dOut, shape, "dOut"), out: gpu.tensor(shape, "f32", "out"), lse: gpu.tensor([B, H, L], "f32", "lse"),
    dq: gpu.tensor(shape, "f32", "dq"), dk: gpu.tensor(shape, "f32", "dk"), dv: gpu.tensor(shape, "f32", "dv"),
    delta: gpu.tensor([B, H, L], "f32", "delta"),
  };
  const free = () => Object.values(t).forEach((x: Tensor) => gpu.destroy(x));
  return { host, t, free, shape: { B, H, Lq: L, Lk: L, qOffset: 0 } as AttentionShape };
}

describe("attention", () => {
  for (const [B, L, H] of [[1, 1, 1], [2, 7, 3], [1, 65, 2], [2, 130, 2], [1, 300, 1]]) {
    test(`forward and backward match the CPU, B=${B} L=${L} H=${H}`, () => {
      const { host, t, free, shape } = setup(B, L, H, B * 100 + L + H);
      gpu.record((r) => {
        attentionForward(r, { q: t.q, k: t.k, v: t.v, out: t.out, lse: t.lse, shape });
        attentionBackward(r, { q: t.q, k: t.k, v: t.v, out: t.out, lse: t.lse, dOut: t.dOut, dq: t.dq, dk: t.dk, dv: t.dv, delta: t.delta, shape });
      });
      const ref = cpuForward(host.q, host.k, host.v, B, L, H, HD);
      expect(maxAbsDiff(gpu.read(t.out), ref.o)).toBeLessThan(OUT_TOL);
      expect(maxAbsDiff(gpu.read(t.lse), lseToHeadMajor(ref.lse, B, L, H))).toBeLessThan(OUT_TOL);
      const grad = cpuBackward(host.q, host.k, host.v, ref.o, ref.lse, host.dOut, B, L, H, HD);
      expect(maxRelDiff(gpu.read(t.dq), grad.dq, GRAD_FLOOR)).toBeLessThan(GRAD_TOL);
      expect(maxRelDiff(gpu.read(t.dk), grad.dk, GRAD_FLOOR)).toBeLessThan(GRAD_TOL);
      expect(maxRelDiff(gpu.read(t.dv), grad.dv, GRAD_FLOOR)).toBeLessThan(GRAD_TOL);
      free();
    }, 60_000); // the first test also compiles the kernels (seconds on lavapipe)
  }

  test("a long sequence (L = 2000) matches the CPU; L = 36000 runs in scripts/bench/attention.ts", () => {
    const B = 1, L = 2000, H = 1;
    const { host, t, free, shape } = setup(B, L, H, 17);
    gpu.record((r) => {
      attentionForward(r, { q: t.q, k: t.k, v: t.v, out: t.out, lse: t.lse, shape });
      attentionBackward(r, { q: t.q, k: t.k, v: t.v, out: t.out, lse: t.lse, dOut: t.dOut, dq: t.dq, dk: t.dk, dv: t.dv, delta: t.delta, shape });
    });
    const ref = cpuForward(host.q, host.k, host.v, B, L, H, HD);
    expect(maxAbsDiff(gpu.read(t.out), ref.o)).toBeLessThan(OUT_TOL);
    expect(maxAbsDiff(gpu.read(t.lse), ref.lse)).toBeLessThan(OUT_TOL);
    const grad = cpuBackward(host.q, host.k, host.v, ref.o, ref.lse, host.dOut, B, L, H, HD);
    expect(maxRelDiff(gpu.read(t.dq), grad.dq, GRAD_FLOOR)).toBeLessThan(GRAD_TOL);
    expect(maxRelDiff(gpu.read(t.dk), grad.dk, GRAD_FLOOR)).toBeLessThan(GRAD_TOL);
    expect(maxRelDiff(gpu.read(t.dv), grad.dv, GRAD_FLOOR)).toBeLessThan(GRAD_TOL);
    free();
  }, 60_000);

  test("cached decoding (Lq = 1 and 5 after a prefix, keys in a larger cache) matches rows of the full forward", () => {
    const B = 2, L = 37, H = 3, Lmax = 48, row = H * HD;
    const { host, t, free, shape } = setup(B, L, H, 23);
    gpu.record((r) => attentionForward(r, { q: t.q, k: t.k, v: t.v, out: t.out, lse: t.lse, shape }));
    const fullOut = gpu.read(t.out), fullLse = gpu.read(t.lse);
    // the cache [B, Lmax, H, 32] holds keys and values of positions 0..L-1; rows past L are junk
    const cache = (x: Float32Array) => {
      const c = rand(B * Lmax * row, 99, 100);
      for (let b = 0; b < B; b++) c.set(x.subarray(b * L * row, (b + 1) * L * row), b * Lmax * row);
      return gpu.upload(c, [B, Lmax, H, HD], "cache");
    };
    const kCache = cache(host.k), vCache = cache(host.v);
    for (const Lq of [1, 5]) {
      const past = L - Lq;
      const qStep = new Float32Array(B * Lq * row);
      for (let b = 0; b < B; b++) qStep.set(host.q.subarray((b * L + past) * row, (b + 1) * L * row), b * Lq * row);
      const tq = gpu.upload(qStep, [B, Lq, H, HD], "q step");
      const tout = gpu.tensor([B, Lq, H, HD], "f32", "out step"), tlse = gpu.tensor([B, H, Lq], "f32", "lse step");
      gpu.record((r) => attentionForward(r, { q: tq, k: kCache, v: vCache, out: tout, lse: tlse, shape: { B, H, Lq, Lk: L, qOffset: past, kvCapacity: Lmax } }));
      const out = gpu.read(tout), lse = gpu.read(tlse);
      for (let b = 0; b < B; b++) {
        expect(maxAbsDiff(out.subarray(b * Lq * row, (b + 1) * Lq * row), fullOut.subarray((b * L + past) * row, (b + 1) * L * row))).toBeLessThan(OUT_TOL);
        for (let h = 0; h < H; h++) {
          const at = (b * H + h) * L + past;
          expect(maxAbsDiff(lse.subarray((b * H + h) * Lq, (b * H + h + 1) * Lq), fullLse.subarray(at, at + Lq))).toBeLessThan(OUT_TOL);
        }
      }
      for (const x of [tq, tout, tlse]) gpu.destroy(x);
    }
    for (const x of [kCache, vCache]) gpu.destroy(x);
    free();
  }, 60_000);

  test("backward with a position offset equals the full backward when only the last rows have a gradient", () => {
    const B = 2, L = 37, H = 3, Lq = 5, past = L - Lq, row = H * HD;
    const { host, t, free, shape } = setup(B, L, H, 29);
    for (let b = 0; b < B; b++) host.dOut.fill(0, b * L * row, (b * L + past) * row);
    gpu.write(t.dOut, host.dOut);
    gpu.record((r) => {
      attentionForward(r, { q: t.q, k: t.k, v: t.v, out: t.out, lse: t.lse, shape });
      attentionBackward(r, { q: t.q, k: t.k, v: t.v, out: t.out, lse: t.lse, dOut: t.dOut, dq: t.dq, dk: t.dk, dv: t.dv, delta: t.delta, shape });
    });
    const full = { dq: gpu.read(t.dq), dk: gpu.read(t.dk), dv: gpu.read(t.dv) };
    const lastRows = (x: Float32Array) => {
      const out = new Float32Array(B * Lq * row);
      for (let b = 0; b < B; b++) out.set(x.subarray((b * L + past) * row, (b + 1) * L * row), b * Lq * row);
      return out;
    };
    const o = gpu.read(t.out) as Float32Array;
    const [tq, tout, tdOut] = [host.q, o, host.dOut].map((x) => gpu.upload(lastRows(x), [B, Lq, H, HD], "step"));
    const tlse = gpu.tensor([B, H, Lq], "f32", "lse"), tdelta = gpu.tensor([B, H, Lq], "f32", "delta");
    const tdq = gpu.tensor([B, Lq, H, HD], "f32", "dq");
    const s: AttentionShape = { B, H, Lq, Lk: L, qOffset: past };
    gpu.record((r) => {
      r.clear(t.dk);
      r.clear(t.dv);
      attentionForward(r, { q: tq, k: t.k, v: t.v, out: tout, lse: tlse, shape: s });
      attentionBackward(r, { q: tq, k: t.k, v: t.v, out: tout, lse: tlse, dOut: tdOut, dq: tdq, dk: t.dk, dv: t.dv, delta: tdelta, shape: s });
    });
    expect(maxRelDiff(gpu.read(tdq), lastRows(full.dq as Float32Array))).toBeLessThan(GRAD_TOL);
    expect(maxRelDiff(gpu.read(t.dk), full.dk, GRAD_FLOOR)).toBeLessThan(GRAD_TOL);
    expect(maxRelDiff(gpu.read(t.dv), full.dv, GRAD_FLOOR)).toBeLessThan(GRAD_TOL);
    for (const x of [tq, tout, tdOut, tlse, tdelta, tdq]) gpu.destroy(x);
    free();
  }, 60_000);

  test("strided rows: q, k, v read from one fused projection [B, L, 3, H, 32]", () => {
    const B = 2, L = 33, H = 2, D = H * HD, stride = 3 * D;
    const fused = rand(B * L * stride, 31, 2);
    const dOutFused = rand(B * L * stride, 32);
    const part = (x: Float32Array, which: number) => {
      const out = new Float32Array(B * L * D);
      for (let i = 0; i < B * L; i++) out.set(x.subarray(i * stride + which * D, i * stride + (which + 1) * D), i * D);
      return out;
    };
    const [q, k, v] = [0, 1, 2].map((w) => part(fused, w));
    const dOut = part(dOutFused, 0);
    // views of one buffer at offsets of D floats (D·4 = 256 bytes: the storage offset alignment)
    const tf = gpu.upload(fused, [B * L * stride], "qkv");
    const view = (which: number) => new Tensor(tf.buffer, [B * L * stride - 2 * D], "f32", which * D * 4, "qkv part", tf);
    const strided = (label: string, data?: Float32Array) => {
      const x = gpu.tensor([B * L * stride], "f32", label);
      if (data) gpu.write(x, data);
      return x;
    };
    const tout = strided("out"), tdOut = strided("dOut", dOutFused), tdq = strided("dq"), tdk = strided("dk"), tdv = strided("dv");
    const tlse = gpu.tensor([B, H, L], "f32", "lse"), tdelta = gpu.tensor([B, H, L], "f32", "delta");
    const s: AttentionShape = { B, H, Lq: L, Lk: L, qOffset: 0, qStride: stride, kvStride: stride };
    gpu.record((r) => {
      attentionForward(r, { q: view(0), k: view(1), v: view(2), out: tout, lse: tlse, shape: s });
      attentionBackward(r, { q: view(0), k: view(1), v: view(2), out: tout, lse: tlse, dOut: tdOut, dq: tdq, dk: tdk, dv: tdv, delta: tdelta, shape: s });
    });
    const ref = cpuForward(q, k, v, B, L, H, HD);
    const grad = cpuBackward(q, k, v, ref.o, ref.lse, dOut, B, L, H, HD);
    expect(maxAbsDiff(part(gpu.read(tout) as Float32Array, 0), ref.o)).toBeLessThan(OUT_TOL);
    expect(maxRelDiff(part(gpu.read(tdq) as Float32Array, 0), grad.dq)).toBeLessThan(GRAD_TOL);
    expect(maxRelDiff(part(gpu.read(tdk) as Float32Array, 0), grad.dk)).toBeLessThan(GRAD_TOL);
    expect(maxRelDiff(part(gpu.read(tdv) as Float32Array, 0), grad.dv)).toBeLessThan(GRAD_TOL);
    for (const x of [tf, tout, tdOut, tdq, tdk, tdv, tlse, tdelta]) gpu.destroy(x);
  }, 60_000);

  test("gradients match finite differences of the GPU forward", () => {
    const B = 1, L = 6, H = 2;
    const { host, t, free, shape } = setup(B, L, H, 41);
    const loss = () => {
      gpu.write(t.q, host.q);
      gpu.write(t.k, host.k);
      gpu.write(t.v, host.v);
      gpu.record((r) => attentionForward(r, { q: t.q, k: t.k, v: t.v, out: t.out, lse: t.lse, shape }));
      return dot(gpu.read(t.out), host.dOut);
    };
    loss();
    gpu.record((r) => attentionBackward(r, { q: t.q, k: t.k, v: t.v, out: t.out, lse: t.lse, dOut: t.dOut, dq: t.dq, dk: t.dk, dv: t.dv, delta: t.delta, shape }));
    const grads = [[host.q, gpu.read(t.dq)], [host.k, gpu.read(t.dk)], [host.v, gpu.read(t.dv)]] as const;
    for (const [param, grad] of grads) {
      const res = gradcheck(loss, param, grad, { count: 12, eps: FD_EPS, floor: 1e-2 });
      expect(res.maxError).toBeLessThan(FD_TOL);
    }
    free();
  }, 60_000);
});
