/**
 * Set-to-set metrics from Chamfer distances, as PointFlow's metrics/evaluation_metrics.py defines
 * them (lgan_mmd_cov and knn with k = 1). Distances come as one symmetric matrix over the union of
 * the two sets, references first (PointFlow's order in knn): row/column i < R is reference i,
 * R + g is generated mesh g.
 */

export interface UnionDistances {
  /** [n, n] row-major, n = references + generated. */
  data: ArrayLike<number>;
  references: number;
  generated: number;
}

const distance = (m: UnionDistances, i: number, j: number) => m.data[i * (m.references + m.generated) + j];

export interface MmdCov {
  /** Mean over references of the distance to the nearest generated mesh (minimum matching distance). */
  mmd: number;
  /** Share of references that are the nearest reference of at least one generated mesh, in [0, 1]. */
  cov: number;
  /** Mean over generated meshes of the distance to the nearest reference (PointFlow's lgan_mmd_smp). */
  mmdGenerated: number;
}

/** MMD and COV from the generated × reference block; ties go to the first index. */
export function mmdCov(m: UnionDistances): MmdCov {
  const { references: R, generated: G } = m;
  if (R === 0 || G === 0) throw new Error(`MMD and COV need both sets (${G} generated, ${R} references)`);
  const nearestOfReference = new Float64Array(R).fill(Infinity);
  const covered = new Set<number>();
  let mmdGenerated = 0;
  for (let g = 0; g < G; g++) {
    let best = Infinity, at = -1;
    for (let r = 0; r < R; r++) {
      const d = distance(m, R + g, r);
      if (d < best) [best, at] = [d, r];
      nearestOfReference[r] = Math.min(nearestOfReference[r], d);
    }
    covered.add(at);
    mmdGenerated += best;
  }
  return { mmd: nearestOfReference.reduce((a, b) => a + b, 0) / R, cov: covered.size / R, mmdGenerated: mmdGenerated / G };
}

export interface NearestNeighbourAccuracy {
  /** Share of all meshes whose nearest other mesh (leave-one-out) comes from the same set; 0.5 is ideal. */
  accuracy: number;
  /** The same over references alone and over generated meshes alone. */
  references: number;
  generated: number;
}

/**
 * 1-NNA: each mesh of the union is classified by its nearest other mesh (the diagonal excluded);
 * accuracy is the share classified into its own set. Ties go to the first index (a reference).
 */
export function oneNearestNeighbourAccuracy(m: UnionDistances): NearestNeighbourAccuracy {
  const { references: R, generated: G } = m;
  const n = R + G;
  if (R === 0 || G === 0 || n < 3) throw new Error(`1-NNA needs both sets and 3 meshes (${G} generated, ${R} references)`);
  let rightReferences = 0, rightGenerated = 0;
  for (let j = 0; j < n; j++) {
    let best = Infinity, at = -1;
    for (let i = 0; i < n; i++) {
      const d = distance(m, i, j);
      if (i !== j && d < best) [best, at] = [d, i];
    }
    if (j < R && at < R) rightReferences++;
    if (j >= R && at >= R) rightGenerated++;
  }
  return { accuracy: (rightReferences + rightGenerated) / n, references: rightReferences / R, generated: rightGenerated / G };
}
