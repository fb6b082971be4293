/**
 * The reference's checkpoint format end to end (issue 6): converts DIR/reference.pth (written by
 * reference-checkpoint.py) with iflame, runs our GPU forward on DIR/tokens.bin and compares the
 * logits with PyTorch's DIR/logits.npy. Prints a JSON summary.
 *   bun scripts/parity/check-converted.ts --dir DIR [--B 1]
 */
import { join } from "node:path";
import { z } from "zod";
import { parseScriptFlags } from "../../src/cli/flags.ts";
import { Gpu } from "../../src/gpu/runtime.ts";
import { convertTorchCheckpoint } from "../../src/interop/convert.ts";
import { decodeSafetensors } from "../../src/interop/safetensors.ts";
import { sequenceLength } from "../../src/model/config.ts";
import { IFlameModel } from "../../src/model/model.ts";
import { readNpyF32, relError } from "./tensors.ts";

const { dir, B } = parseScriptFlags(
  "check-converted",
  z
    .object({
      dir: z.string().default("/tmp/reference").describe("folder reference-checkpoint.py wrote"),
      B: z.coerce.number().int().positive().default(1).describe("sequences"),
    })
    .strict(),
  process.argv.slice(2),
);
const started = performance.now();
const { config, file } = await convertTorchCheckpoint(join(dir, "reference.pth"), join(dir, "converted"));
const convertSeconds = (performance.now() - started) / 1000;
const { tensors } = decodeSafetensors(new Uint8Array(await Bun.file(file).arrayBuffer()), file);
const tokens = new Int32Array(await Bun.file(join(dir, "tokens.bin")).arrayBuffer());
const L = tokens.length / B;
if (L > sequenceLength(config)) throw new Error(`tokens.bin holds ${L} tokens a sequence; the config allows ${sequenceLength(config)}`);

const gpu = Gpu.get();
const model = new IFlameModel(gpu, config, B, L);
model.setParams(Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, t.data as Float32Array])));
model.setTokens(tokens);
gpu.record((r) => model.forward(r));
const ours = gpu.read(model.logits) as Float32Array;
const theirs = readNpyF32(new Uint8Array(await Bun.file(join(dir, "logits.npy")).arrayBuffer()));
console.log(JSON.stringify({
  device: gpu.describe(), config: config.name, inferred: { dim: config.dim, heads: config.heads, blocksPerLevel: config.blocksPerLevel, fullPeriod: config.fullPeriod },
  B, L, convertSeconds, converted: join(dir, "converted"), logitsMaxRelError: relError(ours, theirs), target: 1e-3,
}, null, 2));
