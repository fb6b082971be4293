/**
 * Command-line options of `bun run train.ts`, validated with zod: an unknown flag or a bad value
 * is one clear line. Defaults give a run that shows learning within minutes (tiny config on the
 * built-in procedural meshes).
 */
import { z } from "zod";

export const TrainOptionsSchema = z
  .object({
    config: z.string().default("tiny"),
    data: z.string().default("procedural"),
    out: z.string().optional(),
    resume: z.boolean().default(false),
    batch: z.coerce.number().int().positive().default(4),
    lr: z.coerce.number().positive().default(1e-3),
    epochs: z.coerce.number().int().positive().optional(),
    steps: z.coerce.number().int().positive().optional(),
    accum: z.coerce.number().int().positive().default(1),
    seed: z.coerce.number().int().default(0),
    optimizer: z.enum(["muon", "adamw"]).default("muon"),
    /** Procedural dataset size (meshes). */
    meshes: z.coerce.number().int().positive().default(64),
    /** Validate every N steps (and at the end of each epoch). */
    valEvery: z.coerce.number().int().positive().default(100),
    /** Save a checkpoint every N steps (and at the end). */
    saveEvery: z.coerce.number().int().positive().default(100),
    /** Category prefix for the ShapeNet pickle, e.g. 03001627 (chairs). */
    category: z.string().optional(),
    augment: z.boolean().default(true),
    quiet: z.boolean().default(false),
  })
  .strict();

export type TrainOptions = z.infer<typeof TrainOptionsSchema>;

const BOOLEAN_FLAGS = new Set(["resume", "augment", "quiet"]);

/** Parses `--name value` / `--flag` / `--no-flag` arguments. */
export function parseTrainArgs(argv: string[]): TrainOptions {
  const raw: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new Error(`unexpected argument '${arg}' (flags look like --batch 8)`);
    let key = arg.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (key.startsWith("no") && BOOLEAN_FLAGS.has(key[2]?.toLowerCase() + key.slice(3))) {
      raw[key[2].toLowerCase() + key.slice(3)] = false;
      continue;
    }
    if (BOOLEAN_FLAGS.has(key)) {
      raw[key] = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new Error(`--${arg.slice(2)} needs a value`);
    raw[key] = value;
  }
  const parsed = TrainOptionsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const flag = issue.path.length ? `--${String(issue.path[0])}` : "options";
    const keys = (issue as { keys?: string[] }).keys;
    throw new Error(keys ? `unknown flag --${keys[0]}` : `${flag}: ${issue.message}`);
  }
  return parsed.data;
}
