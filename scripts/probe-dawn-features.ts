/**
 * Which WGSL extensions does this adapter give us, with and without Dawn's `allow_unsafe_apis`
 * toggle? (Issue 9: Dawn hides shader-f16 on NVIDIA; subgroup matrices are experimental.)
 * For each setting: the adapter's raw feature values, and whether a compute shader that enables
 * `f16` or `chromium_experimental_subgroup_matrix` compiles on a device asked for every feature
 * the adapter offers. The compile is the answer: feature numbers differ between Dawn versions.
 *   bun scripts/probe-dawn-features.ts
 */
import { WebGPUDevice, type DawnToggles } from "../ffi/webgpu.ts";

const probes: Record<string, string> = {
  f16: `enable f16;
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1) fn main() { let h = f16(1.5) * f16(2.0); out[0] = f32(h); }`,
  subgroup_matrix: `enable chromium_experimental_subgroup_matrix;
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(32) fn main() {
  let a = subgroup_matrix_left<f32, 8, 8>();
  let b = subgroup_matrix_right<f32, 8, 8>();
  var c = subgroup_matrix_result<f32, 8, 8>();
  c = subgroupMatrixMultiplyAccumulate(a, b, c);
  subgroupMatrixStore(&out, 0, c, false, 8);
}`,
};

const settings: { name: string; toggles: DawnToggles }[] = [
  { name: "default", toggles: { enable: [], disable: [] } },
  { name: "allow_unsafe_apis", toggles: { enable: ["allow_unsafe_apis"], disable: [] } },
];

let baseline: readonly number[] = [];
for (const { name, toggles } of settings) {
  const first = WebGPUDevice.open({ toggles });
  const values = first.adapterFeatureValues;
  // A second device asks for every feature the adapter offers, so each probe's `enable` may pass.
  const dev = WebGPUDevice.open({ toggles, extraFeatureValues: values });
  if (name === "default") {
    console.log(dev.describe());
    baseline = values;
  }
  const added = values.filter((v) => !baseline.includes(v)).map((v) => `0x${v.toString(16)}`);
  console.log(`\n${name}: ${values.length} adapter features${name === "default" ? "" : `, new: ${added.join(" ") || "none"}`}`);
  for (const [probe, code] of Object.entries(probes)) {
    try {
      dev.createShaderModule(code, `${probe}.wgsl`);
      console.log(`  ${probe}: compiles`);
    } catch (e) {
      console.log(`  ${probe}: refused — ${(e as Error).message.split("\n")[0]}`);
    }
  }
}
