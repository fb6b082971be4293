/**
 * Model configurations as plain data, validated with zod at the edge (a JSON file or a preset,
 * a checkpoint's metadata). One config type: the network's shape (dim, heads, blocks per level,
 * which blocks are full attention, vocabulary) plus the sequence limit and the memory switch the
 * GPU model reads.
 */
import { existsSync, statSync } from "node:fs";
import { z } from "zod";
import { TOKENS } from "../tokenizer/tokens.ts";
import { oneLine } from "../util/text.ts";

/** Head dim of every attention kernel (the reference's ShapeNet model: 512 / 16). */
export const HEAD_DIM = 32;

export const ModelConfigSchema = z
  .object({
    name: z.string().min(1),
    dim: z.number().int().positive(),
    heads: z.number().int().positive(),
    /** Blocks in enc0, enc1, the bottleneck (split evenly into bottlenecke/bottleneckd), dec0, dec1. */
    blocksPerLevel: z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]),
    fullPeriod: z.number().int().positive(),
    vocab: z.literal(TOKENS.vocab),
    /** Faces a training sequence may hold; sequences are (maxFaces + 2) rows of 9 tokens. */
    maxFaces: z.number().int().positive(),
    /** Recompute activations in backward for these levels (0..4) instead of keeping them. */
    recompute: z.array(z.number().int().min(0).max(4)).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.dim !== c.heads * HEAD_DIM) {
      ctx.addIssue({ code: "custom", path: ["heads"], message: `dim (${c.dim}) must equal heads × ${HEAD_DIM}; the attention kernels use head dim ${HEAD_DIM}` });
    }
    if (c.blocksPerLevel[2] % 2 !== 0) {
      ctx.addIssue({ code: "custom", path: ["blocksPerLevel", 2], message: "the bottleneck is split evenly into bottlenecke and bottleneckd: use an even count" });
    }
  });

export type IFlameConfig = z.infer<typeof ModelConfigSchema>;

/**
 * The fields of a IFlameConfig the network's arithmetic reads (the CPU reference takes any head
 * dim, so its tests build these by hand; the schema pins head dim 32 for the kernels).
 */
export type Network = Pick<IFlameConfig, "dim" | "heads" | "blocksPerLevel" | "fullPeriod" | "vocab">;

/** Feed-forward width: int(8/3 · dim), as the reference (1365 at dim 512). */
export const hiddenDim = (network: Pick<Network, "dim">): number => Math.floor((8 / 3) * network.dim);

export const PRESETS = {
  /** The reference's ShapeNet model: 24 blocks, 512 wide, 767 faces (769 rows, 6921 tokens). */
  shapenet: { name: "shapenet", dim: 512, heads: 16, blocksPerLevel: [4, 4, 8, 4, 4], fullPeriod: 4, vocab: 132, maxFaces: 767, recompute: [] },
  /** The same network for Objaverse meshes of up to 4000 faces. */
  objaverse: { name: "objaverse", dim: 512, heads: 16, blocksPerLevel: [4, 4, 8, 4, 4], fullPeriod: 4, vocab: 132, maxFaces: 4000, recompute: [0] },
  /**
   * Between tiny and shapenet: learns the built-in `shapes` data (up to 400 faces there) in
   * minutes on one GPU. 256 wide, 12 blocks, a full-attention block ending every stack.
   */
  small: { name: "small", dim: 256, heads: 8, blocksPerLevel: [2, 2, 4, 2, 2], fullPeriod: 2, vocab: 132, maxFaces: 400, recompute: [] },
  /** Small enough to train on a CPU Vulkan driver: tests and the quick start. */
  tiny: { name: "tiny", dim: 64, heads: 2, blocksPerLevel: [2, 2, 2, 2, 2], fullPeriod: 2, vocab: 132, maxFaces: 48, recompute: [] },
} as const satisfies Record<string, IFlameConfig>;

export type PresetName = keyof typeof PRESETS;

/** A preset name or a path to a JSON config file; errors name the file and the field. */
export async function loadModelConfig(nameOrPath: string): Promise<IFlameConfig> {
  if (nameOrPath in PRESETS) return ModelConfigSchema.parse(PRESETS[nameOrPath as PresetName]);
  const file = Bun.file(nameOrPath);
  if (!existsSync(nameOrPath)) {
    throw new Error(`config ${nameOrPath}: not a preset (${Object.keys(PRESETS).join(", ")}) and no such file`);
  }
  if (!statSync(nameOrPath).isFile() || file.size > 1 << 20) throw new Error(`config ${nameOrPath}: not a regular file of at most 1 MiB`);
  let json: unknown;
  try {
    json = await file.json();
  } catch (e) {
    throw new Error(`config ${nameOrPath}: not valid JSON: ${oneLine((e as Error).message)}`);
  }
  const parsed = ModelConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new Error(`config ${nameOrPath}: ${issues}`);
  }
  return parsed.data;
}

/** Tokens in a full training sequence: (maxFaces + 2) rows of 9. */
export const sequenceLength = (c: Pick<IFlameConfig, "maxFaces">): number => TOKENS.perFace * (c.maxFaces + 2);
