/**
 * Wavefront OBJ: `v x y z [w]` and `f` records whose corners are `v`, `v/vt`, `v//vn` or
 * `v/vt/vn`, 1-based or negative (relative to the vertices read so far). Polygons stay polygons.
 * Everything else (normals, texture coordinates, groups, materials, lines) is ignored.
 */
import { MeshBuilder } from "../builder.ts";
import { faceCount, type Mesh } from "../mesh.ts";
import { COORDINATE_RULE, isFiniteXYZ, lineError, nonEmpty } from "./errors.ts";

const INTEGER = /^[+-]?\d+$/;

export function parseObj(text: string, file: string): Mesh {
  const builder = new MeshBuilder(file);
  // A positive index may point at a vertex defined later in the file; such faces are checked at the end.
  const forwardRefs: { line: number; index: number }[] = [];
  const corners: number[] = [];
  const lines = text.split("\n");
  for (let l = 0; l < lines.length; l++) {
    const line = lines[l];
    const kind = line.length > 1 && (line[1] === " " || line[1] === "\t") ? line[0] : "";
    if (kind !== "v" && kind !== "f") continue;
    const fields = line.trim().split(/\s+/);
    const lineNo = l + 1;
    if (kind === "v") {
      if (fields.length < 4) throw lineError(file, lineNo, `vertex needs 3 coordinates: '${line.trim()}'`);
      const x = Number(fields[1]), y = Number(fields[2]), z = Number(fields[3]);
      if (!isFiniteXYZ(x, y, z)) throw lineError(file, lineNo, `vertex coordinate is not a finite number: '${line.trim()}' (${COORDINATE_RULE})`);
      builder.addVertex(x, y, z);
      continue;
    }
    if (fields.length < 4) throw lineError(file, lineNo, `face needs at least 3 vertices: '${line.trim()}'`);
    corners.length = 0;
    for (let i = 1; i < fields.length; i++) {
      const ref = fields[i].split("/")[0];
      if (!INTEGER.test(ref)) throw lineError(file, lineNo, `face vertex '${fields[i]}' is not an index`);
      const n = Number(ref);
      if (n === 0) throw lineError(file, lineNo, "face vertex index 0 (OBJ indices start at 1)");
      const index = n > 0 ? n - 1 : builder.vertexCount + n;
      if (index < 0) throw lineError(file, lineNo, `face vertex index ${n} points before the first vertex (${builder.vertexCount} read so far)`);
      if (index >= builder.vertexCount) forwardRefs.push({ line: lineNo, index });
      corners.push(index);
    }
    builder.addFace(corners);
  }
  for (const ref of forwardRefs) {
    if (ref.index >= builder.vertexCount) throw lineError(file, ref.line, `face vertex index ${ref.index + 1} is out of range (${builder.vertexCount} vertices)`);
  }
  return nonEmpty(builder.build(), file);
}

/** Shortest decimal that reads back as the same float32 (keeps files small and exact). */
export function formatFloat32(x: number): string {
  for (let digits = 6; digits < 9; digits++) {
    const s = x.toPrecision(digits);
    if (Math.fround(Number(s)) === x) return String(Number(s));
  }
  return String(Number(x.toPrecision(9)));
}

export function encodeObj(mesh: Mesh): string {
  const out: string[] = [];
  const v = mesh.vertices;
  for (let i = 0; i < v.length; i += 3) out.push(`v ${formatFloat32(v[i])} ${formatFloat32(v[i + 1])} ${formatFloat32(v[i + 2])}`);
  for (let f = 0; f < faceCount(mesh); f++) {
    const corners = Array.from(mesh.faceIndices.subarray(mesh.faceStarts[f], mesh.faceStarts[f + 1]), (i) => i + 1);
    out.push(`f ${corners.join(" ")}`);
  }
  return `${out.join("\n")}\n`;
}
