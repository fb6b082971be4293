/**
 * CPU reference of the point-cloud metrics' distances (tests only): brute force in float64.
 * PointFlow's metrics/evaluation_metrics.py defines them: the Chamfer distance of clouds a and b
 * is the mean over a's points of the squared distance to the nearest point of b, plus the same
 * from b to a (distChamfer's two minima, each averaged, summed as in _pairwise_EMD_CD_).
 * Clouds are x y z interleaved.
 */

import { chamferHost, meanSquaredNearest } from "../eval/chamfer-host.ts";

// One brute-force Chamfer on the host, src/eval/chamfer-host.ts (the simplifier reports with it too).
/** Mean over the points of `a` of the squared distance to the nearest point of `b`. */
export const directionalMeanCpu = meanSquaredNearest;
export const chamferCpu = chamferHost;

/** The Chamfer distance of every pair of clouds, [n, n] row-major (symmetric, zero diagonal). */
export function pairwiseChamferCpu(clouds: readonly Float32Array[]): Float64Array {
  const n = clouds.length;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) out[i * n + j] = out[j * n + i] = chamferCpu(clouds[i], clouds[j]);
  }
  return out;
}

/** The index of the grid point (x y z interleaved) nearest to p; the first of equals. */
export function nearestPointCpu(grid: Float64Array, x: number, y: number, z: number): number {
  let best = Infinity, at = -1;
  for (let g = 0; g < grid.length; g += 3) {
    const d = (grid[g] - x) ** 2 + (grid[g + 1] - y) ** 2 + (grid[g + 2] - z) ** 2;
    if (d < best) [best, at] = [d, g / 3];
  }
  return at;
}
