/**
 * A mesh as a point cloud for the metrics: normalised as the tokenizer does (bounding box centred,
 * largest extent 1, so it fits [-0.5, 0.5]³), then `count` points drawn uniformly over its surface:
 * a triangle picked with probability proportional to its area, a point inside it from two uniforms
 * (p = (1 − √r₁)a + √r₁(1 − r₂)b + √r₁r₂c is uniform over the triangle). The draws come from the
 * project's counter-based generator, so a mesh's cloud depends only on the mesh and the seed.
 */
import { mixSeed, SeededRandom } from "../data/random.ts";
import { fanTriangles } from "../mesh/formats/triangulate.ts";
import type { Mesh } from "../mesh/mesh.ts";
import { normalizeMesh } from "../mesh/normalize.ts";

/** Seed of the cloud of mesh `index` of a set (generated and reference mesh i share one). */
export const cloudSeed = (seed: number, index: number): number => mixSeed(seed, index);

/** `count` points, x y z interleaved. Throws when the mesh has no area to sample. */
export function samplePoints(mesh: Mesh, count: number, seed: number): Float32Array {
  const m = normalizeMesh(mesh);
  const v = m.vertices;
  const tri = fanTriangles(m);
  // Running sum of the triangles' doubled areas.
  const cumulative = new Float64Array(tri.length / 3);
  let total = 0;
  for (let t = 0; t < cumulative.length; t++) {
    const [a, b, c] = [3 * tri[3 * t], 3 * tri[3 * t + 1], 3 * tri[3 * t + 2]];
    const ux = v[b] - v[a], uy = v[b + 1] - v[a + 1], uz = v[b + 2] - v[a + 2];
    const wx = v[c] - v[a], wy = v[c + 1] - v[a + 1], wz = v[c + 2] - v[a + 2];
    total += Math.hypot(uy * wz - uz * wy, uz * wx - ux * wz, ux * wy - uy * wx);
    cumulative[t] = total;
  }
  if (!(total > 0)) throw new Error("no surface area to sample points from (every face is degenerate)");
  const random = new SeededRandom(seed);
  const out = new Float32Array(3 * count);
  for (let i = 0; i < count; i++) {
    const u = random.next() * total;
    // The first triangle whose running sum passes u (zero-area triangles are never picked).
    let lo = 0, hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    const s = Math.sqrt(random.next()), r = random.next();
    const [wa, wb, wc] = [1 - s, s * (1 - r), s * r];
    const [a, b, c] = [3 * tri[3 * lo], 3 * tri[3 * lo + 1], 3 * tri[3 * lo + 2]];
    for (let k = 0; k < 3; k++) out[3 * i + k] = wa * v[a + k] + wb * v[b + k] + wc * v[c + k];
  }
  return out;
}
