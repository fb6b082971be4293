/**
 * Flags of `iflame generate` / `bun run sample.ts`, validated with zod: an unknown flag or a bad
 * value is one clear line (src/cli/flags.ts). Sampling defaults are the reference's (SPEC §4).
 */
import { z } from "zod";
import { DEFAULT_STEPS_PER_SUBMIT } from "./batch.ts";
import { MESH_FORMATS } from "./output.ts";

/** Face rows of a --prompt mesh kept when --prompt-faces is not given (the reference's test.py). */
export const DEFAULT_PROMPT_FACES = 50;

export const GenerateFlags = z
  .object({
    checkpoint: z.string({ error: "required: a run folder, a checkpoint folder, a model.safetensors or a reference .pth" })
      .describe("run folder (its latest checkpoint), checkpoint folder, model.safetensors or reference .pth"),
    out: z.string().default("samples").describe("output folder: one mesh per sample and samples.json"),
    count: z.coerce.number().int().positive().default(4).describe("meshes to generate"),
    batch: z.coerce.number().int().positive().default(8).describe("sequences decoded in parallel"),
    maxFaces: z.coerce.number().int().positive().optional().describe("faces per mesh at most (default: the model's maxFaces)"),
    temperature: z.coerce.number().positive().default(1).describe("softmax temperature"),
    topK: z.coerce.number().int().nonnegative().default(50).describe("keep the k most probable tokens (0 keeps all)"),
    topP: z.coerce.number().min(0).max(1).default(0.95).describe("nucleus threshold (0 turns it off)"),
    seed: z.coerce.number().int().nonnegative().default(0).describe("sample i draws its tokens with seed + i"),
    prompt: z.string().optional().describe("complete this mesh (obj, ply, stl, off, glb, gltf) instead of starting from nothing"),
    promptFaces: z.coerce.number().int().nonnegative().optional().describe(`face rows of --prompt to keep (default ${DEFAULT_PROMPT_FACES})`),
    format: z.enum(MESH_FORMATS).default("obj").describe("mesh file format"),
    grammar: z.boolean().default(true).describe("the grammar mask: only tokens that keep every sequence a valid token stream"),
    strictOrder: z.boolean().default(false).describe("with the grammar: also the tokenizer's vertex and face order"),
    evalAgainst: z.string().optional().describe("then compare the meshes with this folder of reference meshes (as iflame eval) and write eval.json to --out"),
    precision: z.enum(["f32", "f16", "auto"]).default("f32").describe("weights the products read: f32, f16 (half the bytes a step reads), auto (f16 where the device has shader-f16 and a self-check passes)"),
    stepsPerSubmit: z.coerce.number().int().positive().default(DEFAULT_STEPS_PER_SUBMIT).describe("decoding steps per GPU submission (one end check each)"),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.promptFaces !== undefined && o.prompt === undefined) ctx.addIssue({ code: "custom", path: ["promptFaces"], message: "needs --prompt" });
    if (o.strictOrder && !o.grammar) ctx.addIssue({ code: "custom", path: ["strictOrder"], message: "needs the grammar (drop --no-grammar)" });
  });

export type GenerateOptions = z.infer<typeof GenerateFlags>;
