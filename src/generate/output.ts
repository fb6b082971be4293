/**
 * Generated sequences → mesh files: detokenize (cut at the end token, drop a trailing partial
 * face), merge vertices at the same position and drop the faces that collapse.
 */
import { join } from "node:path";
import { writeMesh } from "../mesh/io.ts";
import { faceCount, type Mesh } from "../mesh/mesh.ts";
import { weldVertices } from "../mesh/weld.ts";
import { detokenize } from "../tokenizer/index.ts";

export const MESH_FORMATS = ["obj", "ply", "glb", "stl"] as const;
export type MeshFormat = (typeof MESH_FORMATS)[number];

export function sequenceToMesh(tokens: Int32Array): Mesh {
  return weldVertices(detokenize(tokens));
}

/** Writes sample `index` as `sample-NNNN.<format>` in `dir`; null (nothing written) when it has no faces. */
export async function writeSample(dir: string, index: number, mesh: Mesh, format: MeshFormat): Promise<string | null> {
  if (faceCount(mesh) === 0) return null;
  const file = `sample-${String(index).padStart(4, "0")}.${format}`;
  await writeMesh(join(dir, file), mesh);
  return file;
}
