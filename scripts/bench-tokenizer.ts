/**
 * Tokenizer throughput, WASM against the pure-TS reference, on the same meshes, with seeded
 * augmentation on (the training path). One thread, so one core.
 *   bun scripts/bench-tokenizer.ts
 */
import { uniform01 } from "../src/util/rng.ts";
import { type Mesh, faceCount, triangleMesh } from "../src/mesh/mesh.ts";
import { type Tokenized, type TokenizeOptions, tokenizeMesh } from "../src/tokenizer/index.ts";
import { referenceTokenize } from "../src/cpu/tokenizer.ts";

/** A UV sphere of quads (the polygon path), radius jittered by ±5%. */
function jitteredSphere(rings: number, segments: number, seed: number): Mesh {
  const vertices: number[] = [];
  for (let r = 0; r <= rings; r++) {
    for (let s = 0; s < segments; s++) {
      const theta = (Math.PI * r) / rings, phi = (2 * Math.PI * s) / segments;
      const radius = 1 + 0.1 * (uniform01(seed, r * segments + s) - 0.5);
      vertices.push(radius * Math.sin(theta) * Math.cos(phi), radius * Math.cos(theta), radius * Math.sin(theta) * Math.sin(phi));
    }
  }
  const faces: number[] = [];
  for (let r = 0; r < rings; r++) {
    for (let s = 0; s < segments; s++) {
      const next = (s + 1) % segments;
      faces.push(r * segments + s, r * segments + next, (r + 1) * segments + next, (r + 1) * segments + s);
    }
  }
  const faceStarts = Uint32Array.from({ length: faces.length / 4 + 1 }, (_, f) => 4 * f);
  return { vertices: new Float32Array(vertices), faceIndices: new Uint32Array(faces), faceStarts };
}

/** Random triangles over random points in the unit cube. */
function randomSoup(faces: number, vertices: number, seed: number): Mesh {
  return triangleMesh(
    Float32Array.from({ length: 3 * vertices }, (_, i) => uniform01(seed, i)),
    Uint32Array.from({ length: 3 * faces }, (_, i) => Math.floor(vertices * uniform01(seed + 1, i))),
  );
}

/** A height field of 2·n² triangles. */
function heightField(n: number): Mesh {
  const vertices: number[] = [];
  for (let i = 0; i <= n; i++) for (let j = 0; j <= n; j++) vertices.push(i / n, 0.2 * Math.sin(i / 7) * Math.cos(j / 5), j / n);
  const faces: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const a = i * (n + 1) + j, b = a + n + 1;
      faces.push(a, b, a + 1, a + 1, b, b + 1);
    }
  }
  return triangleMesh(new Float32Array(vertices), new Uint32Array(faces));
}

function packageMesh(name: string): Mesh {
  const { positions, cells } = require(name) as { positions: number[][]; cells: number[][] };
  return triangleMesh(new Float32Array(positions.flat()), new Uint32Array(cells.flat()));
}

const meshes: [string, Mesh][] = [
  ["sphere, 24×32 quads", jitteredSphere(24, 32, 1)],
  ["random soup, 760 triangles", randomSoup(760, 400, 2)],
  ["height field, 20k triangles", heightField(100)],
  ["bunny", packageMesh("bunny")],
  ["teapot", packageMesh("teapot")],
  ["snowden", packageMesh("snowden")],
];

type Tokenizer = (mesh: Mesh, opts?: TokenizeOptions) => Tokenized;

/** Meshes per second: runs for at least `seconds` (and 3 runs) after one warm-up run. */
function meshesPerSecond(tokenize: Tokenizer, mesh: Mesh, seconds: number): number {
  tokenize(mesh, { augment: { seed: 0 } });
  let runs = 0;
  const start = performance.now();
  while (runs < 3 || performance.now() - start < 1000 * seconds) tokenize(mesh, { augment: { seed: ++runs } });
  return runs / ((performance.now() - start) / 1000);
}

const fmt = (x: number): string => (x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toPrecision(3));

const rows = meshes.map(([name, mesh]) => {
  const faces = faceCount(mesh);
  const wasm = meshesPerSecond(tokenizeMesh, mesh, 1);
  const reference = meshesPerSecond(referenceTokenize, mesh, 1);
  return [name, faces.toLocaleString("en-US"), fmt(wasm), fmt(wasm * faces), fmt(reference), fmt(reference * faces), `${(wasm / reference).toFixed(1)}×`];
});
const head = ["mesh", "input faces", "WASM meshes/s", "WASM faces/s", "TS ref meshes/s", "TS ref faces/s", "WASM / TS"];
console.log([head, head.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n"));
