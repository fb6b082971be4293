/**
 * Merges vertices at the same position. STL files and three.js geometries store a separate
 * vertex per face corner (for normals and UVs); welding restores the shared vertices. After
 * merging, repeated consecutive corners are removed and faces left with fewer than 3 corners
 * (degenerate triangles, e.g. a cone's apex ring) are dropped.
 */
import { MeshBuilder } from "./builder.ts";
import { faceCount, type Mesh } from "./mesh.ts";

/**
 * `tolerance` 0 merges bit-identical positions only; a positive tolerance merges positions that
 * round to the same point of a grid with that spacing (absorbs trigonometry noise at seams).
 */
export function weldVertices(mesh: Mesh, tolerance = 0): Mesh {
  const v = mesh.vertices;
  const keyOf = tolerance > 0
    ? (i: number) => `${Math.round(v[i] / tolerance)},${Math.round(v[i + 1] / tolerance)},${Math.round(v[i + 2] / tolerance)}`
    : (i: number) => `${v[i]},${v[i + 1]},${v[i + 2]}`;
  const builder = new MeshBuilder();
  const merged = new Map<string, number>();
  const remap = new Uint32Array(v.length / 3);
  for (let i = 0; i < remap.length; i++) {
    const key = keyOf(3 * i);
    let to = merged.get(key);
    if (to === undefined) {
      to = builder.addVertex(v[3 * i], v[3 * i + 1], v[3 * i + 2]);
      merged.set(key, to);
    }
    remap[i] = to;
  }
  const corners: number[] = [];
  for (let f = 0; f < faceCount(mesh); f++) {
    corners.length = 0;
    for (let k = mesh.faceStarts[f]; k < mesh.faceStarts[f + 1]; k++) {
      const c = remap[mesh.faceIndices[k]];
      if (corners.at(-1) !== c) corners.push(c);
    }
    while (corners.length > 1 && corners[0] === corners.at(-1)) corners.pop();
    if (corners.length >= 3) builder.addFace(corners);
  }
  return builder.build();
}
