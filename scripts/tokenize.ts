/**
 * Tokenizes one mesh file and prints what the pipeline did to it.
 *   bun scripts/tokenize.ts <mesh.obj|ply|stl|glb|gltf> [--tokens out.json] [--out mesh.obj] [--augment --seed N]
 * --tokens writes the face tokens as JSON; --out writes the mesh the tokens decode to.
 */
import { parseArgs } from "node:util";
import { readMesh, writeMesh } from "../src/mesh/io.ts";
import { TOKENS, detokenize, tokenizeMesh } from "../src/tokenizer/index.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    tokens: { type: "string" },
    out: { type: "string" },
    augment: { type: "boolean", default: false },
    seed: { type: "string" },
  },
});
if (positionals.length !== 1) {
  console.error("usage: bun scripts/tokenize.ts <mesh file> [--tokens out.json] [--out mesh.obj] [--augment --seed N]");
  process.exit(2);
}
if (values.seed !== undefined && !values.augment) {
  console.error("--seed only applies with --augment");
  process.exit(2);
}

const [path] = positionals;
const mesh = await readMesh(path);
const augment = values.augment ? { seed: Number(values.seed ?? 0) } : undefined;
const result = tokenizeMesh(mesh, { augment });

console.log(`${path}${augment ? ` (augmented, seed ${augment.seed})` : ""}`);
console.log(`  input:  ${result.inputVertices} vertices, ${result.inputFaces} faces`);
console.log(`  tokens: ${result.vertexCount} vertices, ${result.faceCount} triangles after merging and splitting`);
console.log(`          ${result.faceTokens.length} face tokens, ${result.faceTokens.length + 2 * TOKENS.perFace} with the start and end rows`);

if (values.tokens) {
  const { faceTokens, ...counts } = result;
  await Bun.write(values.tokens, JSON.stringify({ ...counts, faceTokens: [...faceTokens] }));
  console.log(`  wrote ${values.tokens}`);
}
if (values.out) {
  await writeMesh(values.out, detokenize(result.faceTokens));
  console.log(`  wrote ${values.out}`);
}
