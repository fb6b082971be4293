/**
 * The built-in dataset, so training works with no files: low-resolution three.js primitives with
 * random proportions (boxes, cylinders, prisms, cones, ellipsoids, tori) and compositions of 2–3
 * of them (stacked along y, or crossed through each other). Mesh `i` of a dataset depends only on
 * (seed, i), never on Math.random, and every mesh fits `maxFaces` after tokenization.
 */
import {
  type BufferGeometry, BoxGeometry, ConeGeometry, CylinderGeometry, SphereGeometry, TorusGeometry,
} from "three";
import { mergeGeometries } from "three/examples/jsm/utils/BufferGeometryUtils.js";
import { triangleMesh, type Mesh } from "../mesh/mesh.ts";
import { weldVertices } from "../mesh/weld.ts";
import { tokenizeMesh } from "../tokenizer/index.ts";
import type { NamedMesh } from "./dataset.ts";
import { mixSeed, SeededRandom } from "./random.ts";

export interface ProceduralOptions {
  count: number;
  seed: number;
  /** Largest tokenized face count a mesh may have (default 800; the tiny config needs fewer). */
  maxFaces?: number;
}

type Part = (r: SeededRandom) => BufferGeometry;

/** Single parts, sized around 1 so compositions have comparable pieces. */
const PARTS = {
  box: (r) => new BoxGeometry(r.uniform(0.3, 1), r.uniform(0.3, 1), r.uniform(0.3, 1)),
  cylinder: (r) => {
    const radius = r.uniform(0.2, 0.5);
    return new CylinderGeometry(radius * r.uniform(0.6, 1), radius, r.uniform(0.3, 1.2), r.int(8, 16));
  },
  prism: (r) => { // a cylinder with 3–6 flat sides and equal caps
    const radius = r.uniform(0.2, 0.5);
    return new CylinderGeometry(radius, radius, r.uniform(0.3, 1.2), r.int(3, 6));
  },
  cone: (r) => new ConeGeometry(r.uniform(0.2, 0.5), r.uniform(0.3, 1), r.int(6, 16)),
  ellipsoid: (r) => new SphereGeometry(0.5, r.int(6, 12), r.int(4, 8)).scale(r.uniform(0.5, 1), r.uniform(0.5, 1), r.uniform(0.5, 1)),
  torus: (r) => new TorusGeometry(r.uniform(0.3, 0.5), r.uniform(0.08, 0.2), r.int(4, 6), r.int(8, 14)),
} satisfies Record<string, Part>;

const PART_NAMES = Object.keys(PARTS) as (keyof typeof PARTS)[];
/** Parts that stack into recognisable objects (lamps, towers, stools); tori sit badly on top of things. */
const STACKABLE = PART_NAMES.filter((p) => p !== "torus");

/** 2–3 parts, each resting on the one below, with a small sideways offset. */
function stack(r: SeededRandom): BufferGeometry {
  const parts: BufferGeometry[] = [];
  let y = 0;
  for (let i = r.int(2, 3); i > 0; i--) {
    const part = PARTS[r.pick(STACKABLE)](r);
    part.computeBoundingBox();
    const box = part.boundingBox!;
    part.translate(r.uniform(-0.05, 0.05), y - box.min.y, r.uniform(-0.05, 0.05));
    y += box.max.y - box.min.y;
    parts.push(part);
  }
  return mergeParts(parts);
}

/** 2–3 parts through a common centre, each turned onto a different axis (a jack, a cross, a wheel on an axle). */
function cross(r: SeededRandom): BufferGeometry {
  const parts: BufferGeometry[] = [];
  for (let i = 0, n = r.int(2, 3); i < n; i++) {
    const part = PARTS[r.pick(PART_NAMES)](r);
    if (i === 1) part.rotateX(Math.PI / 2);
    if (i === 2) part.rotateZ(Math.PI / 2);
    parts.push(part);
  }
  return mergeParts(parts);
}

/** One geometry of positions only from closed parts (the shapes dataset builds on this too). */
export function mergeParts(parts: BufferGeometry[]): BufferGeometry {
  // Only positions matter here; dropping normals and UVs also spares three checking they match.
  for (const part of parts) for (const name of Object.keys(part.attributes)) if (name !== "position") part.deleteAttribute(name);
  const merged = mergeGeometries(parts);
  if (!merged) throw new Error("procedural: three could not merge the parts");
  return merged;
}

export const PROCEDURAL_FAMILIES = { ...PARTS, stack, cross } satisfies Record<string, Part>;
type Family = keyof typeof PROCEDURAL_FAMILIES;
const FAMILY_NAMES = Object.keys(PROCEDURAL_FAMILIES) as Family[];

/**
 * three builds a separate vertex per face corner where normals or UVs differ (box corners,
 * cylinder seams); welding restores shared vertices. The grid absorbs trig noise at seams
 * (sin 2π ≠ 0) and is far below the tokenizer's 1/128 quantization step.
 */
export function geometryToMesh(geometry: BufferGeometry): Mesh {
  const position = geometry.getAttribute("position");
  const vertices = new Float32Array(position.count * 3);
  for (let i = 0; i < position.count; i++) vertices.set([position.getX(i), position.getY(i), position.getZ(i)], 3 * i);
  const triangles = geometry.index ? Uint32Array.from(geometry.index.array) : Uint32Array.from({ length: position.count }, (_, i) => i);
  return weldVertices(triangleMesh(vertices, triangles), 1e-6);
}

/** Tries per mesh before giving up: a draw can exceed a small maxFaces, the next one is redrawn. */
const ATTEMPTS = 64;

export function proceduralMesh(seed: number, index: number, maxFaces = 800): NamedMesh {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const r = new SeededRandom(mixSeed(seed, index, attempt));
    const family = r.pick(FAMILY_NAMES);
    const mesh = geometryToMesh(PROCEDURAL_FAMILIES[family](r));
    if (tokenizeMesh(mesh).faceCount <= maxFaces) return { name: `procedural/${seed}/${index}-${family}`, mesh };
  }
  throw new Error(`procedural: no shape of ${ATTEMPTS} draws fits maxFaces ${maxFaces} (mesh ${index}, seed ${seed}); raise maxFaces`);
}

export function proceduralMeshes(opts: ProceduralOptions): NamedMesh[] {
  return Array.from({ length: opts.count }, (_, i) => proceduralMesh(opts.seed, i, opts.maxFaces));
}
