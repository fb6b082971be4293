/** `iflame convert` and `iflame export-torch`: the reference's PyTorch checkpoints ⇄ ours (src/interop/convert.ts). */
import { z } from "zod";
import { convertTorchCheckpoint, exportTorchCheckpoint } from "../../interop/convert.ts";
import { defineCommand } from "../command.ts";

const ConvertFlags = z
  .object({
    heads: z.coerce.number().int().positive().optional().describe("attention heads (default dim / 32; shapes do not record it)"),
    maxFaces: z.coerce.number().int().positive().optional().describe("longest training sequence in faces (default 767, ShapeNet's)"),
    name: z.string().optional().describe("config name (default the .pth file's base name)"),
  })
  .strict();

export const convertCommand = defineCommand({
  name: "convert",
  summary: "Convert a PyTorch checkpoint of the reference (.pth) into an iflame checkpoint folder; the config is read off the weights' shapes.",
  args: "<in.pth> <out folder>",
  positionals: 2,
  flags: ConvertFlags,
  async run(flags, [inPth, outDir]) {
    const { config, file } = await convertTorchCheckpoint(inPth, outDir, flags);
    console.log(`wrote ${file}: ${JSON.stringify(config)}`);
  },
});

const ExportFlags = z
  .object({
    layout: z.enum(["state-dict", "reference"]).default("state-dict").describe("a bare state dict, or the reference's training checkpoint dict"),
  })
  .strict();

export const exportTorchCommand = defineCommand({
  name: "export-torch",
  summary: "Write an iflame checkpoint (a checkpoint folder, or a run folder's latest) as a .pth the reference loads with strict=True.",
  args: "<checkpoint | run folder> <out.pth>",
  positionals: 2,
  flags: ExportFlags,
  async run(flags, [checkpoint, outPth]) {
    const { config } = await exportTorchCheckpoint(checkpoint, outPth, { layout: flags.layout });
    console.log(`wrote ${outPth} (${config.name}: dim ${config.dim}, blocks [${config.blocksPerLevel}], layout ${flags.layout})`);
  },
});
