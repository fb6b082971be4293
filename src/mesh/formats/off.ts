/**
 * Object File Format (Geomview OFF): an `OFF` header line (or a variant: `COFF` colours, `NOFF`
 * normals, `STOFF` texture coordinates, `CNOFF`, …: extra columns after x y z, ignored), a line
 * `vertices faces [edges]` (it may share the header's line), one vertex `x y z …` per line, then
 * one face `n i1 … in [colour]` per line, indices from 0. `#` starts a comment. Polygons stay
 * polygons, as OBJ and PLY polygons do: the tokenizer splits them the way the reference does.
 */
import { MeshBuilder } from "../builder.ts";
import type { Mesh } from "../mesh.ts";
import { checkCount, COORDINATE_RULE, isFiniteXYZ, lineError, nonEmpty } from "./errors.ts";

const HEADER = /^(ST)?C?N?OFF$/;
const INTEGER = /^\d+$/;

/** The non-blank lines with comments removed, each with its 1-based line number. */
function contentLines(text: string): { line: number; fields: string[] }[] {
  const out: { line: number; fields: string[] }[] = [];
  const lines = text.split("\n");
  for (let l = 0; l < lines.length; l++) {
    const hash = lines[l].indexOf("#");
    const body = (hash < 0 ? lines[l] : lines[l].slice(0, hash)).trim();
    if (body) out.push({ line: l + 1, fields: body.split(/\s+/) });
  }
  return out;
}

export function parseOff(text: string, file: string): Mesh {
  const lines = contentLines(text);
  if (!lines.length || !HEADER.test(lines[0].fields[0])) {
    throw lineError(file, lines[0]?.line ?? 1, `not an OFF file (first line must be OFF, COFF, NOFF, CNOFF or STOFF)`);
  }
  // The counts may follow the keyword on its line or stand on the next one.
  let at = lines[0].fields.length > 1 ? 0 : 1;
  const countsLine = lines[at];
  const counts = countsLine ? countsLine.fields.slice(at === 0 ? 1 : 0) : [];
  if (!countsLine || counts.length < 2 || counts.length > 3 || !counts.every((c) => INTEGER.test(c))) {
    throw lineError(file, countsLine?.line ?? lines[0].line, `OFF counts line must be 'vertices faces [edges]': '${countsLine?.fields.join(" ") ?? ""}'`);
  }
  const [V, F] = counts.map(Number);
  at++;
  checkCount(file, "OFF vertex", V, 1, lines.length - at, "lines");
  checkCount(file, "OFF vertex and face", V + F, 1, lines.length - at, "lines");
  const builder = new MeshBuilder(file);
  for (let v = 0; v < V; v++, at++) {
    const { line, fields } = lines[at];
    if (fields.length < 3) throw lineError(file, line, `vertex ${v} needs 3 coordinates: '${fields.join(" ")}'`);
    const [x, y, z] = fields.slice(0, 3).map(Number);
    if (!isFiniteXYZ(x, y, z)) throw lineError(file, line, `vertex ${v} coordinate is not a finite number: '${fields.join(" ")}' (${COORDINATE_RULE})`);
    builder.addVertex(x, y, z);
  }
  const corners: number[] = [];
  for (let f = 0; f < F; f++, at++) {
    const { line, fields } = lines[at];
    const n = Number(fields[0]);
    if (!INTEGER.test(fields[0]) || n < 3) throw lineError(file, line, `face ${f} must start with its corner count (at least 3): '${fields.join(" ")}'`);
    if (fields.length < 1 + n) throw lineError(file, line, `face ${f} says ${n} corners but lists ${fields.length - 1} values`);
    corners.length = 0;
    for (let k = 1; k <= n; k++) {
      const index = Number(fields[k]);
      if (!INTEGER.test(fields[k]) || index >= V) throw lineError(file, line, `face ${f} corner '${fields[k]}' is not a vertex index (0 to ${V - 1})`);
      corners.push(index);
    }
    builder.addFace(corners);
  }
  return nonEmpty(builder.build(), file);
}
