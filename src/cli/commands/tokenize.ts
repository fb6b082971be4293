/** `iflame tokenize`: tokenizes one mesh file and prints what the pipeline did to it. */
import { z } from "zod";
import { readMesh, writeMesh } from "../../mesh/io.ts";
import { simplifyMesh } from "../../mesh/simplify.ts";
import { TOKENS, detokenize, tokenizeMesh } from "../../tokenizer/index.ts";
import { defineCommand } from "../command.ts";
import { UsageError } from "../flags.ts";

const TokenizeFlags = z
  .object({
    tokens: z.string().optional().describe("write the face rows as a JSON array of 9-token arrays (no start/end/pad rows)"),
    out: z.string().optional().describe("write the mesh the tokens decode to (obj, ply, stl, glb)"),
    augment: z.boolean().default(false).describe("apply the training augmentation first"),
    seed: z.coerce.number().int().optional().describe("augmentation seed (with --augment; default 0)"),
    maxFaces: z.coerce.number().int().positive().optional().describe("simplify a mesh that tokenizes to more faces than this (meshoptimizer) so the tokens hold at most this many"),
  })
  .strict();

export const tokenizeCommand = defineCommand({
  name: "tokenize",
  summary: "Tokenize a mesh file (obj, ply, stl, off, glb, gltf) and report vertices, faces and tokens.",
  args: "<mesh file>",
  positionals: 1,
  flags: TokenizeFlags,
  async run(flags, [path]) {
    if (flags.seed !== undefined && !flags.augment) throw new UsageError("--seed only applies with --augment");
    const mesh = await readMesh(path);
    const augment = flags.augment ? { seed: flags.seed ?? 0 } : undefined;
    const result = tokenizeMesh(mesh, { augment });
    if (result.faceCount === 0) throw new Error(`${path}: no faces left after merging vertices and dropping degenerate faces (${result.inputFaces} read)`);

    console.log(`${path}${augment ? ` (augmented, seed ${augment.seed})` : ""}`);
    console.log(`  input:  ${result.inputVertices} vertices, ${result.inputFaces} faces`);
    let tokens = result;
    if (flags.maxFaces !== undefined && result.faceCount > flags.maxFaces) {
      const simplified = await simplifyMesh(mesh, flags.maxFaces);
      console.log(`  simplified (${simplified.path}): ${result.faceCount} tokenized faces > ${flags.maxFaces}, ${simplified.inputTriangles} → ${simplified.triangles} triangles, Chamfer distance ${simplified.chamfer.toExponential(2)}`);
      tokens = tokenizeMesh(simplified.mesh, { augment });
    }
    console.log(`  tokens: ${tokens.vertexCount} vertices, ${tokens.faceCount} triangles after merging and splitting`);
    console.log(`          ${tokens.faceTokens.length} face tokens, ${tokens.faceTokens.length + 2 * TOKENS.perFace} with the start and end rows`);
    if (flags.tokens) {
      const rows = Array.from({ length: tokens.faceCount }, (_, f) => [...tokens.faceTokens.subarray(f * TOKENS.perFace, (f + 1) * TOKENS.perFace)]);
      await Bun.write(flags.tokens, `[\n${rows.map((r) => JSON.stringify(r)).join(",\n")}\n]\n`);
      console.log(`  wrote ${flags.tokens}`);
    }
    if (flags.out) {
      await writeMesh(flags.out, detokenize(tokens.faceTokens));
      console.log(`  wrote ${flags.out}`);
    }
  },
});
