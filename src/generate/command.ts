/** `iflame generate` (and `bun run sample.ts`): meshes from a checkpoint. */
import { defineCommand } from "../cli/command.ts";
import { GenerateFlags } from "./options.ts";
import { generateMeshes } from "./run.ts";

export const generateCommand = defineCommand({
  name: "generate",
  summary: "Generate meshes from a checkpoint with the hourglass-cached GPU sampler: unconditionally, or completing a mesh (--prompt).",
  flags: GenerateFlags,
  notes: "Writes sample-NNNN.<format> per mesh and samples.json (seed, sampling settings, faces, validity, time) to --out.",
  async run(options) {
    await generateMeshes(options);
  },
});
