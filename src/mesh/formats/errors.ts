/**
 * Every parse error names the file and where in it: `file:line: …` for text formats,
 * `file: byte N: …` for binary ones, so a bad file in a folder of thousands can be found.
 */
import { faceCount, type Mesh } from "../mesh.ts";

export const lineError = (file: string, line: number, message: string): Error => new Error(`${file}:${line}: ${message}`);

export const byteError = (file: string, offset: number, message: string): Error => new Error(`${file}: byte ${offset}: ${message}`);

/** Returns the mesh if it has faces; an empty mesh is an error (nothing to learn from or show). */
export function nonEmpty(mesh: Mesh, file: string): Mesh {
  if (faceCount(mesh) === 0) throw new Error(`${file}: empty mesh (${mesh.vertices.length / 3} vertices, no faces)`);
  return mesh;
}

export const isFiniteXYZ = (x: number, y: number, z: number): boolean => Number.isFinite(x) && Number.isFinite(y) && Number.isFinite(z);
