/**
 * Validity figures of a mesh, on its faces as stored (polygons stay polygons) after merging
 * vertices at bit-identical positions (a mesh file may store one vertex per corner):
 *   - degenerate face: a repeated vertex, or zero area (Newell's normal is zero);
 *   - duplicate face: the same vertex set as an earlier face;
 *   - watertight: every edge belongs to exactly two faces;
 *   - manifold: every edge belongs to at most two faces, and the faces around each vertex form
 *     one fan (its link, the graph of the edges opposite it, is connected: no pinched vertex).
 * Faces with a repeated vertex take no part in the edge and fan checks (they are counted as
 * degenerate); a mesh with no other face is neither watertight nor manifold.
 */
import { faceCount, type Mesh } from "../mesh/mesh.ts";

export interface MeshValidity {
  /** Triangles, an n-gon counting n − 2 (the unit of the face-count histogram). */
  triangles: number;
  faces: number;
  degenerateFaces: number;
  duplicateFaces: number;
  watertight: boolean;
  manifold: boolean;
}

/** Vertex ids with every position's copies mapped to its first index. */
function mergedIds(mesh: Mesh): Uint32Array {
  const v = mesh.vertices;
  const first = new Map<string, number>();
  return Uint32Array.from({ length: v.length / 3 }, (_, i) => {
    const key = `${v[3 * i]},${v[3 * i + 1]},${v[3 * i + 2]}`;
    const seen = first.get(key);
    if (seen !== undefined) return seen;
    first.set(key, i);
    return i;
  });
}

function zeroArea(mesh: Mesh, corners: readonly number[]): boolean {
  const v = mesh.vertices;
  let nx = 0, ny = 0, nz = 0;
  for (let k = 0; k < corners.length; k++) {
    const a = 3 * corners[k], b = 3 * corners[(k + 1) % corners.length];
    nx += (v[a + 1] - v[b + 1]) * (v[a + 2] + v[b + 2]);
    ny += (v[a + 2] - v[b + 2]) * (v[a] + v[b]);
    nz += (v[a] - v[b]) * (v[a + 1] + v[b + 1]);
  }
  return nx === 0 && ny === 0 && nz === 0;
}

/** Whether the link edges (pairs of neighbours) form one connected graph. */
function connected(edges: readonly number[]): boolean {
  const parent = new Map<number, number>();
  const root = (x: number): number => {
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r)!;
    return r;
  };
  for (const x of edges) if (!parent.has(x)) parent.set(x, x);
  let components = parent.size;
  for (let e = 0; e < edges.length; e += 2) {
    const [a, b] = [root(edges[e]), root(edges[e + 1])];
    if (a !== b) {
      parent.set(a, b);
      components--;
    }
  }
  return components <= 1;
}

export function meshValidity(mesh: Mesh): MeshValidity {
  const id = mergedIds(mesh);
  const edgeFaces = new Map<string, number>();
  const links = new Map<number, number[]>();
  const seen = new Set<string>();
  let triangles = 0, degenerateFaces = 0, duplicateFaces = 0, checked = 0;
  for (let f = 0; f < faceCount(mesh); f++) {
    const corners = Array.from(mesh.faceIndices.subarray(mesh.faceStarts[f], mesh.faceStarts[f + 1]), (i) => id[i]);
    triangles += Math.max(0, corners.length - 2);
    const sorted = corners.toSorted((a, b) => a - b);
    const key = sorted.join(",");
    if (seen.has(key)) duplicateFaces++;
    seen.add(key);
    const repeated = sorted.some((c, k) => k > 0 && c === sorted[k - 1]);
    if (repeated || corners.length < 3 || zeroArea(mesh, corners)) degenerateFaces++;
    if (repeated || corners.length < 3) continue;
    checked++;
    for (let k = 0; k < corners.length; k++) {
      const [prev, v, next] = [corners[(k + corners.length - 1) % corners.length], corners[k], corners[(k + 1) % corners.length]];
      const edge = v < next ? `${v},${next}` : `${next},${v}`;
      edgeFaces.set(edge, (edgeFaces.get(edge) ?? 0) + 1);
      const link = links.get(v) ?? [];
      link.push(prev, next);
      links.set(v, link);
    }
  }
  const counts = [...edgeFaces.values()];
  const watertight = checked > 0 && counts.every((c) => c === 2);
  const manifold = checked > 0 && counts.every((c) => c <= 2) && [...links.values()].every(connected);
  return { triangles, faces: faceCount(mesh), degenerateFaces, duplicateFaces, watertight, manifold };
}

export interface FaceHistogram {
  /** Bin b holds counts in [edges[b], edges[b + 1]). */
  edges: number[];
  generated: number[];
  reference: number[];
}

/** Both sets' triangle counts in the same `bins` equal-width bins from 0 past the largest count. */
export function faceCountHistogram(generated: readonly number[], reference: readonly number[], bins = 10): FaceHistogram {
  const largest = Math.max(0, ...generated, ...reference);
  const width = Math.max(1, Math.ceil((largest + 1) / bins));
  const edges = Array.from({ length: bins + 1 }, (_, b) => b * width);
  const count = (values: readonly number[]) => {
    const out = new Array<number>(bins).fill(0);
    for (const v of values) out[Math.min(bins - 1, Math.floor(v / width))]++;
    return out;
  };
  return { edges, generated: count(generated), reference: count(reference) };
}
