/**
 * Prompts: the start row alone (unconditional generation), or the start row followed by the first
 * N face rows of a tokenized mesh (completion, as the reference's test.py does with 50 faces).
 */
import { readMesh } from "../mesh/io.ts";
import { TOKENS, tokenizeMesh } from "../tokenizer/index.ts";

export function unconditionalPrompt(): Int32Array {
  return new Int32Array(TOKENS.perFace).fill(TOKENS.start);
}

/** The start row and the first `faces` face rows of `path`'s mesh. */
export async function meshPrompt(path: string, faces: number): Promise<Int32Array> {
  const { faceTokens, faceCount } = tokenizeMesh(await readMesh(path));
  if (faces > faceCount) throw new Error(`${path}: has ${faceCount} faces after tokenization, fewer than the ${faces} asked for the prompt`);
  const prompt = new Int32Array(TOKENS.perFace * (faces + 1));
  prompt.set(unconditionalPrompt());
  prompt.set(faceTokens.subarray(0, TOKENS.perFace * faces), TOKENS.perFace);
  return prompt;
}
