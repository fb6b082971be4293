/**
 * Surface point clouds and the Chamfer distance between them: how far a changed mesh (simplified,
 * generated) is from another. Small clouds on the CPU; the brute-force nearest neighbour is
 * O(n·m), a few milliseconds for two clouds of 2048 points.
 */
import { SeededRandom } from "../data/random.ts";
import { fanTriangles } from "./formats/triangulate.ts";
import type { Mesh } from "./mesh.ts";

/**
 * `count` points uniform on the surface (area-weighted triangle choice, uniform barycentric point
 * inside it), x y z interleaved; the same seed gives the same points. Polygons count as fans.
 */
export function sampleSurface(mesh: Mesh, count: number, seed: number): Float32Array {
  const triangles = fanTriangles(mesh);
  const v = mesh.vertices;
  const cumulative = new Float64Array(triangles.length / 3);
  let total = 0;
  for (let t = 0; t < cumulative.length; t++) {
    const [a, b, c] = [3 * triangles[3 * t], 3 * triangles[3 * t + 1], 3 * triangles[3 * t + 2]];
    const e1 = [v[b] - v[a], v[b + 1] - v[a + 1], v[b + 2] - v[a + 2]];
    const e2 = [v[c] - v[a], v[c + 1] - v[a + 1], v[c + 2] - v[a + 2]];
    total += Math.hypot(e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]) / 2;
    cumulative[t] = total;
  }
  if (!(total > 0)) throw new Error("cannot sample a surface of zero area");
  const random = new SeededRandom(seed);
  const points = new Float32Array(3 * count);
  for (let p = 0; p < count; p++) {
    // The first triangle whose cumulative area exceeds the draw (binary search).
    const target = random.next() * total;
    let lo = 0, hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] > target) hi = mid;
      else lo = mid + 1;
    }
    // Folding the unit square onto the triangle keeps the point uniform.
    let s = random.next(), u = random.next();
    if (s + u > 1) [s, u] = [1 - s, 1 - u];
    const [a, b, c] = [3 * triangles[3 * lo], 3 * triangles[3 * lo + 1], 3 * triangles[3 * lo + 2]];
    for (let k = 0; k < 3; k++) points[3 * p + k] = v[a + k] + s * (v[b + k] - v[a + k]) + u * (v[c + k] - v[a + k]);
  }
  return points;
}

/** Mean distance from each point of `from` to its nearest point of `to`. */
function meanNearest(from: Float32Array, to: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < from.length; i += 3) {
    let best = Infinity;
    for (let j = 0; j < to.length; j += 3) {
      const dx = from[i] - to[j], dy = from[i + 1] - to[j + 1], dz = from[i + 2] - to[j + 2];
      best = Math.min(best, dx * dx + dy * dy + dz * dz);
    }
    sum += Math.sqrt(best);
  }
  return sum / (from.length / 3);
}

/**
 * Symmetric Chamfer distance: the mean of the two mean nearest-neighbour (Euclidean, not squared)
 * distances, in the clouds' units.
 */
export function chamferDistance(a: Float32Array, b: Float32Array): number {
  if (!a.length || !b.length) throw new Error("Chamfer distance of an empty point cloud");
  return (meanNearest(a, b) + meanNearest(b, a)) / 2;
}
