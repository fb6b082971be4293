import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { gradcheck, dot } from "../src/cpu/gradcheck.ts";
import { rmsnormBackward as cpuBackward, rmsnormForward as cpuForward } from "../src/cpu/rmsnorm.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import type { Tensor } from "../src/gpu/tensor.ts";
import { rmsnormBackward, rmsnormForward, rmsnormScratchSize } from "../src/kernels/rmsnorm.ts";
import { maxAbsDiff, maxRelDiff, rand } from "./helpers.ts";

// GPU kernels on lavapipe against an f64 CPU reference, up to 4096 wide: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

/** Forward outputs and dx: absolute; dweight (a sum over rows): relative to its largest entry. */
const ABS_TOL = 1e-5;
const REL_TOL = 1e-4;
/** Finite differences of the f32 GPU forward (eps 1e-2): relative error per coordinate. */
const FD_EPS = 1e-2;
const FD_TOL = 1e-2;

const gpu = Gpu.get();

function setup(rows: number, D: number, seed: number) {
  const x = rand(rows * D, seed, 2);
  const w = Float32Array.from(rand(D, seed + 1), (v) => 1 + 0.5 * v);
  const dy = rand(rows * D, seed + 2);
  const t = {
    x: gpu.upload(x, [rows, D], "x"), w: gpu.upload(w, [D], "w"), dy: gpu.upload(dy, [rows, D], "dy"),
    y: gpu.tensor([rows, D], "f32", "y"), rstd: gpu.tensor([rows], "f32", "rstd"),
    dx: gpu.tensor([rows, D], "f32", "dx"), dw: gpu.tensor([D], "f32", "dw"),
    scratch: gpu.tensor([rmsnormScratchSize(rows, D)], "f32", "scratch"),
  };
  const free = () => Object.values(t).forEach((v: Tensor) => gpu.destroy(v));
  return { x, w, dy, t, free };
}

describe("rmsnorm", () => {
  for (const [rows, D] of [[1, 16], [7, 100], [1000, 512], [3, 4096], [5, 1]]) {
    test(`forward and backward match the CPU, rows=${rows} D=${D}`, () => {
      const { x, w, dy, t, free } = setup(rows, D, rows + D);
      gpu.record((r) => {
        rmsnormForward(r, { x: t.x, weight: t.w, y: t.y, rstd: t.rstd });
        rmsnormBackward(r, { x: t.x, weight: t.w, rstd: t.rstd, dy: t.dy, dx: t.dx, dweight: t.dw, scratch: t.scratch });
      });
      const ref = cpuForward(x, w, rows, D);
      const grad = cpuBackward(x, w, ref.rstd, dy, rows, D);
      expect(maxAbsDiff(gpu.read(t.y), ref.y)).toBeLessThan(ABS_TOL);
      expect(maxRelDiff(gpu.read(t.rstd), ref.rstd)).toBeLessThan(ABS_TOL);
      expect(maxAbsDiff(gpu.read(t.dx), grad.dx)).toBeLessThan(ABS_TOL);
      expect(maxRelDiff(gpu.read(t.dw), grad.dw)).toBeLessThan(REL_TOL);
      free();
    });
  }

  test("accumulate adds into dweight, addToDx into dx", () => {
    const rows = 37, D = 64;
    const { x, w, dy, t, free } = setup(rows, D, 5);
    const priorDw = rand(D, 99), priorDx = rand(rows * D, 98);
    gpu.write(t.dw, priorDw);
    gpu.write(t.dx, priorDx);
    gpu.record((r) => {
      rmsnormForward(r, { x: t.x, weight: t.w, y: t.y, rstd: t.rstd });
      rmsnormBackward(r, { x: t.x, weight: t.w, rstd: t.rstd, dy: t.dy, dx: t.dx, dweight: t.dw, scratch: t.scratch, accumulate: true, addToDx: true });
    });
    const ref = cpuForward(x, w, rows, D);
    const grad = cpuBackward(x, w, ref.rstd, dy, rows, D);
    expect(maxRelDiff(gpu.read(t.dw), grad.dw.map((v, i) => v + priorDw[i]))).toBeLessThan(REL_TOL);
    expect(maxAbsDiff(gpu.read(t.dx), grad.dx.map((v, i) => v + priorDx[i]))).toBeLessThan(ABS_TOL);
    free();
  });

  test("gradients match finite differences of the GPU forward", () => {
    const rows = 3, D = 16;
    const { x, w, dy, t, free } = setup(rows, D, 11);
    const loss = () => {
      gpu.write(t.x, x);
      gpu.write(t.w, w);
      gpu.record((r) => rmsnormForward(r, { x: t.x, weight: t.w, y: t.y, rstd: t.rstd }));
      return dot(gpu.read(t.y), dy);
    };
    loss();
    gpu.record((r) => rmsnormBackward(r, { x: t.x, weight: t.w, rstd: t.rstd, dy: t.dy, dx: t.dx, dweight: t.dw, scratch: t.scratch }));
    const dx = gpu.read(t.dx), dw = gpu.read(t.dw);
    for (const [param, grad] of [[x, dx], [w, dw]] as const) {
      const res = gradcheck(loss, param, grad, { count: 8, eps: FD_EPS, floor: 1e-2 });
      expect(res.maxError).toBeLessThan(FD_TOL);
    }
    free();
  });
});
