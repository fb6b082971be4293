import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { ropeBackward as cpuBackward, ropeForward as cpuForward } from "../src/cpu/rope.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { ropeBackward, ropeForward, ropeTables } from "../src/kernels/rope.ts";
import { maxAbsDiff, rand } from "./helpers.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

/** Same tables as the CPU, so only the f32 products and sums differ: absolute, on |x| ≤ 1. */
const ABS_TOL = 1e-5;
const HD = 32;

const gpu = Gpu.get();

function check(B: number, L: number, H: number, position: number, maxLen: number) {
  const n = B * L * H * HD;
  const x = rand(n, B * 1000 + L + position);
  const tables = ropeTables(gpu, maxLen, HD);
  const tx = gpu.upload(x, [B, L, H, HD], "x");
  const ty = gpu.tensor([B, L, H, HD], "f32", "y");
  const tdx = gpu.tensor([B, L, H, HD], "f32", "dx");
  gpu.record((r) => {
    ropeForward(r, { x: tx, out: ty, B, H, tables, position });
    ropeBackward(r, { x: tx, out: tdx, B, H, tables, position });
  });
  expect(maxAbsDiff(gpu.read(ty), cpuForward(x, B, L, H, HD, position))).toBeLessThan(ABS_TOL);
  expect(maxAbsDiff(gpu.read(tdx), cpuBackward(x, B, L, H, HD, position))).toBeLessThan(ABS_TOL);
  for (const t of [tx, ty, tdx]) gpu.destroy(t);
}

describe("rope", () => {
  for (const [B, L, H] of [[1, 1, 1], [2, 7, 3], [3, 65, 16], [1, 130, 2]]) {
    test(`forward and backward match the CPU, B=${B} L=${L} H=${H}`, () => check(B, L, H, 0, 200));
  }

  test("positions near 36000 (large angles) match the CPU", () => check(2, 50, 4, 35950, 36000));

  test("a decoding step at a position offset matches the same rows of a full forward", () => {
    const B = 2, L = 20, H = 4, step = 3, position = L - step;
    const x = rand(B * L * H * HD, 7);
    const tables = ropeTables(gpu, 200, HD);
    // the last `step` rows of every batch, as a decoding step sees them
    const tail = new Float32Array(B * step * H * HD);
    for (let b = 0; b < B; b++) tail.set(x.subarray((b * L + position) * H * HD, (b + 1) * L * H * HD), b * step * H * HD);
    const tFull = gpu.upload(x, [B, L, H, HD], "x"), tFullOut = gpu.tensor([B, L, H, HD], "f32", "y");
    const tStep = gpu.upload(tail, [B, step, H, HD], "x step"), tStepOut = gpu.tensor([B, step, H, HD], "f32", "y step");
    gpu.record((r) => {
      ropeForward(r, { x: tFull, out: tFullOut, B, H, tables });
      ropeForward(r, { x: tStep, out: tStepOut, B, H, tables, position });
    });
    const full = gpu.read(tFullOut), stepOut = gpu.read(tStepOut);
    for (let b = 0; b < B; b++) {
      const rows = full.subarray((b * L + position) * H * HD, (b + 1) * L * H * HD);
      expect(maxAbsDiff(stepOut.subarray(b * step * H * HD, (b + 1) * step * H * HD), rows)).toBe(0);
    }
    for (const t of [tFull, tFullOut, tStep, tStepOut]) gpu.destroy(t);
  });

  test("backward undoes forward", () => {
    const B = 2, L = 9, H = 3, n = B * L * H * HD;
    const x = rand(n, 3);
    const tables = ropeTables(gpu, 64, HD);
    const tx = gpu.upload(x, [n], "x"), ty = gpu.tensor([n], "f32", "y"), tz = gpu.tensor([n], "f32", "z");
    gpu.record((r) => {
      ropeForward(r, { x: tx, out: ty, B, H, tables });
      ropeBackward(r, { x: ty, out: tz, B, H, tables });
    });
    expect(maxAbsDiff(gpu.read(tz), x)).toBeLessThan(ABS_TOL);
    for (const t of [tx, ty, tz]) gpu.destroy(t);
  });

  test("tables are cached per (maxLen, headDim)", () => {
    expect(ropeTables(gpu, 200, HD)).toBe(ropeTables(gpu, 200, HD));
    expect(ropeTables(gpu, 201, HD)).not.toBe(ropeTables(gpu, 200, HD));
  });
});
