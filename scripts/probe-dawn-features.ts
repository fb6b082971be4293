/**
 * What the WebGPU library gives iflame on this machine (issue 15: tensor cores from WebGPU):
 * the library and its version, the Dawn toggles in use (on NVIDIA iflame adds
 * vulkan_enable_f16_on_nvidia and allow_unsafe_apis), the adapter's raw feature values, and for
 * shader-f16 and each f16/f32 subgroup-matrix shape the device offers, a small kernel that
 * enables it, run and compared exactly with a CPU reference (inputs are small integers, exact in
 * f16). Exits 1 when a probe that the device claims fails.
 *   bun scripts/probe-dawn-features.ts
 *   IFLAME_DAWN_TOGGLES=-allow_unsafe_apis,-vulkan_enable_f16_on_nvidia bun scripts/probe-dawn-features.ts   (Dawn's own defaults)
 */
import { featureNames, type SubgroupMatrixConfig } from "../ffi/webgpu.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import type { HostArray } from "../src/gpu/tensor.ts";

const gpu = Gpu.get();
const dev = gpu.dev;
const hex = (v: number) => `0x${v.toString(16)}`;
console.log(dev.describe());
console.log(`library version: ${dev.library.version ?? "(not from an npm package)"}`);
console.log(`adapter: vendor ${hex(dev.info.vendorID)} device ${hex(dev.info.deviceID)} · subgroup sizes ${dev.info.subgroupMinSize}..${dev.info.subgroupMaxSize}`);
console.log(`adapter features (${dev.adapterFeatureValues.length}): ${dev.adapterFeatureValues.map(hex).join(" ")}`);
console.log(`device features: ${featureNames(dev.features).join(", ") || "none"}`);

let failures = 0;

/** Runs one probe; a throw or a wrong result counts as a failure. */
function probe(name: string, run: () => string): void {
  try {
    const verdict = run();
    console.log(`  ${name}: ${verdict}`);
    if (!verdict.startsWith("ok")) failures++;
  } catch (e) {
    failures++;
    console.log(`  ${name}: FAILED — ${(e as Error).message.split("\n")[0]}`);
  }
}

/** Values in `type`, packed into 32-bit words for upload (f16 pairs share a word). */
function pack(values: number[], type: "f16" | "f32"): Uint32Array {
  if (type === "f32") return new Uint32Array(Float32Array.from(values).buffer);
  const halves = new Float16Array(values.length + (values.length % 2));
  halves.set(values);
  return new Uint32Array(halves.buffer);
}

function unpack(words: HostArray, type: "f16" | "f32", count: number): number[] {
  const view = type === "f32" ? new Float32Array(words.buffer, words.byteOffset) : new Float16Array(words.buffer, words.byteOffset);
  return [...view.subarray(0, count)];
}

function mismatches(got: number[], want: number[]): string {
  const bad = got.findIndex((g, i) => g !== want[i]);
  return bad < 0 ? `ok, ${got.length}/${got.length} exact` : `WRONG at ${bad}: ${got[bad]} vs ${want[bad]}`;
}

console.log("\nshader-f16:");
if (!dev.features.f16) console.log("  not offered (on NVIDIA: driver < 615.71 and vulkan_enable_f16_on_nvidia off?)");
else
  probe("enable f16; h*h + 1.5h", () => {
    const a = Array.from({ length: 64 }, (_, i) => (i - 31) * 0.25);
    const input = gpu.upload(pack(a, "f16"), [32]);
    const out = gpu.tensor([64]);
    const k = gpu.kernel({
      file: "probe-f16.wgsl",
      code: `enable f16;
@group(0) @binding(0) var<storage, read> a: array<f16>;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) { let h = a[g.x]; o[g.x] = f32(h * h + 1.5h); }`,
    });
    gpu.record((r) => r.dispatch(k, [input, out], 1));
    return mismatches([...gpu.read(out)], a.map((x) => Math.f16round(Math.f16round(x * x) + 1.5)));
  });

/**
 * C = A·B + 0 for one subgroup: A is M×K, B is K×N, C is M×N, all row-major. The load/store
 * spelling changed in Dawn (a col_major bool, later a row_major/col_major template argument):
 * both are tried.
 */
function subgroupMatrixProbe(c: SubgroupMatrixConfig): string {
  const { M, N, K } = c;
  const T = c.component as "f16" | "f32";
  const R = c.result as "f16" | "f32";
  const a = Array.from({ length: M * K }, (_, i) => ((i * 7) % 5) - 2);
  const b = Array.from({ length: K * N }, (_, i) => ((i * 3) % 5) - 2);
  const want = Array.from({ length: M * N }, (_, i) => {
    let s = 0;
    for (let k = 0; k < K; k++) s += a[Math.floor(i / N) * K + k]! * b[k * N + (i % N)]!;
    return s;
  });
  const spellings = {
    "col_major bool": [`subgroupMatrixLoad<L>(&ab, 0u, false, ${K}u)`, `subgroupMatrixLoad<Rt>(&ab, ${M * K}u, false, ${N}u)`, `subgroupMatrixStore(&c, 0u, acc, false, ${N}u)`],
    "row_major template": [`subgroupMatrixLoad<L, row_major>(&ab, 0u, ${K}u)`, `subgroupMatrixLoad<Rt, row_major>(&ab, ${M * K}u, ${N}u)`, `subgroupMatrixStore<row_major>(&c, 0u, acc, ${N}u)`],
  };
  const errors: string[] = [];
  for (const [spelling, [loadA, loadB, store]] of Object.entries(spellings)) {
    const code = `${T === "f16" || R === "f16" ? "enable f16;\n" : ""}enable subgroups;
enable chromium_experimental_subgroup_matrix;
alias L = subgroup_matrix_left<${T}, ${K}, ${M}>;
alias Rt = subgroup_matrix_right<${T}, ${N}, ${K}>;
@group(0) @binding(0) var<storage, read> ab: array<${T}>;
@group(0) @binding(1) var<storage, read_write> c: array<${R}>;
@compute @workgroup_size(${dev.info.subgroupMaxSize}) fn main() {
  var acc = subgroup_matrix_result<${R}, ${N}, ${M}>();
  acc = subgroupMatrixMultiplyAccumulate(${loadA}, ${loadB}, acc);
  ${store};
}`;
    let kernel;
    try {
      kernel = gpu.kernel({ file: `probe-sgmatrix-${T}-${R}-${M}x${N}x${K}-${spelling.replace(/ /g, "-")}.wgsl`, code });
    } catch (e) {
      errors.push(`${spelling}: ${(e as Error).message.split("\n")[0]}`);
      continue;
    }
    const words = pack([...a, ...b], T);
    const input = gpu.upload(words, [words.length]);
    const out = gpu.tensor([Math.ceil((M * N) / (R === "f16" ? 2 : 1))]);
    gpu.record((r) => r.dispatch(kernel, [input, out], 1));
    const verdict = mismatches(unpack(gpu.read(out), R, M * N), want);
    gpu.destroy(input);
    gpu.destroy(out);
    return `${verdict} (${spelling})`;
  }
  throw new Error(`no spelling compiles: ${errors.join(" | ")}`);
}

console.log("\nsubgroup matrices (chromium_experimental_subgroup_matrix):");
const configs = dev.features.subgroupMatrix;
if (configs === null) console.log("  not offered (needs allow_unsafe_apis and VK_KHR_cooperative_matrix; lavapipe has none)");
for (const c of configs ?? []) {
  const name = `${c.component} × ${c.component} → ${c.result}, M ${c.M} N ${c.N} K ${c.K}`;
  if ((c.component === "f16" || c.component === "f32") && (c.result === "f16" || c.result === "f32")) probe(name, () => subgroupMatrixProbe(c));
  else console.log(`  ${name}: listed (integer shapes are not probed)`);
}

process.exit(failures ? 1 : 0);
