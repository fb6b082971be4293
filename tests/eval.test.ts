/** Point sampling, the set metrics, JSD and the validity figures against hand-computed values. */
import { describe, expect, test } from "bun:test";
import { chamferCpu, directionalMeanCpu, nearestPointCpu, pairwiseChamferCpu } from "../src/cpu/eval.ts";
import { randomUniform } from "../src/util/rng.ts";
import { jensenShannonDivergence, jsdBetweenSets, occupancyCounts, SphereGrid } from "../src/eval/jsd.ts";
import { mmdCov, oneNearestNeighbourAccuracy } from "../src/eval/metrics.ts";
import { cloudSeed, samplePoints } from "../src/eval/points.ts";
import { faceCountHistogram, meshValidity } from "../src/eval/validity.ts";
import { type Mesh, triangleMesh } from "../src/mesh/mesh.ts";
import { rand } from "./helpers.ts";

const mesh = (vertices: number[], triangles: number[]) => triangleMesh(new Float32Array(vertices), new Uint32Array(triangles));
const TETRA_VERTICES = [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1];
const TETRA_FACES = [0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3];

describe("Chamfer distance (CPU reference)", () => {
  test("two single-triangle clouds: the corners, and the corners lifted by 0.5", () => {
    const a = Float32Array.of(0, 0, 0, 1, 0, 0, 0, 1, 0);
    const lifted = a.map((v, i) => (i % 3 === 2 ? v + 0.5 : v));
    expect(directionalMeanCpu(a, lifted)).toBe(0.25);
    expect(chamferCpu(a, lifted)).toBe(0.5); // the sum of the two directional means, as PointFlow's EMD_CD
  });

  test("clouds of different sizes: a triangle's corners against its first corner", () => {
    const a = Float32Array.of(0, 0, 0, 1, 0, 0, 0, 1, 0);
    const origin = Float32Array.of(0, 0, 0);
    expect(directionalMeanCpu(a, origin)).toBeCloseTo(2 / 3, 15); // (0 + 1 + 1) / 3
    expect(directionalMeanCpu(origin, a)).toBe(0);
    expect(chamferCpu(a, origin)).toBeCloseTo(2 / 3, 15);
  });
});

describe("point sampling", () => {
  test("normalised like the tokenizer, on the surface, the same for the same seed", () => {
    const big = mesh([10, 10, 10, 14, 10, 10, 10, 12, 10], [0, 1, 2]); // extent 4 in x, 2 in y
    const points = samplePoints(big, 500, cloudSeed(3, 0));
    expect(points).toEqual(samplePoints(big, 500, cloudSeed(3, 0)));
    expect(points).not.toEqual(samplePoints(big, 500, cloudSeed(3, 1)));
    for (let i = 0; i < points.length; i += 3) {
      const [x, y, z] = [points[i], points[i + 1], points[i + 2]];
      expect(z).toBe(0);
      // Inside the triangle (-0.5, -0.25), (0.5, -0.25), (-0.5, 0.25).
      expect(x).toBeGreaterThanOrEqual(-0.5);
      expect(y).toBeGreaterThanOrEqual(-0.25);
      expect((x + 0.5) / 1 + (y + 0.25) / 0.5).toBeLessThanOrEqual(1 + 1e-6);
    }
  });

  test("triangles are picked by area: 1 : 3", () => {
    // Two triangles in the z = 0 plane: areas 0.5 and 1.5 (x < 1 and x > 1).
    const m = mesh([0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 4, 0, 0, 1, 1, 0], [0, 1, 2, 3, 4, 5]);
    const n = 8000;
    const points = samplePoints(m, n, 7);
    let small = 0;
    for (let i = 0; i < n; i++) if (points[3 * i] < -0.5 + 0.25) small++; // x < 1 before normalising (extent 4)
    // Binomial(8000, 0.25): one standard deviation is 0.0048; allow 4.
    expect(Math.abs(small / n - 0.25)).toBeLessThan(0.02);
  });

  test("a mesh with no area is refused with a reason", () => {
    expect(() => samplePoints(mesh([0, 0, 0, 1, 0, 0, 2, 0, 0], [0, 1, 2]), 10, 0)).toThrow("no surface area");
  });
});

describe("MMD, COV and 1-NNA", () => {
  test("a hand-computed 2 + 2 union", () => {
    // Order r0 r1 g0 g1. d(g0,r0)=1 d(g0,r1)=4 d(g1,r0)=2 d(g1,r1)=3 d(r0,r1)=5 d(g0,g1)=0.5.
    const d = [
      [0, 5, 1, 2],
      [5, 0, 4, 3],
      [1, 4, 0, 0.5],
      [2, 3, 0.5, 0],
    ].flat();
    const union = { data: d, references: 2, generated: 2 };
    // MMD: r0 → min(1, 2) = 1, r1 → min(4, 3) = 3; both generated meshes are nearest to r0.
    expect(mmdCov(union)).toEqual({ mmd: 2, cov: 0.5, mmdGenerated: 1.5 });
    // r0 → g0 (wrong), r1 → g1 (wrong), g0 → g1 (right), g1 → g0 (right).
    expect(oneNearestNeighbourAccuracy(union)).toEqual({ accuracy: 0.5, references: 0, generated: 1 });
  });

  const clouds = (n: number, seed: number, shift = 0) => Array.from({ length: n }, (_, i) => rand(3 * 32, seed + i, 0.5).map((v, k) => (k % 3 === 0 ? v + shift : v)));
  const unionOf = (references: Float32Array[], generated: Float32Array[]) =>
    ({ data: pairwiseChamferCpu([...references, ...generated]), references: references.length, generated: generated.length });

  test("identical sets: MMD 0, COV 100%, and 1-NNA 0% (each mesh's nearest is its twin in the other set)", () => {
    const refs = clouds(12, 100);
    const union = unionOf(refs, refs.map((c) => c.slice()));
    expect(mmdCov(union)).toMatchObject({ mmd: 0, cov: 1 });
    expect(oneNearestNeighbourAccuracy(union).accuracy).toBe(0);
  });

  test("two samples of one distribution: 1-NNA near 50%; a shifted set: 100%", () => {
    const refs = clouds(40, 1000);
    // 80 leave-one-out guesses at chance: one standard deviation is 5.6 points.
    expect(Math.abs(oneNearestNeighbourAccuracy(unionOf(refs, clouds(40, 2000))).accuracy - 0.5)).toBeLessThan(0.17);
    const shifted = unionOf(refs, clouds(40, 2000, 0.4));
    expect(oneNearestNeighbourAccuracy(shifted)).toEqual({ accuracy: 1, references: 1, generated: 1 });
    expect(mmdCov(shifted).mmd).toBeGreaterThan(mmdCov(unionOf(refs, clouds(40, 2000))).mmd);
  });
});

describe("JSD", () => {
  test("hand-computed divergences (bits)", () => {
    expect(jensenShannonDivergence(Float64Array.of(1, 0), Float64Array.of(0, 1))).toBe(1);
    expect(jensenShannonDivergence(Float64Array.of(3, 1), Float64Array.of(6, 2))).toBe(0);
    // M = (0.75, 0.25): H(M) − (H(P) + H(Q)) / 2 = 0.811278… − (1 + 0) / 2.
    expect(jensenShannonDivergence(Float64Array.of(1, 1), Float64Array.of(1, 0))).toBeCloseTo(0.8112781244591328 - 0.5, 14);
  });

  test("the sphere-clipped 28³ grid: the nearest kept point is the brute-force one", () => {
    const grid = new SphereGrid(28);
    expect(grid.spacing).toBe(1 / 27);
    for (let g = 0; g < grid.size; g++) expect(Math.hypot(grid.points[3 * g], grid.points[3 * g + 1], grid.points[3 * g + 2])).toBeLessThanOrEqual(0.5);
    // Points over the whole cube (corners far outside the sphere) and a hair beyond it.
    const p = randomUniform(3 * 1500, 5, 0.5005);
    for (let i = 0; i < p.length; i += 3) expect(grid.nearest(p[i], p[i + 1], p[i + 2])).toBe(nearestPointCpu(grid.points, p[i], p[i + 1], p[i + 2]));
  });

  test("every point is counted once; identical sets have JSD 0, a set and its shifted copy do not", () => {
    const grid = new SphereGrid(28);
    const a = [rand(300, 1, 0.5), rand(300, 2, 0.5)];
    expect(occupancyCounts(a, grid).reduce((x, y) => x + y, 0)).toBe(200);
    expect(jsdBetweenSets(a, a.map((c) => c.slice()))).toBe(0);
    expect(jsdBetweenSets(a, a.map((c) => c.map((v) => v * 0.5)))).toBeGreaterThan(0.1);
  });
});

describe("validity", () => {
  const polygons = (vertices: number[], faces: number[][]): Mesh => ({
    vertices: new Float32Array(vertices),
    faceIndices: new Uint32Array(faces.flat()),
    faceStarts: Uint32Array.from([0, ...faces.map((_, i) => faces.slice(0, i + 1).flat().length)]),
  });

  test("a closed tetrahedron is watertight and manifold", () => {
    expect(meshValidity(mesh(TETRA_VERTICES, TETRA_FACES))).toEqual({ triangles: 4, faces: 4, degenerateFaces: 0, duplicateFaces: 0, watertight: true, manifold: true });
  });

  test("one vertex per corner (an STL) still is: positions are merged first", () => {
    const corners = TETRA_FACES.flatMap((v) => TETRA_VERTICES.slice(3 * v, 3 * v + 3));
    expect(meshValidity(mesh(corners, corners.map((_, i) => i).filter((i) => i < 12)))).toMatchObject({ watertight: true, manifold: true });
  });

  test("an open tetrahedron is manifold, not watertight; a duplicated face breaks both", () => {
    expect(meshValidity(mesh(TETRA_VERTICES, TETRA_FACES.slice(0, 9)))).toMatchObject({ watertight: false, manifold: true });
    expect(meshValidity(mesh(TETRA_VERTICES, [...TETRA_FACES, 3, 2, 1]))).toMatchObject({ duplicateFaces: 1, watertight: false, manifold: false });
  });

  test("two tetrahedra touching at one vertex: watertight, not manifold (a pinched vertex)", () => {
    const second = TETRA_VERTICES.map((v) => -v);
    const faces = [...TETRA_FACES, ...TETRA_FACES.map((v) => (v === 0 ? 0 : v + 3))];
    const vertices = [...TETRA_VERTICES, ...second.slice(3)];
    expect(meshValidity(mesh(vertices, faces))).toMatchObject({ watertight: true, manifold: false });
  });

  test("degenerate faces: a repeated vertex, and three points on a line", () => {
    const v = [...TETRA_VERTICES, 2, 0, 0];
    expect(meshValidity(mesh(v, [...TETRA_FACES, 0, 1, 1, 0, 1, 4])).degenerateFaces).toBe(2);
  });

  test("a cube of quads: 6 faces, 12 triangles, watertight and manifold", () => {
    const v = [0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1];
    const quads = [[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]];
    expect(meshValidity(polygons(v, quads))).toEqual({ triangles: 12, faces: 6, degenerateFaces: 0, duplicateFaces: 0, watertight: true, manifold: true });
  });

  test("face-count histogram: both sets in the same bins", () => {
    expect(faceCountHistogram([0, 5, 19], [10], 4)).toEqual({ edges: [0, 5, 10, 15, 20], generated: [1, 1, 0, 1], reference: [0, 0, 1, 0] });
  });
});
