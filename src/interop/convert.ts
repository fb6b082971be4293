/**
 * Conversion between the reference's PyTorch checkpoints and ours.
 *
 * A .pth holds weights but no config, so the config is read off the state dict: dim and vocab
 * from `embedding.weight`, the blocks per level from the block names, and full vs linear
 * attention from which blocks have `attn.rms_norm.weight` (only linear blocks do). Head count
 * leaves no trace in the shapes; our kernels use head dim 32, so it defaults to dim / 32. The
 * result is validated by the config schema and then against every parameter name and shape.
 */
import { mkdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { z } from "zod";
import { modelFile } from "../checkpoint/checkpoint.ts";
import { HEAD_DIM, type IFlameConfig, ModelConfigSchema, PRESETS } from "../model/config.ts";
import { blockSpecs, paramSpecs } from "../model/params.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
import { archiveNameFor, checkStateDict, encodeTorchCheckpoint, modelStateDict, TorchArchive, type TorchWriteOptions } from "./torch.ts";

export interface InferOptions {
  /** Attention heads (default dim / 32). */
  heads?: number;
  /** Longest training sequence in faces (default 767, ShapeNet's). */
  maxFaces?: number;
  /** Config name (default: the checkpoint file's base name). */
  name?: string;
}

/** State-dict name prefix of each level's blocks, in level order; the bottleneck has two halves. */
const LEVEL_PREFIXES = [["encoder_blocks.0"], ["encoder_blocks.1"], ["bottlenecke", "bottleneckd"], ["decoder_blocks.0"], ["decoder_blocks.1"]];

/** The model config a state dict (name → shape, prefixes already removed) was saved from. */
export function inferConfig(shapes: Map<string, number[]>, options: InferOptions, file: string): IFlameConfig {
  const embedding = shapes.get("embedding.weight");
  if (embedding?.length !== 2) throw new Error(`${file}: no 2-D embedding.weight, so this is not an iFlame state dict`);
  const [vocab, dim] = embedding;
  const blocksIn = (prefix: string) => {
    const indices = [...shapes.keys()]
      .filter((name) => name.startsWith(`${prefix}.`))
      .map((name) => Number(name.slice(prefix.length + 1).split(".")[0]))
      .filter(Number.isInteger);
    return indices.length ? Math.max(...indices) + 1 : 0; // gaps and odd names show up in the check below
  };
  const blocksPerLevel = LEVEL_PREFIXES.map((prefixes) => prefixes.reduce((n, p) => n + blocksIn(p), 0)) as IFlameConfig["blocksPerLevel"];
  const candidate = {
    name: options.name ?? (basename(file).replace(/\.[^.]*$/, "") || "converted"),
    dim, heads: options.heads ?? dim / HEAD_DIM, blocksPerLevel, vocab,
    fullPeriod: inferFullPeriod(shapes, blocksPerLevel, file),
    maxFaces: options.maxFaces ?? PRESETS.shapenet.maxFaces,
    recompute: [],
  };
  const parsed = ModelConfigSchema.safeParse(candidate);
  if (!parsed.success) throw new Error(`${file}: the inferred config (dim ${dim}, vocab ${vocab}, blocks [${blocksPerLevel}]) is not usable: ${issuesOf(parsed.error)}`);
  checkStateDict(shapes, parsed.data, file);
  return parsed.data;
}

const issuesOf = (error: z.ZodError) => error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");

/**
 * The smallest p with "block n (1-based) is full attention iff n % p == 0" for every block.
 * Whole blocks missing (a gap in the numbering, an uneven bottleneck split) are reported first,
 * since a missing block would otherwise read as a full-attention one.
 */
function inferFullPeriod(shapes: Map<string, number[]>, blocksPerLevel: IFlameConfig["blocksPerLevel"], file: string): number {
  const blocks = blockSpecs({ blocksPerLevel, fullPeriod: 1 }).flat(); // only the block names are used
  const keys = [...shapes.keys()];
  const absent = blocks.filter((b) => !keys.some((k) => k.startsWith(`${b.prefix}.`))).map((b) => b.prefix);
  if (absent.length) throw new Error(`${file}: no weights for block${absent.length > 1 ? "s" : ""} ${absent.join(", ")} (blocks per level [${blocksPerLevel}], the bottleneck split evenly)`);
  const full = blocks.map((b) => !shapes.has(`${b.prefix}.attn.rms_norm.weight`));
  for (let p = 1; p <= full.length + 1; p++) {
    if (full.every((isFull, i) => isFull === ((i + 1) % p === 0))) return p;
  }
  const layout = full.map((f) => (f ? "F" : "l")).join("");
  throw new Error(`${file}: blocks are full (F) / linear (l) attention as ${layout}, which no "every p-th block is full" rule gives`);
}

/** A .pth's model weights as f32 in the reference's parameter order, with the inferred config. */
export function loadTorchModel(path: string, options: InferOptions = {}): { config: IFlameConfig; params: Map<string, { shape: number[]; data: Float32Array }> } {
  const archive = TorchArchive.open(path);
  try {
    const tensors = modelStateDict(archive.root, path);
    const config = inferConfig(new Map([...tensors].map(([name, t]) => [name, t.shape])), options, path);
    const params = new Map(paramSpecs(config).map((s) => {
      const t = tensors.get(s.name)!;
      if (!t.floating) throw new Error(`${path}: parameter ${s.name} has dtype ${t.dtype}, not floating point`);
      return [s.name, { shape: s.shape, data: t.toFloat32() }];
    }));
    return { config, params };
  } finally {
    archive.close();
  }
}

/** Converts a .pth into our checkpoint folder (`model.safetensors`, config in its metadata). */
export async function convertTorchCheckpoint(inPth: string, outDir: string, options: InferOptions = {}): Promise<{ config: IFlameConfig; file: string }> {
  const { config, params } = loadTorchModel(inPth, options);
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, "model.safetensors");
  const meta = { format: "iflame", step: "0", config: JSON.stringify(config), source: basename(inPth) };
  await writeFileAtomic(file, encodeSafetensors(Object.fromEntries(params), meta));
  return { config, file };
}

/** Writes our checkpoint's weights as a .pth that torch.load + load_state_dict(strict=True) accept. */
export async function exportTorchCheckpoint(ckptDir: string, outPth: string, options: Pick<TorchWriteOptions, "layout" | "epoch"> = {}): Promise<{ config: IFlameConfig }> {
  const file = await modelFile(ckptDir);
  const { tensors, metadata } = decodeSafetensors(new Uint8Array(await Bun.file(file).arrayBuffer()), file);
  let configJson: unknown;
  try {
    configJson = JSON.parse(metadata.config ?? "");
  } catch {
    throw new Error(`${file}: metadata has no JSON 'config'`);
  }
  const parsed = ModelConfigSchema.safeParse(configJson);
  if (!parsed.success) throw new Error(`${file}: metadata config: ${issuesOf(parsed.error)}`);
  const config = parsed.data;
  checkStateDict(new Map(Object.entries(tensors).map(([name, t]) => [name, t.shape])), config, file);
  const ordered = paramSpecs(config).map((s): [string, { shape: number[]; data: Float32Array }] => {
    const t = tensors[s.name];
    if (!(t.data instanceof Float32Array)) throw new Error(`${file}: ${s.name} is not floating point`);
    return [s.name, { shape: t.shape, data: t.data }];
  });
  await writeFileAtomic(outPth, encodeTorchCheckpoint(ordered, { archiveName: archiveNameFor(outPth), ...options }));
  return { config };
}
