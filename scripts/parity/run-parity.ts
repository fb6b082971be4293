/**
 * Parity of the GPU model with our PyTorch port (issue 5): the same weights and token batch go
 * through both; logits, loss and every parameter's gradient are compared.
 *   bun scripts/parity/run-parity.ts [--config shapenet] [--B 2] [--L 6921] [--seed 0] [--dir /tmp/parity] [--precision f32|f16]
 * --precision f16: our model in mixed precision against the port under PyTorch fp16 autocast
 * (compare.py --amp, CUDA only); the targets are then fp16's (docs/MIXED-PRECISION.md).
 * Needs a python3 with torch (CUDA or CPU) for scripts/parity/compare.py (--python or IFLAME_PYTHON).
 * Prints a JSON summary.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { parseScriptFlags } from "../../src/cli/flags.ts";
import { pcgHash } from "../../src/util/rng.ts";
import { Gpu } from "../../src/gpu/runtime.ts";
import { decodeSafetensors, encodeSafetensors } from "../../src/interop/safetensors.ts";
import { countTargets } from "../../src/kernels/cross-entropy.ts";
import { loadModelConfig } from "../../src/model/config.ts";
import { IFlameModel } from "../../src/model/model.ts";
import { initParams, paramSpecs } from "../../src/model/params.ts";
import { readNpyF32, relError } from "./tensors.ts";

const flags = parseScriptFlags(
  "run-parity",
  z
    .object({
      config: z.string().default("shapenet").describe("model preset or JSON config"),
      B: z.coerce.number().int().positive().default(2).describe("sequences"),
      L: z.coerce.number().int().positive().optional().describe("tokens per sequence (default: the config's full length)"),
      seed: z.coerce.number().int().nonnegative().default(0).describe("weights and tokens seed"),
      dir: z.string().default("/tmp/parity").describe("folder for the exchanged tensors"),
      precision: z.enum(["f32", "f16"]).default("f32").describe("f16: ours mixed precision, PyTorch fp16 autocast"),
      python: z.string().default(process.env.IFLAME_PYTHON ?? "python3").describe("a python3 with torch and numpy"),
    })
    .strict(),
  process.argv.slice(2),
);
const configName = flags.config;
const config = await loadModelConfig(configName);
const { B, seed, dir } = flags;
const L = flags.L ?? 9 * (config.maxFaces + 2);
mkdirSync(dir, { recursive: true });

// Real-length sequences: start row, coordinate rows, end row, a few pad rows.
const tokens = new Int32Array(B * L).fill(129);
for (let b = 0; b < B; b++) {
  const faces = Math.floor(L / 9) - 2 - 3 * b;
  tokens.fill(130, b * L, b * L + 9);
  for (let i = 9; i < 9 * (faces + 1); i++) tokens[b * L + i] = pcgHash(seed * 7919 + b * L + i) % 129;
  tokens.fill(131, b * L + 9 * (faces + 1), b * L + 9 * (faces + 2));
}
const params = initParams(config, seed);
const weights = Object.fromEntries(paramSpecs(config).map((p) => [p.name, { shape: p.shape, data: params[p.name] }]));
writeFileSync(join(dir, "weights.safetensors"), encodeSafetensors(weights));
writeFileSync(join(dir, "tokens.bin"), new Uint8Array(tokens.buffer));

const gpu = Gpu.get();
const model = new IFlameModel(gpu, config, B, L, { precision: flags.precision });
model.setParams(params);
model.setTokens(tokens);
model.setLossScale(1 / countTargets(tokens, B, L));
gpu.record((r) => {
  model.zeroGrads(r);
  model.forwardBackward(r);
});
const stats = gpu.read(model.lossStats) as Float32Array;
const ours = { logits: gpu.read(model.logits) as Float32Array, loss: stats[0] / stats[1], grads: model.readGrads() };

const torchOut = join(dir, "torch.json");
const py = Bun.spawnSync(
  [flags.python, join(import.meta.dir, "compare.py"), "--weights", join(dir, "weights.safetensors"), "--tokens", join(dir, "tokens.bin"),
    "--B", String(B), "--L", String(L), "--config", configName, "--out", torchOut, ...(flags.precision === "f16" ? ["--amp"] : [])],
  { stdout: "inherit", stderr: "inherit" },
);
if (py.exitCode !== 0) throw new Error(`compare.py failed (exit ${py.exitCode})`);
const reference = await Bun.file(torchOut).json();
const theirLogits = readNpyF32(new Uint8Array(await Bun.file(join(dir, "torch.logits.npy")).arrayBuffer()));
const theirGrads = decodeSafetensors(new Uint8Array(await Bun.file(join(dir, "torch.grads.safetensors")).arrayBuffer())).tensors;

const gradErrors = Object.entries(ours.grads).map(([name, g]) => ({ name, error: relError(g, theirGrads[name].data) }));
gradErrors.sort((a, b) => b.error - a.error);
const summary = {
  config: configName, B, L, precision: flags.precision, device: gpu.describe(), torchDevice: reference.device,
  loss: { ours: ours.loss, torch: reference.loss, relError: Math.abs(ours.loss - reference.loss) / Math.abs(reference.loss) },
  logitsMaxRelError: relError(ours.logits, theirLogits),
  gradsMaxRelError: gradErrors[0].error,
  worstGrads: gradErrors.slice(0, 5),
  // f16: both sides round their product operands to f16 (11 significant bits), in different places.
  targets: flags.precision === "f16" ? { logits: 2e-2, loss: 1e-3, grads: 1e-1 } : { logits: 1e-3, grads: 1e-2 },
};
console.log(JSON.stringify(summary, null, 2));
