import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { dot, gradcheck } from "../src/cpu/gradcheck.ts";
import {
  avgpool3Backward, avgpool3Forward, shiftBackward, shiftForward, skipAddBackward, skipAddForward,
  upsample3Backward, upsample3Forward,
} from "../src/cpu/hourglass.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import {
  avgPool3Backward, avgPool3Forward, upsampleScratchSize, upsampleShiftAddBackward, upsampleShiftAddForward,
} from "../src/kernels/hourglass.ts";
import { maxAbsDiff, rand } from "./helpers.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

/** Elementwise results: absolute; dw (a sum over the whole tensor): relative. */
const ABS_TOL = 1e-5;
const REL_TOL = 1e-4;
const FD_EPS = 1e-2;
const FD_TOL = 1e-2;

const gpu = Gpu.get();

const SHAPES: [number, number, number][] = [[1, 9, 16], [2, 27, 100], [3, 36, 512], [1, 3, 5]];

describe("avgpool3", () => {
  for (const [B, L, D] of SHAPES) {
    test(`forward and backward (plain and accumulating) match the CPU, B=${B} L=${L} D=${D}`, () => {
      const Lc = L / 3;
      const x = rand(B * L * D, L + D), dy = rand(B * Lc * D, L + D + 1), prior = rand(B * L * D, 5);
      const tx = gpu.upload(x, [B * L, D]), tdy = gpu.upload(dy), ty = gpu.tensor([B * Lc * D]), tdx = gpu.tensor([B * L, D]);
      const tacc = gpu.upload(prior, [B * L, D]);
      gpu.record((r) => {
        avgPool3Forward(r, { x: tx, y: ty, B });
        avgPool3Backward(r, { dy: tdy, dx: tdx, B });
        avgPool3Backward(r, { dy: tdy, dx: tacc, B, accumulate: true });
      });
      const dx = avgpool3Backward(dy, B, L, D);
      expect(maxAbsDiff(gpu.read(ty), avgpool3Forward(x, B, L, D))).toBeLessThan(ABS_TOL);
      expect(maxAbsDiff(gpu.read(tdx), dx)).toBeLessThan(ABS_TOL);
      expect(maxAbsDiff(gpu.read(tacc), dx.map((v, i) => v + prior[i]))).toBeLessThan(ABS_TOL);
      [tx, tdy, ty, tdx, tacc].forEach((t) => gpu.destroy(t));
    });
  }

  test("backward matches finite differences of the GPU forward", () => {
    const B = 1, L = 6, D = 2;
    const x = rand(B * L * D, 1), g = rand(B * 2 * D, 2);
    const tx = gpu.upload(x, [B * L, D]), ty = gpu.tensor([B * 2 * D]), tg = gpu.upload(g), tdx = gpu.tensor([B * L, D]);
    const loss = () => {
      gpu.write(tx, x);
      gpu.record((r) => avgPool3Forward(r, { x: tx, y: ty, B }));
      return dot(gpu.read(ty), g);
    };
    gpu.record((r) => avgPool3Backward(r, { dy: tg, dx: tdx, B }));
    expect(gradcheck(loss, x, gpu.read(tdx), { count: x.length, eps: FD_EPS, floor: 1e-2 }).maxError).toBeLessThan(FD_TOL);
    [tx, ty, tg, tdx].forEach((t) => gpu.destroy(t));
  });
});

describe("upsample3 + shift2 + weighted skip add", () => {
  function setup(B: number, Lc: number, D: number, seed: number) {
    const L = 3 * Lc;
    const x = rand(B * Lc * D, seed), skip = rand(B * L * D, seed + 1), dout = rand(B * L * D, seed + 2);
    const weights = Float32Array.of(0.7, -1.3);
    const dweights = Float32Array.of(0.25, 0.5); // earlier micro-batches' gradient
    const t = {
      x: gpu.upload(x), skip: gpu.upload(skip, [B * L, D]), dout: gpu.upload(dout, [B * L, D]), weights: gpu.upload(weights),
      dweights: gpu.upload(dweights), out: gpu.tensor([B * L * D]), dx: gpu.tensor([B * Lc * D]),
      scratch: gpu.tensor([upsampleScratchSize(B, Lc, D)]),
    };
    const free = () => Object.values(t).forEach((v) => gpu.destroy(v));
    return { L, x, skip, dout, weights, dweights, t, free };
  }

  for (const [B, L, D] of [...SHAPES, [2, 3 * 700, 8] as [number, number, number]]) {
    for (const wIndex of [0, 1]) {
      test(`forward and backward match the CPU, B=${B} L=${L} D=${D} w[${wIndex}]`, () => {
        const Lc = L / 3;
        const { x, skip, dout, weights, dweights, t, free } = setup(B, Lc, D, L + D + wIndex);
        gpu.record((r) => {
          upsampleShiftAddForward(r, { x: t.x, skip: t.skip, weights: t.weights, index: wIndex, out: t.out, B });
          upsampleShiftAddBackward(r, { dout: t.dout, x: t.x, weights: t.weights, index: wIndex, dx: t.dx, dweights: t.dweights, scratch: t.scratch, B, accumulate: true });
        });
        const w = weights[wIndex];
        const up = shiftForward(upsample3Forward(x, B, Lc, D), B, L, D);
        const grad = skipAddBackward(up, w, dout);
        const dx = upsample3Backward(shiftBackward(grad.dx, B, L, D), B, Lc, D);
        expect(maxAbsDiff(gpu.read(t.out), skipAddForward(up, skip, w))).toBeLessThan(ABS_TOL);
        expect(maxAbsDiff(gpu.read(t.dx), dx)).toBeLessThan(ABS_TOL);
        const dw = gpu.read(t.dweights);
        expect(dw[1 - wIndex]).toBe(dweights[1 - wIndex]);
        expect(Math.abs(dw[wIndex] - (dweights[wIndex] + grad.dw))).toBeLessThan(REL_TOL * Math.max(1, Math.abs(grad.dw)));
        free();
      });
    }
  }

  test("gradients match finite differences of the GPU forward", () => {
    const B = 2, Lc = 3, D = 2;
    const { x, skip, dout, weights, t, free } = setup(B, Lc, D, 4);
    const loss = () => {
      gpu.write(t.x, x);
      gpu.write(t.skip, skip);
      gpu.write(t.weights, weights);
      gpu.record((r) => upsampleShiftAddForward(r, { x: t.x, skip: t.skip, weights: t.weights, index: 1, out: t.out, B }));
      return dot(gpu.read(t.out), dout);
    };
    gpu.write(t.dweights, new Float32Array(2));
    gpu.record((r) => upsampleShiftAddBackward(r, { dout: t.dout, x: t.x, weights: t.weights, index: 1, dx: t.dx, dweights: t.dweights, scratch: t.scratch, B }));
    const opts = { eps: FD_EPS, floor: 1e-2 };
    expect(gradcheck(loss, x, gpu.read(t.dx), { ...opts, count: x.length }).maxError).toBeLessThan(FD_TOL);
    expect(gradcheck(loss, skip, dout, { ...opts, count: 8 }).maxError).toBeLessThan(FD_TOL); // dskip = dout
    expect(gradcheck(loss, weights, gpu.read(t.dweights), { ...opts, count: 2 }).maxError).toBeLessThan(FD_TOL);
    free();
  });
});
