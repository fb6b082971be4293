/**
 * `iflame dataset export`: writes meshes of a dataset split as files, e.g. the built-in shapes'
 * held-out test split, to compare generated meshes against objects no model was trained on.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { openDataset } from "../../data/index.ts";
import { firstShapes, SHAPE_SPLITS } from "../../data/shapes/index.ts";
import { WRITABLE_EXTENSIONS, writeMesh } from "../../mesh/io.ts";
import { loadModelConfig } from "../../model/config.ts";
import { datasetSpec } from "../../train/data.ts";
import { TrainOptionsSchema } from "../../train/options.ts";
import { defineCommand } from "../command.ts";
import { UsageError } from "../flags.ts";

const DatasetFlags = TrainOptionsSchema.pick({ data: true, config: true, meshes: true, seed: true, category: true })
  .extend({
    split: z.enum(SHAPE_SPLITS).default("test").describe("the split to write; test exists for the built-in shapes only"),
    count: z.coerce.number().int().positive().default(256).describe("meshes to write (fewer if the split is smaller)"),
    out: z.string().describe("folder to write the meshes to"),
    format: z.enum(WRITABLE_EXTENSIONS.map((e) => e.slice(1)) as ["obj", ...string[]]).default("obj").describe("mesh file format"),
  })
  .strict();

export const datasetCommand = defineCommand({
  name: "dataset",
  summary: "Write meshes of a dataset split as files (iflame dataset export --data shapes --config small --split test --out DIR).",
  args: "export",
  positionals: 1,
  flags: DatasetFlags,
  notes:
    "Built-in data is sized to the config's face limit as in training, so pass the config the model trains with. " +
    "The shapes' test split is the same objects in every run and never part of a training set.",
  async run(flags, [action]) {
    if (action !== "export") throw new UsageError(`unknown action '${action}' (actions: export)`);
    const { maxFaces } = await loadModelConfig(flags.config);
    let meshes;
    if (flags.data === "shapes") meshes = firstShapes({ count: flags.count, maxFaces, split: flags.split });
    else if (flags.split === "test") throw new UsageError("--split test: only the built-in shapes have a held-out test split (use val)");
    else meshes = (await openDataset(datasetSpec(flags), { maxFaces }))[flags.split].slice(0, flags.count);
    await mkdir(flags.out, { recursive: true });
    // Names become plain file names, so nothing is written outside the folder.
    for (const { name, mesh } of meshes) await writeMesh(join(flags.out, `${name.replace(/[^A-Za-z0-9._-]+/g, "_")}.${flags.format}`), mesh);
    console.log(`wrote ${meshes.length} ${flags.split} meshes of ${flags.data} (max ${maxFaces} faces) to ${flags.out}`);
  },
});
