import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { dot, gradcheck } from "../src/cpu/gradcheck.ts";
import { swigluBackward as cpuBackward, swigluForward as cpuForward } from "../src/cpu/swiglu.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { swigluBackward, swigluForward } from "../src/kernels/swiglu.ts";
import { rand } from "./helpers.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

/** |gpu − cpu| ≤ TOL · max(1, |cpu|): absolute for values up to 1, relative above (large |a|). */
const TOL = 1e-5;
/** Finite differences of the f32 GPU forward (eps 1e-2): relative error per coordinate. */
const FD_EPS = 1e-2;
const FD_TOL = 1e-2;

const gpu = Gpu.get();

function maxScaledDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let m = 0;
  for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  return m;
}

function run(a: Float32Array, b: Float32Array, dh: Float32Array) {
  const n = a.length;
  const t = [gpu.upload(a), gpu.upload(b), gpu.upload(dh), gpu.tensor([n]), gpu.tensor([n]), gpu.tensor([n])];
  const [ta, tb, tdh, th, tda, tdb] = t;
  gpu.record((r) => {
    swigluForward(r, { a: ta, b: tb, h: th });
    swigluBackward(r, { a: ta, b: tb, dh: tdh, da: tda, db: tdb });
  });
  const out = { h: gpu.read(th), da: gpu.read(tda), db: gpu.read(tdb) };
  t.forEach((x) => gpu.destroy(x));
  return out;
}

describe("swiglu", () => {
  for (const n of [1, 7, 1000, 3 * 1365]) {
    test(`forward and backward match the CPU, n=${n}`, () => {
      const a = rand(n, n, 6), b = rand(n, n + 1, 2), dh = rand(n, n + 2);
      const got = run(a, b, dh);
      const { da, dg } = cpuBackward(a, b, dh);
      expect(maxScaledDiff(got.h, cpuForward(a, b))).toBeLessThan(TOL);
      expect(maxScaledDiff(got.da, da)).toBeLessThan(TOL);
      expect(maxScaledDiff(got.db, dg)).toBeLessThan(TOL);
    });
  }

  test("stays finite and exact at large |a| (sigmoid saturates without overflow)", () => {
    const a = Float32Array.of(-1000, -100, -89, -30, 30, 89, 100, 1000);
    const b = new Float32Array(a.length).fill(0.5), dh = new Float32Array(a.length).fill(1);
    const got = run(a, b, dh);
    const { da, dg } = cpuBackward(a, b, dh);
    for (const v of [...got.h, ...got.da, ...got.db]) expect(Number.isFinite(v)).toBe(true);
    expect(maxScaledDiff(got.h, cpuForward(a, b))).toBeLessThan(TOL);
    expect(maxScaledDiff(got.da, da)).toBeLessThan(TOL);
    expect(maxScaledDiff(got.db, dg)).toBeLessThan(TOL);
  });

  test("gradients match finite differences of the GPU forward", () => {
    const n = 16;
    const a = rand(n, 3, 4), b = rand(n, 4), dh = rand(n, 5);
    const ta = gpu.upload(a), tb = gpu.upload(b), th = gpu.tensor([n]);
    const loss = () => {
      gpu.write(ta, a);
      gpu.write(tb, b);
      gpu.record((r) => swigluForward(r, { a: ta, b: tb, h: th }));
      return dot(gpu.read(th), dh);
    };
    const grads = run(a, b, dh);
    expect(gradcheck(loss, a, grads.da, { count: n, eps: FD_EPS, floor: 1e-2 }).maxError).toBeLessThan(FD_TOL);
    expect(gradcheck(loss, b, grads.db, { count: n, eps: FD_EPS, floor: 1e-2 }).maxError).toBeLessThan(FD_TOL);
    [ta, tb, th].forEach((x) => gpu.destroy(x));
  });
});
