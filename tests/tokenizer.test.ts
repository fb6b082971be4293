import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { uniform01 } from "../src/util/rng.ts";
import { type Mesh, triangleMesh } from "../src/mesh/mesh.ts";
import { TOKENS, type TokenizeOptions, type Tokenized, detokenize, sequenceFromFaceTokens, tokenizeMesh } from "../src/tokenizer/index.ts";
import { packageMesh } from "./helpers.ts";
import { SplitMix64, referenceDetokenize, referenceTokenize, roundHalfEven } from "../src/cpu/tokenizer.ts";

// Tokenizing real meshes (up to 100k faces) in WASM and TS: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(30_000);

// ---- helpers ------------------------------------------------------------------------------

const IMPLEMENTATIONS: [string, (m: Mesh, o?: TokenizeOptions) => Tokenized][] = [
  ["wasm", tokenizeMesh],
  ["reference", referenceTokenize],
];

function polygonMesh(vertices: number[], faces: number[][]): Mesh {
  const faceStarts = new Uint32Array(faces.length + 1);
  faces.forEach((f, i) => (faceStarts[i + 1] = faceStarts[i] + f.length));
  return { vertices: new Float32Array(vertices), faceIndices: new Uint32Array(faces.flat()), faceStarts };
}

const REAL_MESHES = (["bunny", "teapot", "snowden"] as const).map((name) => [name, packageMesh(name)] as const);

class TestRandom {
  private counter = 0;
  constructor(private readonly seed: number) {}
  next(): number {
    return uniform01(this.seed, this.counter++);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/**
 * A messy random mesh: grid-snapped points (so vertices merge and faces collapse), exact and
 * near duplicates, unreferenced vertices, degenerate triangles, quads, n-gons, faces that
 * revisit a vertex, faces of 1–2 corners, repeated faces; off-centre and anisotropic.
 */
function randomMesh(seed: number, faceCount = 20 + (seed % 7) * 40): Mesh {
  const r = new TestRandom(seed);
  const vertexCount = 8 + r.int(150);
  const scale = [0.5 + 4 * r.next(), 0.5 + 4 * r.next(), 0.5 + 4 * r.next()];
  const offset = [10 * r.next() - 5, 10 * r.next() - 5, 10 * r.next() - 5];
  const vertices: number[] = [];
  for (let i = 0; i < vertexCount; i++) {
    const kind = r.next();
    const source = 3 * r.int(Math.max(i, 1));
    for (let a = 0; a < 3; a++) {
      if (i > 0 && kind < 0.15) vertices.push(vertices[source + a]); // exact duplicate
      else if (i > 0 && kind < 0.25) vertices.push(vertices[source + a] + 1e-4 * scale[a]); // merges when quantized
      else if (kind < 0.6) vertices.push(offset[a] + (scale[a] * r.int(9)) / 8); // coarse grid
      else vertices.push(offset[a] + scale[a] * r.next());
    }
  }
  const faces: number[][] = [];
  for (let f = 0; f < faceCount; f++) {
    const kind = r.next();
    const corners = (n: number) => Array.from({ length: n }, () => r.int(vertexCount));
    if (faces.length > 0 && kind < 0.05) {
      const copy = [...faces[r.int(faces.length)]];
      faces.push(r.next() < 0.5 ? copy : copy.reverse());
    } else if (kind < 0.7) faces.push(corners(3));
    else if (kind < 0.8) faces.push(corners(4));
    else if (kind < 0.88) faces.push(corners(5 + r.int(6)));
    else if (kind < 0.95) {
      const loop = corners(4 + r.int(4));
      loop.splice(2 + r.int(loop.length - 2), 0, loop[0]); // revisits its first vertex
      faces.push(loop);
    } else faces.push(corners(1 + r.int(2)));
  }
  return polygonMesh(vertices, faces);
}

/** The 9 tokens (z, x, y per corner) of points given as [x, y, z] quantized levels. */
const faceRow = (...corners: number[][]): number[] => corners.flatMap(([x, y, z]) => [z, x, y]);

const sameArray = (a: ArrayLike<number>, b: ArrayLike<number>): boolean =>
  a.length === b.length && Array.prototype.every.call(a, (v: number, i: number) => v === b[i]);

// ---- WASM against the reference ------------------------------------------------------------

describe("wasm agrees with the TS reference token for token", () => {
  test("random meshes: duplicates, degenerate faces, quads, n-gons, with and without augmentation", () => {
    for (let seed = 1; seed <= 150; seed++) {
      const mesh = randomMesh(seed);
      for (const opts of [{}, { augment: { seed: seed * 7919 } }]) {
        const wasm = tokenizeMesh(mesh, opts);
        const reference = referenceTokenize(mesh, opts);
        if (!sameArray(wasm.faceTokens, reference.faceTokens)) throw new Error(`mesh seed ${seed} ${JSON.stringify(opts)} differs`);
        expect(wasm).toEqual(reference);
      }
    }
  });

  for (const [name, mesh] of REAL_MESHES) {
    test(`${name}, with and without augmentation`, () => {
      for (const opts of [{}, { augment: { seed: 3407 } }]) expect(tokenizeMesh(mesh, opts)).toEqual(referenceTokenize(mesh, opts));
    });
  }

  test("detokenize, on token streams with start rows, junk, end tokens and partial faces", () => {
    for (let seed = 1; seed <= 50; seed++) {
      const r = new TestRandom(seed);
      const body = Array.from({ length: r.int(200) }, () => (r.next() < 0.02 ? 129 + r.int(3) : r.int(129)));
      const tokens = Int32Array.from([...new Array(r.int(12)).fill(TOKENS.start), ...body]);
      expect(detokenize(tokens)).toEqual(referenceDetokenize(tokens));
    }
  });

  test("a 100k-face mesh (WASM memory grows)", () => {
    const r = new TestRandom(99);
    const vertices = Float32Array.from({ length: 3 * 60_000 }, () => r.next());
    const faces = Uint32Array.from({ length: 3 * 100_000 }, () => r.int(60_000));
    const mesh = triangleMesh(vertices, faces);
    const wasm = tokenizeMesh(mesh);
    expect(wasm.inputFaces).toBe(100_000);
    expect(wasm.faceCount).toBeGreaterThan(99_000);
    expect(wasm).toEqual(referenceTokenize(mesh));
  });
});

// ---- the rules, on both implementations -----------------------------------------------------

for (const [impl, tokenize] of IMPLEMENTATIONS) {
  describe(`${impl}: SPEC §1 rules`, () => {
    // Points in [0, 1]³ whose bounding box is the whole cube, so level = 128 · coordinate as
    // long as all four are in the mesh. Sorted vertex order is by y: P0, P1, P2, P3.
    const P = [[0, 0, 0], [128, 32, 16], [64, 96, 128], [32, 128, 64]];
    const vertexArray = (order: number[]) => order.flatMap((p) => P[p].map((q) => q / 128));

    test("a triangle comes back reversed, smallest vertex first, in all 6 corner orders", () => {
      // Even permutations of (0 1 2) are the cycle (0 1 2) → (0 2 1); odd ones → (0 1 2).
      const expected: [number[], number[]][] = [
        [[0, 1, 2], [0, 2, 1]], [[1, 2, 0], [0, 2, 1]], [[2, 0, 1], [0, 2, 1]],
        [[0, 2, 1], [0, 1, 2]], [[2, 1, 0], [0, 1, 2]], [[1, 0, 2], [0, 1, 2]],
      ];
      const stored = [2, 0, 3, 1]; // the mesh stores the points shuffled (P3 unreferenced)
      for (const [face, cycle] of expected) {
        const mesh = polygonMesh(vertexArray(stored), [face.map((p) => stored.indexOf(p))]);
        expect([...tokenize(mesh).faceTokens]).toEqual(faceRow(...cycle.map((p) => P[p])));
      }
    });

    test("a quad becomes the fan of its reversed cycle from its smallest vertex", () => {
      const mesh = polygonMesh(vertexArray([0, 1, 2, 3]), [[1, 2, 3, 0]]);
      // cycle (0 1 2 3) reversed: (0 3 2 1) → triangles (0 3 2), (0 2 1); sorted by (0 2 3) > (0 1 2).
      expect([...tokenize(mesh).faceTokens]).toEqual([...faceRow(P[0], P[2], P[1]), ...faceRow(P[0], P[3], P[2])]);
    });

    test("a face that revisits a vertex splits into its cycles; the dangling edge vanishes", () => {
      // (0 1 2 0 3): the cycle 0-1-2 plus the edge 0-3, which encloses nothing. The walk
      // starts at the last new node, 3, and enters the cycle at 0, so this cycle comes
      // out forward (0 1 2), not reversed like a lone triangle.
      const result = tokenize(polygonMesh(vertexArray([0, 1, 2, 3]), [[0, 1, 2, 0, 3]]));
      expect(result.faceCount).toBe(1);
      expect(result.vertexCount).toBe(3);
      expect([...result.faceTokens]).toEqual(faceRow(P[0], P[1], P[2]));
    });

    test("quantization rounds exact ties to even, like numpy", () => {
      // In a unit-cube bounding box, k/256 sits exactly on a tie: levels 0.5 → 0, 1.5 → 2, 2.5 → 2.
      const mesh = polygonMesh([0, 0, 0, 1, 1, 1, 1 / 256, 3 / 256, 5 / 256], [[0, 1, 2]]);
      expect([...tokenize(mesh).faceTokens]).toEqual(faceRow([0, 0, 0], [0, 2, 2], [128, 128, 128]));
    });

    test("duplicate vertices merge (exact and within a quantization step)", () => {
      const indexed = polygonMesh(vertexArray([0, 1, 2, 3]), [[0, 1, 2], [0, 2, 3]]);
      const soup = vertexArray([0, 1, 2, 0, 2, 3]);
      soup[9] += 1e-3; // the second P0 lands on the same level as the first
      const soupMesh = polygonMesh(soup, [[0, 1, 2], [3, 4, 5]]);
      const a = tokenize(indexed);
      const b = tokenize(soupMesh);
      expect(b.vertexCount).toBe(4);
      expect(b.inputVertices).toBe(6);
      expect(b.faceTokens).toEqual(a.faceTokens);
    });

    test("degenerate faces vanish, and vertices only they used are dropped", () => {
      const near = P[1].map((q) => q / 128 + 1e-3); // quantizes onto P1
      const mesh = polygonMesh([...vertexArray([0, 1, 2, 3]), ...near], [[0, 1, 1], [0, 1, 2], [3, 3, 3], [1, 4, 2], [2, 3]]);
      const result = tokenize(mesh);
      expect(result.inputFaces).toBe(5);
      expect(result.faceCount).toBe(1);
      expect(result.vertexCount).toBe(3);
      expect([...result.faceTokens]).toEqual(faceRow(P[0], P[2], P[1]));
    });

    test("faces are sorted by their sorted vertex tuple; equal tuples keep input order", () => {
      const tokens = tokenize(packageMesh("bunny")).faceTokens;
      const key = (f: number, c: number) => {
        const [z, x, y] = tokens.subarray(9 * f + 3 * c, 9 * f + 3 * c + 3);
        return (y * 129 + x) * 129 + z; // the vertex order: y, then x, then z
      };
      for (let f = 0; f < tokens.length / 9; f++) {
        const corners = [key(f, 0), key(f, 1), key(f, 2)];
        expect(corners[0]).toBe(Math.min(...corners));
        if (f > 0) {
          const prev = [key(f - 1, 0), key(f - 1, 1), key(f - 1, 2)].sort((a, b) => a - b);
          const here = [...corners].sort((a, b) => a - b);
          const order = prev[0] - here[0] || prev[1] - here[1] || prev[2] - here[2];
          expect(order).toBeLessThanOrEqual(0);
        }
      }
      // Same vertex set, both windings: output order follows input order.
      const forward = tokenize(polygonMesh(vertexArray([0, 1, 2, 3]), [[0, 1, 2], [0, 2, 1]]));
      const backward = tokenize(polygonMesh(vertexArray([0, 1, 2, 3]), [[0, 2, 1], [0, 1, 2]]));
      expect([...forward.faceTokens]).toEqual([...faceRow(P[0], P[2], P[1]), ...faceRow(P[0], P[1], P[2])]);
      expect([...backward.faceTokens]).toEqual([...faceRow(P[0], P[1], P[2]), ...faceRow(P[0], P[2], P[1])]);
    });

    test("seeded augmentation: same seed same tokens, other seed other tokens", () => {
      const mesh = packageMesh("teapot");
      const plain = tokenize(mesh).faceTokens;
      const a = tokenize(mesh, { augment: { seed: 5 } }).faceTokens;
      expect(tokenize(mesh, { augment: { seed: 5 } }).faceTokens).toEqual(a);
      expect(sameArray(a, plain)).toBe(false);
      expect(sameArray(a, tokenize(mesh, { augment: { seed: 6 } }).faceTokens)).toBe(false);
    });
  });
}

// ---- WASM-only API ----------------------------------------------------------------------------

describe("tokenizeMesh", () => {
  test("augmented meshes stay inside the grid and keep the largest axis at full range", () => {
    for (let seed = 0; seed < 20; seed++) {
      const tokens = tokenizeMesh(packageMesh("bunny"), { augment: { seed } }).faceTokens;
      expect(Math.min(...tokens)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...tokens)).toBeLessThanOrEqual(128);
      // Renormalized after scaling, so one axis spans the whole grid even after the shift.
      const spans = [0, 1, 2].map((axis) => {
        const values = tokens.filter((_, i) => i % 3 === axis);
        return Math.max(...values) - Math.min(...values);
      });
      expect(Math.max(...spans)).toBe(128);
    }
  });

  test("rejects bad input with a clear message", () => {
    const ok = polygonMesh([0, 0, 0, 1, 0, 0, 0, 1, 0], [[0, 1, 2]]);
    expect(() => tokenizeMesh({ ...ok, faceIndices: Uint32Array.of(0, 1, 3) })).toThrow("out of range");
    expect(() => tokenizeMesh({ ...ok, faceStarts: Uint32Array.of(0, 4) })).toThrow("faceStarts");
    expect(() => tokenizeMesh({ ...ok, faceStarts: new Uint32Array(0) })).toThrow("faceStarts");
    expect(() => tokenizeMesh({ ...ok, vertices: Float32Array.of(0, 0, NaN, 1, 0, 0, 0, 1, 0) })).toThrow("finite");
    expect(() => tokenizeMesh(ok, { augment: { seed: 0.5 } })).toThrow("seed");
    expect(tokenizeMesh(ok).faceCount).toBe(1);
  });

  test("an empty mesh gives no faces", () => {
    const empty = tokenizeMesh(polygonMesh([], []));
    expect(empty.faceCount).toBe(0);
    expect(empty.faceTokens.length).toBe(0);
  });
});

describe("round trip", () => {
  // The identity needs the tokens' bounding box to be the normalized one: a first pass can
  // drop the faces that held the box (snowden loses its lowest and widest vertices), and
  // its tokens then renormalize once. After that pass they are canonical.
  test("tokens → mesh → tokens is the identity (bunny, teapot)", () => {
    for (const [, mesh] of REAL_MESHES.filter(([name]) => name !== "snowden")) {
      const tokens = tokenizeMesh(mesh).faceTokens;
      expect(tokenizeMesh(detokenize(tokens)).faceTokens).toEqual(tokens);
    }
  });

  test("tokens → mesh → tokens is the identity once tokens are canonical (snowden, random meshes)", () => {
    const meshes = [packageMesh("snowden"), ...Array.from({ length: 40 }, (_, i) => randomMesh(i + 1))];
    for (const mesh of meshes) {
      const canonical = tokenizeMesh(detokenize(tokenizeMesh(mesh).faceTokens)).faceTokens;
      expect(tokenizeMesh(detokenize(canonical)).faceTokens).toEqual(canonical);
    }
  });

  test("detokenize keeps the source winding and maps q → q/128 − 0.5 in x y z order", () => {
    const mesh = detokenize(tokenizeMesh(polygonMesh([0, 0, 0, 1, 0.25, 0.5, 0.5, 1, 1], [[0, 1, 2]])).faceTokens);
    expect([...mesh.vertices]).toEqual([-0.5, -0.5, -0.5, 0.5, -0.25, 0, 0, 0.5, 0.5]);
    expect([...mesh.faceIndices]).toEqual([0, 1, 2]);
    expect([...mesh.faceStarts]).toEqual([0, 3]);
  });
});

describe("detokenize", () => {
  const face = (q: number) => new Array(9).fill(q);
  test("skips the start row and stops at the first end token", () => {
    const tokens = Int32Array.from([...face(130), ...face(10), ...face(20), ...face(131), ...face(30), ...face(129)]);
    const mesh = detokenize(tokens);
    expect(mesh.faceStarts.length - 1).toBe(2);
    expect(mesh.vertices[0]).toBe(10 / 128 - 0.5);
    expect(mesh.vertices[mesh.vertices.length - 1]).toBe(20 / 128 - 0.5);
  });

  test("drops a trailing partial face", () => {
    const tokens = Int32Array.from([...face(130), ...face(10), ...face(20), 1, 2, 3, 4, 5]);
    expect(detokenize(tokens).faceStarts.length - 1).toBe(2);
    expect(detokenize(Int32Array.from([1, 2, 3])).vertices.length).toBe(0);
  });
});

describe("sequenceFromFaceTokens", () => {
  test("start row, faces, end row, pad rows up to maxFaces + 2 rows", () => {
    const faces = Int32Array.from({ length: 18 }, (_, i) => i);
    const seq = sequenceFromFaceTokens(faces, 5);
    expect(seq.length).toBe(7 * 9);
    expect([...seq.subarray(0, 9)]).toEqual(new Array(9).fill(TOKENS.start));
    expect([...seq.subarray(9, 27)]).toEqual([...faces]);
    expect([...seq.subarray(27, 36)]).toEqual(new Array(9).fill(TOKENS.end));
    expect([...seq.subarray(36)]).toEqual(new Array(27).fill(TOKENS.pad));
    expect(sequenceFromFaceTokens(faces, 2).length).toBe(4 * 9); // full: no pad row
  });

  test("ShapeNet size: 767 faces → 6921 tokens", () => {
    expect(sequenceFromFaceTokens(new Int32Array(0), 767).length).toBe(6921);
  });

  test("throws on too many faces or a partial row", () => {
    expect(() => sequenceFromFaceTokens(new Int32Array(27), 2)).toThrow("more than");
    expect(() => sequenceFromFaceTokens(new Int32Array(10), 2)).toThrow("whole rows");
  });
});

describe("reference building blocks", () => {
  test("splitmix64 matches the published sequence for seed 0", () => {
    const rng = new SplitMix64(0);
    expect(rng.next()).toBe(0xe220a8397b1dcdafn);
    expect(rng.next()).toBe(0x6e789e6aa1b965f4n);
  });

  test("quantization rounds half to even, like numpy", () => {
    expect([0.5, 1.5, 2.5, 63.5, 64.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, 64, 64, 2, 3]);
  });
});
