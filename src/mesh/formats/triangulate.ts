/** Formats that only hold triangles (STL, glTF) get polygons as fans from their first corner. */
import { faceCount, type Mesh } from "../mesh.ts";

export function fanTriangles(mesh: Mesh): Uint32Array {
  let count = 0;
  for (let f = 0; f < faceCount(mesh); f++) count += Math.max(0, mesh.faceStarts[f + 1] - mesh.faceStarts[f] - 2);
  const out = new Uint32Array(3 * count);
  let at = 0;
  for (let f = 0; f < faceCount(mesh); f++) {
    const begin = mesh.faceStarts[f], end = mesh.faceStarts[f + 1];
    for (let k = begin + 1; k + 1 < end; k++) {
      out[at++] = mesh.faceIndices[begin];
      out[at++] = mesh.faceIndices[k];
      out[at++] = mesh.faceIndices[k + 1];
    }
  }
  return out;
}
