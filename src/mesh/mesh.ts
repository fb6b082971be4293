/**
 * The in-memory mesh every loader returns and every writer takes.
 * Polygons are stored in CSR form so quads and n-gons survive until the tokenizer,
 * which splits them the way the reference does (SPEC §1 step 5).
 */
export interface Mesh {
  /** Vertex positions, x y z interleaved (length 3·V). */
  vertices: Float32Array;
  /** Vertex indices of all faces, concatenated. */
  faceIndices: Uint32Array;
  /** Face f uses faceIndices[faceStarts[f] .. faceStarts[f+1]) (length F+1, faceStarts[0] = 0). */
  faceStarts: Uint32Array;
}

export const vertexCount = (m: Mesh): number => m.vertices.length / 3;
export const faceCount = (m: Mesh): number => m.faceStarts.length - 1;

/** Builds a mesh of triangles from flat arrays (3 indices a face). */
export function triangleMesh(vertices: Float32Array, triangles: Uint32Array): Mesh {
  const faceStarts = new Uint32Array(triangles.length / 3 + 1);
  for (let f = 0; f < faceStarts.length; f++) faceStarts[f] = 3 * f;
  return { vertices, faceIndices: triangles, faceStarts };
}
