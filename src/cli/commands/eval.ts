/** `iflame eval`: how close a folder of generated meshes is to a reference set (docs/EVAL.md). */
import { z } from "zod";
import { DEFAULT_EVAL_POINTS, checkMeshFolder, evaluateFolders } from "../../eval/evaluate.ts";
import { formatEvalTable } from "../../eval/table.ts";
import { writeFileAtomic } from "../../util/atomic-write.ts";
import { defineCommand } from "../command.ts";

/** Points per cloud at most: a workgroup keeps a cloud in registers (256 threads × 8 points a few times over). */
const MAX_POINTS = 16384;

const folder = (what: string) => z.string({ error: `required: the folder of ${what} meshes` });

const EvalFlags = z
  .object({
    generated: folder("generated").describe("folder of generated meshes (any depth; obj, ply, stl, glb, gltf)"),
    reference: folder("reference").describe("folder of reference meshes (any depth; obj, ply, stl, glb, gltf)"),
    points: z.coerce.number().int().min(1).max(MAX_POINTS).default(DEFAULT_EVAL_POINTS).describe("points sampled per mesh"),
    seed: z.coerce.number().int().nonnegative().default(0).describe("seed of the point sampling"),
    json: z.string().optional().describe("also write the report as JSON to this file"),
  })
  .strict();

export const evalCommand = defineCommand({
  name: "eval",
  summary: "Compare generated meshes with a reference set: MMD, COV and 1-NNA of Chamfer distances (on the GPU), JSD of occupancy, and validity figures.",
  flags: EvalFlags,
  notes: "Definitions as PointFlow's metrics/evaluation_metrics.py; see docs/EVAL.md. Meshes are normalised as the tokenizer does.",
  async run(flags) {
    checkMeshFolder("generated", flags.generated);
    checkMeshFolder("reference", flags.reference);
    const report = await evaluateFolders({ ...flags, log: (line) => console.error(line) });
    console.log(formatEvalTable(report));
    if (flags.json) {
      await writeFileAtomic(flags.json, `${JSON.stringify(report, null, 2)}\n`);
      console.log(`wrote ${flags.json}`);
    }
  },
});
