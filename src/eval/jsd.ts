/**
 * Jensen–Shannon divergence between two sets of point clouds, as PointFlow's
 * jsd_between_point_cloud_sets (from latent_3d_points) computes it: a grid of resolution³ points
 * spanning [-0.5, 0.5]³ (spacing 1 / (resolution − 1)), those outside the sphere of radius 0.5
 * dropped; every point of every cloud of a set adds one to the count of its nearest grid point;
 * JSD (base 2) of the two sets' normalised counts.
 */

export const JSD_RESOLUTION = 28;

/** The sphere-clipped grid and a nearest-point lookup that never scans the whole grid for a point inside it. */
export class SphereGrid {
  /** Kept grid points, x y z interleaved, in (i, j, k) order. */
  readonly points: Float64Array;
  readonly spacing: number;
  /** Full-grid index (i·res² + j·res + k) → kept index, or −1 outside the sphere. */
  private readonly kept: Int32Array;
  /** Kept points that may be nearest to a point in a dropped cell's box, found on first use. */
  private readonly candidates = new Map<number, Int32Array>();

  constructor(readonly resolution: number) {
    this.spacing = 1 / (resolution - 1);
    this.kept = new Int32Array(resolution ** 3).fill(-1);
    const points: number[] = [];
    for (let i = 0; i < resolution; i++) {
      for (let j = 0; j < resolution; j++) {
        for (let k = 0; k < resolution; k++) {
          const [x, y, z] = [i, j, k].map((c) => c * this.spacing - 0.5);
          if (Math.hypot(x, y, z) > 0.5) continue;
          this.kept[(i * resolution + j) * resolution + k] = points.length / 3;
          points.push(x, y, z);
        }
      }
    }
    this.points = Float64Array.from(points);
  }

  get size(): number {
    return this.points.length / 3;
  }

  private cell(c: number): number {
    return Math.min(this.resolution - 1, Math.max(0, Math.round((c + 0.5) / this.spacing)));
  }

  /** The kept grid point nearest to (x, y, z). */
  nearest(x: number, y: number, z: number): number {
    const cell = (this.cell(x) * this.resolution + this.cell(y)) * this.resolution + this.cell(z);
    // Rounding each coordinate finds the nearest point of the full grid; when it is kept, it is also the nearest kept one.
    const kept = this.kept[cell];
    if (kept >= 0) return kept;
    const list = this.candidatesOf(cell), pts = this.points;
    let best = Infinity, at = -1;
    for (let n = 0; n < list.length; n++) {
      const g = list[n];
      const dx = pts[3 * g] - x, dy = pts[3 * g + 1] - y, dz = pts[3 * g + 2] - z;
      const d = dx * dx + dy * dy + dz * dz;
      if (d < best) [best, at] = [d, g];
    }
    return at;
  }

  /**
   * Kept points with a dropped (or missing) axis neighbour: the nearest kept point to a point in a
   * dropped cell is one of them (from any other kept point, the step towards the point along an
   * axis where it lies more than half a spacing away reaches a kept point nearer to it).
   */
  private shellPoints(): Int32Array {
    const res = this.resolution;
    const shell: number[] = [];
    for (let cell = 0; cell < this.kept.length; cell++) {
      if (this.kept[cell] < 0) continue;
      const index = [Math.floor(cell / (res * res)), Math.floor(cell / res) % res, cell % res];
      const stride = [res * res, res, 1];
      const open = index.some((c, a) => c === 0 || c === res - 1 || this.kept[cell - stride[a]] < 0 || this.kept[cell + stride[a]] < 0);
      if (open) shell.push(this.kept[cell]);
    }
    return Int32Array.from(shell);
  }

  private shell: Int32Array | null = null;

  /**
   * Shell points whose distance to the cell's box can beat the best worst-case distance of any
   * shell point: only they can be nearest to a point inside the box. Boxes on the grid's border
   * reach a little past it, for points a rounding error outside [-0.5, 0.5].
   */
  private candidatesOf(cell: number): Int32Array {
    let list = this.candidates.get(cell);
    if (list) return list;
    const shell = (this.shell ??= this.shellPoints());
    const res = this.resolution, h = this.spacing / 2, margin = 1e-3;
    const index = [Math.floor(cell / (res * res)), Math.floor(cell / res) % res, cell % res];
    const lo = index.map((c) => c * this.spacing - 0.5 - h - (c === 0 ? margin : 0));
    const hi = index.map((c) => c * this.spacing - 0.5 + h + (c === res - 1 ? margin : 0));
    const near = new Float64Array(shell.length);
    const pts = this.points;
    let bound = Infinity;
    for (let n = 0; n < shell.length; n++) {
      let nearest = 0, farthest = 0;
      for (let a = 0; a < 3; a++) {
        const p = pts[3 * shell[n] + a];
        const out = p < lo[a] ? lo[a] - p : p > hi[a] ? p - hi[a] : 0;
        const reach = Math.max(p - lo[a], hi[a] - p);
        nearest += out * out;
        farthest += reach * reach;
      }
      near[n] = nearest;
      if (farthest < bound) bound = farthest;
    }
    list = shell.filter((_, n) => near[n] <= bound);
    this.candidates.set(cell, list);
    return list;
  }
}

/** Points of all clouds per kept grid point. */
export function occupancyCounts(clouds: readonly Float32Array[], grid: SphereGrid): Float64Array {
  const counts = new Float64Array(grid.size);
  for (const cloud of clouds) {
    for (let i = 0; i < cloud.length; i += 3) counts[grid.nearest(cloud[i], cloud[i + 1], cloud[i + 2])]++;
  }
  return counts;
}

/** Shannon entropy in bits of a distribution given by non-negative weights summing to `total`. */
function entropyBits(weights: ArrayLike<number>, total: number): number {
  let h = 0;
  for (let i = 0; i < weights.length; i++) {
    const p = weights[i] / total;
    if (p > 0) h -= p * Math.log2(p);
  }
  return h;
}

/** JSD(P ‖ Q) in bits of two count vectors (each normalised to a distribution first). */
export function jensenShannonDivergence(P: Float64Array, Q: Float64Array): number {
  const sp = P.reduce((a, b) => a + b, 0), sq = Q.reduce((a, b) => a + b, 0);
  if (!(sp > 0 && sq > 0) || P.length !== Q.length) throw new Error("JSD needs two non-empty histograms of one size");
  const mixture = P.map((p, i) => (p / sp + Q[i] / sq) / 2);
  return entropyBits(mixture, 1) - (entropyBits(P, sp) + entropyBits(Q, sq)) / 2;
}

export function jsdBetweenSets(generated: readonly Float32Array[], reference: readonly Float32Array[], resolution = JSD_RESOLUTION): number {
  const grid = new SphereGrid(resolution);
  return jensenShannonDivergence(occupancyCounts(generated, grid), occupancyCounts(reference, grid));
}
