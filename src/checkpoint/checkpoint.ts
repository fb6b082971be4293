/**
 * Checkpoints. A run folder holds `checkpoints/step-NNNNNNNN/` folders, each with
 * `model.safetensors` (weights named as the reference's state dict, config in the metadata),
 * `optimizer.safetensors` (optimizer state) and `state.json` (step, data cursor, seed, the
 * options of the run), and `latest.json`, which names the newest complete one.
 *
 * A checkpoint is written into `checkpoints/.partial-step-N-<pid>/`, each file fsync'd, and
 * only then renamed to `step-N`; latest.json is replaced atomically after that. So a `step-*`
 * folder is always complete, a crash at any point leaves the previous checkpoint intact and
 * named, and what a crash leaves behind (partial folders, temp files) never counts as a
 * checkpoint and is removed on the next resume or save. The two newest checkpoints are kept,
 * and never the one latest.json names is removed.
 *
 * Below train/ so that training, generation and the converters share it without depending on
 * each other.
 */
import { existsSync } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { Gpu } from "../gpu/runtime.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { decodeSafetensors, encodeSafetensors } from "../interop/safetensors.ts";
import type { IFlameConfig } from "../model/config.ts";
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
  /** The arithmetic the run trained with (absent: f32); the weights saved are the f32 masters either way. */
  precision: z.enum(["f32", "f16"]).optional(),
  /** f16 runs: GradScaler's state at the checkpoint (the dynamic loss scale and its clean steps). */
  lossScale: z.object({ scale: z.number().positive(), cleanSteps: z.number().int().nonnegative() }).optional(),
});
export type TrainState = z.infer<typeof TrainStateSchema>;

const KEEP = 2;
const PARTIAL = ".partial-";
const FILES = ["model.safetensors", "optimizer.safetensors", "state.json"] as const;
const stepName = (step: number) => `step-${String(step).padStart(8, "0")}`;

/**
 * Fault injection for the kill tests: IFLAME_TEST_KILL_AT=<point>@<step> ends the process with
 * SIGKILL at that point of that step's checkpoint write. Points: `model`, `optimizer` and
 * `state` (half of that file written), `rename` (the folder is complete, latest.json
 * not yet replaced), `latest` (latest.json replaced, old checkpoints not yet pruned).
 */
function killPoint(point: string, step: number): boolean {
  return process.env.IFLAME_TEST_KILL_AT === `${point}@${step}`;
}
const die = (): never => {
  process.kill(process.pid, "SIGKILL");
  throw new Error("unreachable: SIGKILL was sent");
};

/** Writes and fsyncs a file inside a partial folder; at its kill point, only half of it. */
async function writeSynced(path: string, data: Uint8Array | string, point: string, step: number): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const kill = killPoint(point, step);
  const fh = await open(path, "w");
  try {
    await fh.writeFile(kill ? bytes.subarray(0, bytes.length >> 1) : bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (kill) die();
}

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

export async function saveCheckpoint(
  gpu: Gpu, runDir: string, params: Map<string, Tensor>, optimizerState: Map<string, Tensor>, state: TrainState,
): Promise<string> {
  const checkpoints = join(runDir, "checkpoints");
  const name = stepName(state.step);
  const partial = join(checkpoints, `${PARTIAL}${name}-${process.pid}`);
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const meta = { format: "iflame", step: String(state.step), config: JSON.stringify(state.config), precision: state.precision ?? "f32" };
  await writeSynced(join(partial, "model.safetensors"), encodeSafetensors(collect(gpu, params), meta), "model", state.step);
  await writeSynced(join(partial, "optimizer.safetensors"), encodeSafetensors(collect(gpu, optimizerState), meta), "optimizer", state.step);
  await writeSynced(join(partial, "state.json"), `${JSON.stringify(state, null, 2)}\n`, "state", state.step);
  const dir = join(checkpoints, name);
  // A step-N left by a run that died before naming it in latest.json is replaced, never merged.
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  if (killPoint("rename", state.step)) die();
  await writeFileAtomic(join(runDir, "latest.json"), `${JSON.stringify({ checkpoint: join("checkpoints", name), step: state.step })}\n`);
  if (killPoint("latest", state.step)) die();
  await pruneCheckpoints(runDir, name);
  return dir;
}

const isComplete = (dir: string) => FILES.every((f) => existsSync(join(dir, f)));

/**
 * Removes what crashed writes left (partial folders, `step-*` folders missing a file, temp files
 * of latest.json) and all but the KEEP newest complete checkpoints, never `keep` (latest's).
 */
export async function pruneCheckpoints(runDir: string, keep: string | null): Promise<void> {
  const checkpoints = join(runDir, "checkpoints");
  for (const f of await readdir(runDir).catch(() => [] as string[])) {
    if (f.startsWith("latest.json.tmp-")) await rm(join(runDir, f), { force: true });
  }
  const complete: string[] = [];
  for (const f of (await readdir(checkpoints).catch(() => [] as string[])).sort()) {
    const path = join(checkpoints, f);
    if (f.startsWith("step-") && isComplete(path)) complete.push(f);
    else if ((f.startsWith("step-") && f !== keep) || f.startsWith(PARTIAL)) await rm(path, { recursive: true, force: true });
  }
  for (const old of complete.slice(0, Math.max(0, complete.length - KEEP))) {
    if (old !== keep) await rm(join(checkpoints, old), { recursive: true, force: true });
  }
}

/** latest.json and state.json are a few hundred bytes; anything past this is not one. */
const MAX_JSON_BYTES = 16 << 20;

async function readJsonFile(file: string, what: string): Promise<unknown> {
  const info = await stat(file).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`${file}: cannot read ${what} (${e.code ?? e.message})`);
  });
  if (!info.isFile() || info.size > MAX_JSON_BYTES) throw new Error(`${file}: ${what} is not a regular file of at most ${MAX_JSON_BYTES} bytes`);
  const text = await Bun.file(file).text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${file}: ${what} is not valid JSON (${text.length} bytes; truncated or edited?)`);
  }
}

/** The newest complete checkpoint folder of a run (or the folder itself if it is a checkpoint); null when there is none. */
export async function latestCheckpoint(path: string): Promise<string | null> {
  if (existsSync(join(path, "model.safetensors")) && existsSync(join(path, "state.json"))) return path;
  const latest = join(path, "latest.json");
  if (!existsSync(latest)) return null;
  const parsed = z.object({ checkpoint: z.string() }).safeParse(await readJsonFile(latest, "the latest-checkpoint pointer"));
  if (!parsed.success) throw new Error(`${latest}: not a checkpoint pointer (expected {"checkpoint": "checkpoints/step-…", "step": N})`);
  const dir = join(path, parsed.data.checkpoint);
  if (!existsSync(join(dir, "model.safetensors"))) throw new Error(`${latest}: names ${parsed.data.checkpoint}, which has no model.safetensors`);
  return dir;
}

/** A checkpoint folder, a run folder (its latest checkpoint) or a converted folder → its model.safetensors. */
export async function modelFile(path: string): Promise<string> {
  if (existsSync(join(path, "model.safetensors"))) return join(path, "model.safetensors");
  const latest = await latestCheckpoint(path);
  if (!latest) throw new Error(`${path}: no model.safetensors and no latest.json`);
  return join(latest, "model.safetensors");
}

export async function loadTrainState(checkpointDir: string): Promise<TrainState> {
  const file = join(checkpointDir, "state.json");
  const parsed = TrainStateSchema.safeParse(await readJsonFile(file, "the training state"));
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
  return parsed.data;
}

/** What a resumed run must share with the run it continues: the network and its sequence limit. */
const RESUME_FIELDS = ["dim", "heads", "blocksPerLevel", "fullPeriod", "vocab", "maxFaces"] as const satisfies readonly (keyof IFlameConfig)[];

/**
 * The checkpoint `--resume` continues from (null: none, start fresh), after removing what
 * crashed writes left. Refuses a config whose network or sequence limit differs from the run's,
 * naming the fields: its weights would not fit, or would be saved under the wrong description.
 */
export async function resumableCheckpoint(runDir: string, config: IFlameConfig): Promise<string | null> {
  const dir = await latestCheckpoint(runDir);
  if (dir !== null) {
    const saved = (await loadTrainState(dir)).config as Partial<Record<string, unknown>> | null;
    const differ = RESUME_FIELDS.filter((k) => JSON.stringify(saved?.[k]) !== JSON.stringify(config[k]));
    if (differ.length) {
      const what = differ.map((k) => `${k} ${JSON.stringify(saved?.[k])} → ${JSON.stringify(config[k])}`).join(", ");
      throw new Error(`--resume: ${runDir} was trained with another network or sequence limit (${what}); resume with the run's config, or train into a new --out`);
    }
  }
  await pruneCheckpoints(runDir, dir === null ? null : stepNameOf(dir));
  return dir;
}

const stepNameOf = (dir: string) => dir.split(/[\\/]/).filter(Boolean).at(-1) ?? "";

export async function loadCheckpoint(
  gpu: Gpu, checkpointDir: string, params: Map<string, Tensor>, optimizerState: Map<string, Tensor>,
): Promise<TrainState> {
  const state = await loadTrainState(checkpointDir);
  await readTensors(gpu, join(checkpointDir, "model.safetensors"), params);
  await readTensors(gpu, join(checkpointDir, "optimizer.safetensors"), optimizerState);
  return state;
}
