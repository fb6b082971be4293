/** `iflame info`: which WebGPU library and adapter a run would use, with its features and limits. */
import { z } from "zod";
import { adapterList } from "../../../ffi/adapter-choice.ts";
import { featureNames } from "../../../ffi/webgpu.ts";
import { Gpu } from "../../gpu/runtime.ts";
import { f16MatrixConfig } from "../../kernels/matmul-subgroup-matrix.ts";
import { tensorCores } from "../../kernels/tensor-cores.ts";
import { defineCommand } from "../command.ts";
import { IFLAME_VERSION } from "../version.ts";

const InfoFlags = z.object({ json: z.boolean().default(false).describe("print one JSON object instead of text") }).strict();

export const infoCommand = defineCommand({
  name: "info",
  summary: "Print the WebGPU library, adapter, features and limits iflame uses on this machine.",
  flags: InfoFlags,
  notes: "IFLAME_WEBGPU_LIB picks the library, IFLAME_ADAPTER the adapter (an index in the adapters list, or a name substring).",
  async run(flags) {
    const gpu = Gpu.get();
    const dev = gpu.dev;
    const report = {
      iflame: IFLAME_VERSION,
      bun: Bun.version,
      platform: `${process.platform}-${process.arch}`,
      standalone: Bun.isStandaloneExecutable,
      library: dev.library,
      adapter: dev.info,
      adapters: dev.adapters,
      toggles: dev.toggles,
      features: featureNames(dev.features),
      subgroupMatrixConfigs: dev.features.subgroupMatrix,
      // The kernels' f16 × f16 → f32 matrix shape, and when they use it (IFLAME_TENSOR_CORES).
      tensorCores: { policy: tensorCores(), matrix: f16MatrixConfig(gpu) },
      limits: dev.limits,
    };
    if (flags.json) {
      console.log(JSON.stringify(report, null, 2));
      return;
    }
    const a = report.adapter;
    console.log(`iflame ${report.iflame} · bun ${report.bun} · ${report.platform}${report.standalone ? " · single binary" : ""}`);
    console.log(`library:  ${dev.library.origin}${dev.library.version ? ` ${dev.library.version}` : ""}: ${dev.library.path}`);
    console.log(`adapter:  ${a.vendor} ${a.device} [${a.description}] · ${a.architecture || "?"} · ${a.backend} · ${a.adapterType}`);
    if (report.adapters) console.log(`adapters (IFLAME_ADAPTER=<index>): ${adapterList(report.adapters)}`);
    console.log(`subgroup sizes: ${a.subgroupMinSize}..${a.subgroupMaxSize}`);
    console.log(`features: ${report.features.join(", ") || "(none of timestamp-query, shader-f16, subgroups, subgroup-matrix)"}`);
    for (const c of report.subgroupMatrixConfigs ?? []) console.log(`  subgroup matrix: ${c.component} × ${c.component} → ${c.result}, M ${c.M} N ${c.N} K ${c.K}`);
    const m = report.tensorCores.matrix;
    console.log(`tensor cores: ${m ? `f16 ${m.M}×${m.N}×${m.K} matrices` : "none"} · IFLAME_TENSOR_CORES=${report.tensorCores.policy}`);
    const t = report.toggles;
    if (t.enable.length + t.disable.length) console.log(`Dawn toggles: ${[...t.enable, ...t.disable.map((n) => `-${n}`)].join(",")}`);
    console.log("limits:");
    for (const [name, value] of Object.entries(report.limits)) console.log(`  ${name.padEnd(36)}${value.toLocaleString("en-US")}`);
  },
});
