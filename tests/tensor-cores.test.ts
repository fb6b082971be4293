import { expect, test } from "bun:test";
import { Gpu } from "../src/gpu/runtime.ts";
import { f16MatrixConfig } from "../src/kernels/matmul-subgroup-matrix.ts";
import { setTensorCores, useTensorCores } from "../src/kernels/tensor-cores.ts";

test("tensor-core kernels run by policy: measured ones by default, all under force, none under off", () => {
  const previous = setTensorCores("measured");
  try {
    expect(useTensorCores({ measuredFaster: true })).toBe(true);
    expect(useTensorCores({ measuredFaster: false })).toBe(false);
    setTensorCores("force");
    expect(useTensorCores({ measuredFaster: false })).toBe(true);
    setTensorCores("off");
    expect(useTensorCores({ measuredFaster: true })).toBe(false);
  } finally {
    setTensorCores(previous);
  }
});

test("an unknown IFLAME_TENSOR_CORES is refused in one line naming the variable", () => {
  const run = Bun.spawnSync([process.execPath, "-e", 'import("./src/kernels/tensor-cores.ts").then((m) => m.tensorCores())'], {
    env: { ...process.env, IFLAME_TENSOR_CORES: "fast" }, stderr: "pipe",
  });
  expect(run.exitCode).not.toBe(0);
  expect(run.stderr.toString()).toContain("IFLAME_TENSOR_CORES=fast: expected one of measured, force, off");
});

// scripts/matrix-rig.sh sets IFLAME_EXPECT_TENSOR_CORES=1: there, the tensor-core tests must not skip.
test.if(process.env.IFLAME_EXPECT_TENSOR_CORES === "1")("the matrix rig's device multiplies f16 subgroup matrices into f32", () => {
  const gpu = Gpu.get();
  expect(f16MatrixConfig(gpu)).not.toBeNull();
  console.log(`tensor cores: ${gpu.describe()}; ${JSON.stringify(f16MatrixConfig(gpu))}`);
}, 120_000);
