/**
 * Brings a mesh under a face limit with meshoptimizer's simplifier (WASM), so large meshes can be
 * trained on instead of dropped. The topology-preserving simplifier runs first; where topology
 * stops it short of the target (many small parts, non-manifold edges, borders), the sloppy one
 * (vertex clustering, which ignores topology) takes over.
 */
import { MeshoptSimplifier } from "meshoptimizer";
import { chamferHost } from "../eval/chamfer-host.ts";
import { samplePoints } from "../eval/points.ts";
import { fanTriangles } from "./formats/triangulate.ts";
import { triangleMesh, type Mesh } from "./mesh.ts";
import { weldVertices } from "./weld.ts";

/**
 * Which simplifier reached the target: meshoptimizer's `simplify`, the same with its Prune flag
 * (drops small disconnected pieces whole), or `simplifySloppy`.
 */
export type SimplifyPath = "topology" | "prune" | "sloppy";

export interface Simplified {
  mesh: Mesh;
  path: SimplifyPath;
  /** Triangles before (polygons fanned) and after. */
  inputTriangles: number;
  triangles: number;
  /**
   * Chamfer distance between surface samples of the input and the result, each normalized as the
   * tokenizer does (largest extent 1): the distance `iflame eval` uses (sum of the two mean
   * squared nearest-point distances), 0 when nothing was simplified.
   */
  chamfer: number;
}

export interface SimplifyOptions {
  /** Points sampled on each surface for the Chamfer distance (default 2048). */
  chamferPoints?: number;
}

/**
 * A relative error limit of 1 (the whole mesh extent) means no limit: the simplifier then stops
 * only at the target count or where topology forbids further collapses.
 */
const NO_ERROR_LIMIT = 1;
/** Sloppy simplification can land above its target; each retry asks for proportionally fewer. */
const SLOPPY_TRIES = 8;

/** `simplifySloppy` retried with smaller targets until the result has at most `target` indices (or none). */
function sloppyUnder(indices: Uint32Array, vertices: Float32Array, target: number): Uint32Array {
  let ask = target;
  let [result] = MeshoptSimplifier.simplifySloppy(indices, vertices, 3, null, ask, NO_ERROR_LIMIT);
  for (let tries = 1; result.length > target && tries < SLOPPY_TRIES; tries++) {
    ask = 3 * Math.floor((ask / 3) * (target / result.length) * 0.9);
    [result] = MeshoptSimplifier.simplifySloppy(indices, vertices, 3, null, ask, NO_ERROR_LIMIT);
  }
  return result;
}

/** The index buffer's vertices only, renumbered (unused vertices would still count in the tokenizer's bounding box). */
function compact(vertices: Float32Array, indices: Uint32Array): Mesh {
  const [remap, unique] = MeshoptSimplifier.compactMesh(indices); // rewrites `indices` in place
  const out = new Float32Array(3 * unique);
  for (let i = 0; i < remap.length; i++) if (remap[i] !== 0xffffffff) out.set(vertices.subarray(3 * i, 3 * i + 3), 3 * remap[i]);
  return triangleMesh(out, indices);
}

/**
 * A triangle mesh of at most `maxTriangles` triangles resembling `mesh` (polygons are fanned
 * first). A mesh already within the limit still comes back welded and triangulated, path
 * "topology", chamfer 0. Since tokenization never adds faces to a triangle mesh, the result
 * tokenizes to at most `maxTriangles` faces.
 */
export async function simplifyMesh(mesh: Mesh, maxTriangles: number, opts: SimplifyOptions = {}): Promise<Simplified> {
  if (!(Number.isInteger(maxTriangles) && maxTriangles > 0)) throw new Error(`simplify: maxTriangles must be a positive integer, got ${maxTriangles}`);
  await MeshoptSimplifier.ready;
  // meshoptimizer treats distinct vertices at one position as a seam it must keep: weld first.
  const welded = weldVertices(mesh);
  const vertices = welded.vertices;
  const indices = fanTriangles(welded);
  const inputTriangles = indices.length / 3;
  if (inputTriangles <= maxTriangles) return { mesh: compact(vertices, indices), path: "topology", inputTriangles, triangles: inputTriangles, chamfer: 0 };

  const target = 3 * maxTriangles;
  const fits = (result: Uint32Array) => result.length > 0 && result.length <= target;
  const attempts: [SimplifyPath, () => Uint32Array][] = [
    ["topology", () => MeshoptSimplifier.simplify(indices, vertices, 3, target, NO_ERROR_LIMIT)[0]],
    ["prune", () => MeshoptSimplifier.simplify(indices, vertices, 3, target, NO_ERROR_LIMIT, ["Prune"])[0]],
    ["sloppy", () => sloppyUnder(indices, vertices, target)],
  ];
  let found: { path: SimplifyPath; result: Uint32Array } | undefined;
  const reached: string[] = [];
  for (const [path, run] of attempts) {
    const result = run();
    if (fits(result)) {
      found = { path, result };
      break;
    }
    reached.push(`${path} ${result.length / 3}`);
  }
  if (!found) throw new Error(`simplify: cannot bring ${inputTriangles} triangles to 1..${maxTriangles} (stopped at: ${reached.join(", ")})`);
  const { path, result } = found;
  const simplified = compact(vertices, result);
  const points = opts.chamferPoints ?? 2048;
  const chamfer = chamferHost(samplePoints(welded, points, 1), samplePoints(simplified, points, 2));
  return { mesh: simplified, path, inputTriangles, triangles: result.length / 3, chamfer };
}
