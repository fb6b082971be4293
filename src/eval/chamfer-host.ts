/**
 * The Chamfer distance of two point clouds on the host, for the few clouds where no GPU is at hand
 * (the error a simplification introduces, src/mesh/simplify.ts). The same distance as the GPU
 * metric of chamfer.ts (PointFlow's: the mean squared distance from each point of a to its nearest
 * point of b, plus the same from b to a); brute force, O(n·m), a few milliseconds for two clouds
 * of 2048 points. Also the tests' CPU reference of the GPU kernels (src/cpu/eval.ts re-exports it).
 */

/** Mean over the points of `from` of the squared distance to the nearest point of `to`. */
export function meanSquaredNearest(from: Float32Array, to: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < from.length; i += 3) {
    let best = Infinity;
    for (let j = 0; j < to.length; j += 3) {
      const dx = from[i] - to[j], dy = from[i + 1] - to[j + 1], dz = from[i + 2] - to[j + 2];
      best = Math.min(best, dx * dx + dy * dy + dz * dz);
    }
    sum += best;
  }
  return sum / (from.length / 3);
}

/** Clouds x y z interleaved; symmetric; 0 for identical clouds. */
export function chamferHost(a: Float32Array, b: Float32Array): number {
  if (!a.length || !b.length) throw new Error("Chamfer distance of an empty point cloud");
  return meanSquaredNearest(a, b) + meanSquaredNearest(b, a);
}
