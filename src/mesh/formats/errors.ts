/**
 * Every parse error names the file and where in it: `file:line: …` for text formats,
 * `file: byte N: …` for binary ones, so a bad file in a folder of thousands can be found.
 * Counts read from a file are checked here against the bytes that are there and against the
 * mesh budget before anything is allocated or looped over.
 */
import { faceCount, type Mesh } from "../mesh.ts";

export const lineError = (file: string, line: number, message: string): Error => new Error(`${file}:${line}: ${message}`);

export const byteError = (file: string, offset: number, message: string): Error => new Error(`${file}: byte ${offset}: ${message}`);

/**
 * The most one parsed mesh may hold: 4,194,304 vertices and 16,777,216 face corners (about
 * 5.6 M triangles). Positions and indices then take at most 112 MB, 224 MB while the builder
 * doubles its arrays, far above any mesh the models take (4,000 faces) and far below a blow-up.
 */
export const MESH_BUDGET = { vertices: 1 << 22, corners: 1 << 24 } as const;

/** Returns the mesh if it has faces; an empty mesh is an error (nothing to learn from or show). */
export function nonEmpty(mesh: Mesh, file: string): Mesh {
  if (faceCount(mesh) === 0) throw new Error(`${file}: empty mesh (${mesh.vertices.length / 3} vertices, no faces)`);
  return mesh;
}

/** Positions are stored as float32: a coordinate must be finite after rounding to float32 (|x| < 3.4e38). */
export const isFiniteXYZ = (x: number, y: number, z: number): boolean =>
  Number.isFinite(Math.fround(x)) && Number.isFinite(Math.fround(y)) && Number.isFinite(Math.fround(z));

/** Why a coordinate triple was refused, for the one-line error. */
export const COORDINATE_RULE = "coordinates must be finite float32 numbers (|x| < 3.4e38)";

/**
 * Throws unless `count` records of at least `minBytes` each fit in the `available` bytes (text
 * formats: one line each in the lines left). Keeps a header's count from driving a loop or an
 * allocation past what the file holds.
 */
export function checkCount(file: string, what: string, count: number, minBytes: number, available: number, unit = "bytes"): void {
  if (!Number.isSafeInteger(count) || count < 0) throw new Error(`${file}: ${what} count ${count} is not a non-negative integer`);
  if (count * Math.max(1, minBytes) > available) {
    throw new Error(`${file}: ${what} count ${count} needs at least ${count * Math.max(1, minBytes)} ${unit}, but only ${available} are left in the file`);
  }
}
