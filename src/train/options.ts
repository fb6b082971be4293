/**
 * Command-line options of `iflame train` (and `bun run train.ts`), validated with zod: an unknown
 * flag or a bad value is one clear line. Defaults give a run that shows learning within minutes
 * (tiny config on the built-in procedural meshes).
 */
import { z } from "zod";
import { parseFlags } from "../cli/flags.ts";
import { LR } from "./recipe.ts";

export const TrainOptionsSchema = z
  .object({
    config: z.string().default("tiny").describe("model preset (shapenet, objaverse, small, tiny) or a JSON config file"),
    data: z.string().default("procedural").describe("'procedural' (primitives), 'shapes' (furniture with parts), a MeshGPT ShapeNet pickle, or a folder of meshes"),
    out: z.string().optional().describe("run folder (default runs/<config>-<time>)"),
    resume: z.boolean().default(false).describe("continue from the run folder's latest checkpoint"),
    batch: z.coerce.number().int().positive().default(4).describe("sequences per micro-batch"),
    lr: z.coerce.number().positive().default(LR).describe("peak learning rate"),
    epochs: z.coerce.number().int().positive().optional().describe("epochs to train (default 10, unless --steps)"),
    steps: z.coerce.number().int().positive().optional().describe("optimizer steps to train"),
    accum: z.coerce.number().int().positive().default(1).describe("micro-batches per optimizer step"),
    seed: z.coerce.number().int().default(0).describe("seed for initialisation, shuffling and augmentation"),
    optimizer: z.enum(["muon", "adamw"]).default("muon"),
    meshes: z.coerce.number().int().positive().default(64).describe("size of the built-in dataset (procedural, shapes) in meshes"),
    simplify: z.boolean().default(true).describe("simplify folder meshes over the config's face limit (meshoptimizer); --no-simplify leaves them out"),
    valEvery: z.coerce.number().int().positive().default(100).describe("validate every N steps (and at the end of each epoch)"),
    saveEvery: z.coerce.number().int().positive().default(100).describe("save a checkpoint every N steps (and at the end)"),
    category: z.string().optional().describe("category prefix for the ShapeNet pickle, e.g. 03001627 (chairs)"),
    augment: z.boolean().default(true).describe("training augmentation (each axis of a mesh scaled by U(0.75, 1.25))"),
    quiet: z.boolean().default(false).describe("no progress bar"),
    distributed: z.enum(["auto", "mpi", "off"]).default("auto").describe("data parallelism over MPI: auto (when launched by mpiexec), mpi, off"),
    precision: z.enum(["f32", "f16", "auto"]).default("f32").describe("arithmetic: f32, f16 (mixed precision, dynamic loss scaling), auto (f16 where the device has shader-f16 and a self-check passes)"),
    bucketMb: z.coerce.number().positive().default(25).describe("gradient all-reduce bucket size in MiB (data-parallel runs)"),
    overlap: z.boolean().default(true).describe("data-parallel runs: sum gradient buckets while the backward still runs (--no-overlap: after it)"),
  })
  .strict();

export type TrainOptions = z.infer<typeof TrainOptionsSchema>;

/** Parses `--name value` / `--flag` / `--no-flag` arguments; throws a UsageError on bad input. */
export function parseTrainArgs(argv: string[]): TrainOptions {
  return parseFlags(TrainOptionsSchema, argv).flags;
}
