/**
 * Test oracle: the SPEC §1 pipeline written plainly in TypeScript (arrays, Maps, comparator
 * sorts, BigInt PRNG), independent of the WASM code. Used by tests and the benchmark only.
 * Every face, triangles included, goes through the general cycle-basis replay here.
 */
import { type Mesh, triangleMesh } from "../mesh/mesh.ts";
import type { TokenizeOptions, Tokenized } from "../tokenizer/index.ts";

type Vec3 = [number, number, number];

const U64 = (1n << 64n) - 1n;

/** splitmix64: state = seed, then add the golden-ratio increment and mix on every draw. */
export class SplitMix64 {
  private state: bigint;
  constructor(seed: number) {
    this.state = BigInt.asUintN(64, BigInt(seed));
  }
  next(): bigint {
    this.state = (this.state + 0x9e3779b97f4a7c15n) & U64;
    let z = this.state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & U64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & U64;
    return z ^ (z >> 31n);
  }
  /** U(lo, hi) from the top 53 bits. */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * (Number(this.next() >> 11n) / 2 ** 53);
  }
}

function bounds(points: Vec3[]): { lo: Vec3; hi: Vec3 } {
  const lo: Vec3 = [Infinity, Infinity, Infinity];
  const hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (const p of points) {
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a], p[a]);
      hi[a] = Math.max(hi[a], p[a]);
    }
  }
  return { lo, hi };
}

function normalize(points: Vec3[]): Vec3[] {
  const { lo, hi } = bounds(points);
  const centre = [0, 1, 2].map((a) => (lo[a] + hi[a]) / 2);
  const extent = Math.max(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]);
  const scale = extent > 0 ? extent : 1;
  return points.map((p) => p.map((v, a) => (v - centre[a]) / scale) as Vec3);
}

function augmentScale(points: Vec3[], rng: SplitMix64): Vec3[] {
  const s = [rng.uniform(0.75, 1.25), rng.uniform(0.75, 1.25), rng.uniform(0.75, 1.25)];
  return points.map((p) => p.map((v, a) => v * s[a]) as Vec3);
}

function augmentShift(points: Vec3[], rng: SplitMix64): Vec3[] {
  const drawn = [rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1), rng.uniform(-0.075, 0.075)];
  const { lo, hi } = bounds(points);
  const t = drawn.map((d, a) => Math.max(Math.min(d, 0.5 - hi[a]), -0.5 - lo[a]));
  return points.map((p) => p.map((v, a) => v + t[a]) as Vec3);
}

/** Round half to even, as numpy does. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // half up
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const quantize = (v: number): number => roundHalfEven(Math.min(Math.max(v + 0.5, 0), 1) * 128);

/** networkx.cycle_basis of the graph of a face's edges, nodes and neighbours in insertion order. */
export function faceCycles(face: number[]): number[][] {
  const graph = new Map<number, Map<number, true>>();
  const link = (u: number, v: number) => {
    for (const n of [u, v]) if (!graph.has(n)) graph.set(n, new Map());
    graph.get(u)!.set(v, true);
    graph.get(v)!.set(u, true);
  };
  face.forEach((v, i) => link(v, face[(i + 1) % face.length]));

  const pending = [...graph.keys()];
  const cycles: number[][] = [];
  const pred = new Map<number, number>();
  const used = new Map<number, Set<number>>();
  while (pending.length > 0) {
    const root = pending.pop()!;
    if (pred.has(root)) continue; // reached from an earlier root
    pred.set(root, root);
    used.set(root, new Set());
    const stack = [root];
    while (stack.length > 0) {
      const z = stack.pop()!;
      for (const nbr of graph.get(z)!.keys()) {
        if (!used.has(nbr)) {
          pred.set(nbr, z);
          stack.push(nbr);
          used.set(nbr, new Set([z]));
        } else if (nbr === z) {
          cycles.push([z]);
        } else if (!used.get(z)!.has(nbr)) {
          const cycle = [nbr, z];
          let p = pred.get(z)!;
          while (!used.get(nbr)!.has(p)) {
            cycle.push(p);
            p = pred.get(p)!;
          }
          cycle.push(p);
          cycles.push(cycle);
          used.get(nbr)!.add(z);
        }
      }
    }
  }
  return cycles;
}

/** A cycle of 3+ vertices → triangles: rotate its smallest vertex first, then fan from it. */
function cycleTriangles(cycle: number[]): Vec3[] {
  const start = cycle.indexOf(Math.min(...cycle));
  const c = cycle.map((_, i) => cycle[(start + i) % cycle.length]);
  const out: Vec3[] = [];
  for (let i = 1; i + 1 < c.length; i++) out.push([c[0], c[i], c[i + 1]]);
  return out;
}

function lexCompare(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

export function referenceTokenize(mesh: Mesh, opts: TokenizeOptions = {}): Tokenized {
  const inputVertices = mesh.vertices.length / 3;
  const inputFaces = mesh.faceStarts.length - 1;
  let points: Vec3[] = [];
  for (let i = 0; i < inputVertices; i++) points.push([mesh.vertices[3 * i], mesh.vertices[3 * i + 1], mesh.vertices[3 * i + 2]]);

  if (inputVertices > 0) {
    const rng = opts.augment ? new SplitMix64(opts.augment.seed) : undefined;
    points = normalize(points);
    if (rng) points = augmentScale(points, rng);
    points = normalize(points);
    if (rng) points = augmentShift(points, rng);
  }

  // Quantized rows in (z, x, y) order; unique rows sorted by y, then x, then z.
  const rows = points.map(([x, y, z]) => [quantize(z), quantize(x), quantize(y)]);
  const unique = new Map<string, number[]>();
  for (const r of rows) unique.set(r.join(","), r);
  const sortedRows = [...unique.values()].sort((a, b) => a[2] - b[2] || a[1] - b[1] || a[0] - b[0]);
  const indexOfRow = new Map(sortedRows.map((r, i) => [r.join(","), i]));
  const merged = rows.map((r) => indexOfRow.get(r.join(","))!);

  const triangles: Vec3[] = [];
  for (let f = 0; f < inputFaces; f++) {
    const face = Array.from(mesh.faceIndices.subarray(mesh.faceStarts[f], mesh.faceStarts[f + 1]), (i) => merged[i]);
    for (const cycle of faceCycles(face)) if (cycle.length >= 3) triangles.push(...cycleTriangles(cycle));
  }
  const ordered = triangles
    .map((t) => ({ t, key: [...t].sort((a, b) => a - b) }))
    .sort((a, b) => lexCompare(a.key, b.key)) // Array.prototype.sort is stable
    .map(({ t }) => t);

  return {
    faceTokens: Int32Array.from(ordered.flatMap((t) => t.flatMap((v) => sortedRows[v]))),
    faceCount: ordered.length,
    vertexCount: new Set(ordered.flat()).size,
    inputFaces,
    inputVertices,
  };
}

/** Tokens → triangle soup, corners (0, 2, 1) to undo the tokenizer's reversal. */
export function referenceDetokenize(tokens: Int32Array): Mesh {
  const list = [...tokens];
  let first = 0;
  while (list[first] === 130) first++;
  const body = list.slice(first);
  const stop = body.findIndex((t) => t < 0 || t > 128);
  const coords = stop < 0 ? body : body.slice(0, stop);
  const faces = Math.floor(coords.length / 9);
  const vertices: number[] = [];
  for (let f = 0; f < faces; f++) {
    for (const corner of [0, 2, 1]) {
      const [z, x, y] = coords.slice(9 * f + 3 * corner, 9 * f + 3 * corner + 3);
      vertices.push(x / 128 - 0.5, y / 128 - 0.5, z / 128 - 0.5);
    }
  }
  const corners = Uint32Array.from({ length: 3 * faces }, (_, i) => i);
  return triangleMesh(new Float32Array(vertices), corners);
}
