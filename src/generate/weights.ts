/**
 * The weights generation runs on, as GPU tensors by state-dict name, with their config. Accepts a
 * run folder (its latest checkpoint), a checkpoint folder, a `model.safetensors` file (config in
 * its metadata, as the trainer and the converter write it), or a reference PyTorch `.pth`
 * (config inferred from the shapes, src/interop/convert.ts).
 */
import { existsSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import type { Gpu } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { loadTorchModel } from "../interop/convert.ts";
import { decodeSafetensors } from "../interop/safetensors.ts";
import { checkStateDict } from "../interop/torch.ts";
import { type IFlameConfig, ModelConfigSchema } from "../model/config.ts";
import { latestCheckpoint } from "../train/checkpoint.ts";

export interface LoadedWeights {
  config: IFlameConfig;
  params: Map<string, Tensor>;
  /** The file the weights came from. */
  file: string;
}

async function weightsFile(path: string): Promise<string> {
  if (!existsSync(path)) throw new Error(`${path}: no such file or folder`);
  if (!statSync(path).isDirectory()) return path;
  if (existsSync(join(path, "model.safetensors"))) return join(path, "model.safetensors");
  const latest = await latestCheckpoint(path);
  if (!latest) throw new Error(`${path}: neither a checkpoint (no model.safetensors) nor a run folder (no latest.json)`);
  return join(latest, "model.safetensors");
}

type Values = Map<string, { shape: number[]; data: Float32Array }>;

function safetensorsWeights(file: string, bytes: Uint8Array): { config: IFlameConfig; values: Values } {
  const { tensors, metadata } = decodeSafetensors(bytes, file);
  let json: unknown;
  try {
    json = JSON.parse(metadata.config ?? "");
  } catch {
    throw new Error(`${file}: its metadata has no JSON 'config' (convert reference .pth files with scripts/convert.ts, or pass the .pth)`);
  }
  const parsed = ModelConfigSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${file}: metadata config: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  checkStateDict(new Map(Object.entries(tensors).map(([name, t]) => [name, t.shape])), parsed.data, file);
  const values: Values = new Map();
  for (const [name, { shape, data }] of Object.entries(tensors)) {
    if (!(data instanceof Float32Array)) throw new Error(`${file}: ${name} is not floating point`);
    values.set(name, { shape, data });
  }
  return { config: parsed.data, values };
}

/** Reads the weights at `path` and uploads them. */
export async function loadWeights(gpu: Gpu, path: string): Promise<LoadedWeights> {
  const file = await weightsFile(path);
  let config: IFlameConfig;
  let values: Values;
  if ([".pth", ".pt"].includes(extname(file).toLowerCase())) {
    ({ config, params: values } = loadTorchModel(file));
  } else {
    ({ config, values } = safetensorsWeights(file, new Uint8Array(await Bun.file(file).arrayBuffer())));
  }
  const params = new Map([...values].map(([name, t]) => [name, gpu.upload(t.data, t.shape, name)]));
  return { config, params, file };
}
