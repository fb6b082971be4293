/**
 * Checkpoints. A run folder holds `checkpoints/step-NNNNNNNN/` folders, each with
 * `model.safetensors` (weights named as the reference's state dict, config in the metadata),
 * `optimizer.safetensors` (optimizer state) and `state.json` (step, data cursor, seed, the
 * options of the run), and `latest.json`, which names the newest complete one. A checkpoint is
 * written in full before latest.json is atomically replaced, so a crash at any point leaves the
 * previous checkpoint intact and named. The two newest checkpoints are kept.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { Gpu } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { decodeSafetensors, encodeSafetensors } from "../interop/safetensors.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";

export const TrainStateSchema = z.object({
  step: z.number().int().nonnegative(),
  totalSteps: z.number().int().positive(),
  epoch: z.number().int().nonnegative(),
  /** Position within the epoch's shuffled order. */
  cursor: z.number().int().nonnegative(),
  seed: z.number().int(),
  config: z.unknown(),
  options: z.unknown(),
  bestValLoss: z.number().nullable(),
});
export type TrainState = z.infer<typeof TrainStateSchema>;

async function readTensors(gpu: Gpu, file: string, tensors: Map<string, Tensor>): Promise<void> {
  const bytes = new Uint8Array(await Bun.file(file).arrayBuffer());
  const { tensors: stored } = decodeSafetensors(bytes, file);
  for (const [name, t] of tensors) {
    const s = stored[name];
    if (!s) throw new Error(`${file}: missing tensor ${name}`);
    if (s.data.length !== t.size) throw new Error(`${file}: ${name} has ${s.data.length} values [${s.shape}], expected [${t.shape}]`);
    gpu.write(t, s.data as Float32Array);
  }
}

function collect(gpu: Gpu, tensors: Map<string, Tensor>) {
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of tensors) out[name] = { shape: [...t.shape], data: gpu.read(t) as Float32Array };
  return out;
}

const KEEP = 2;

export async function saveCheckpoint(
  gpu: Gpu, runDir: string, params: Map<string, Tensor>, optimizerState: Map<string, Tensor>, state: TrainState,
): Promise<string> {
  const name = `step-${String(state.step).padStart(8, "0")}`;
  const dir = join(runDir, "checkpoints", name);
  await mkdir(dir, { recursive: true });
  const meta = { format: "iflame", step: String(state.step), config: JSON.stringify(state.config) };
  await writeFileAtomic(join(dir, "model.safetensors"), encodeSafetensors(collect(gpu, params), meta));
  await writeFileAtomic(join(dir, "optimizer.safetensors"), encodeSafetensors(collect(gpu, optimizerState), meta));
  await writeFileAtomic(join(dir, "state.json"), `${JSON.stringify(state, null, 2)}\n`);
  await writeFileAtomic(join(runDir, "latest.json"), `${JSON.stringify({ checkpoint: join("checkpoints", name), step: state.step })}\n`);
  const all = (await readdir(join(runDir, "checkpoints"))).filter((f) => f.startsWith("step-")).sort();
  for (const old of all.slice(0, Math.max(0, all.length - KEEP))) await rm(join(runDir, "checkpoints", old), { recursive: true, force: true });
  return dir;
}

/** The newest complete checkpoint folder of a run (or the folder itself if it is a checkpoint). */
export async function latestCheckpoint(path: string): Promise<string | null> {
  if (existsSync(join(path, "model.safetensors")) && existsSync(join(path, "state.json"))) return path;
  const latest = join(path, "latest.json");
  if (!existsSync(latest)) return null;
  const parsed = z.object({ checkpoint: z.string() }).safeParse(await Bun.file(latest).json());
  if (!parsed.success) throw new Error(`${latest}: not a checkpoint pointer`);
  return join(path, parsed.data.checkpoint);
}

export async function loadTrainState(checkpointDir: string): Promise<TrainState> {
  const file = join(checkpointDir, "state.json");
  const parsed = TrainStateSchema.safeParse(await Bun.file(file).json());
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return parsed.data;
}

export async function loadCheckpoint(
  gpu: Gpu, checkpointDir: string, params: Map<string, Tensor>, optimizerState: Map<string, Tensor>,
): Promise<TrainState> {
  const state = await loadTrainState(checkpointDir);
  await readTensors(gpu, join(checkpointDir, "model.safetensors"), params);
  await readTensors(gpu, join(checkpointDir, "optimizer.safetensors"), optimizerState);
  return state;
}
