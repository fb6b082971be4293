/**
 * STL, binary (80-byte header, u32 triangle count, 50 bytes a triangle) and ascii
 * (`facet … outer loop / vertex x y z ×3 / endloop / endfacet`). STL has no shared vertices, so
 * bit-identical positions are welded back together. We write binary, polygons fanned into
 * triangles, normals from the corner order.
 */
import { MeshBuilder } from "../builder.ts";
import type { Mesh } from "../mesh.ts";
import { weldVertices } from "../weld.ts";
import { byteError, COORDINATE_RULE, isFiniteXYZ, lineError, nonEmpty } from "./errors.ts";
import { fanTriangles } from "./triangulate.ts";

const HEADER = 80;
const TRIANGLE = 50;

export function parseStl(bytes: Uint8Array, file: string): Mesh {
  const count = bytes.length >= HEADER + 4 ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(HEADER, true) : -1;
  const binarySize = HEADER + 4 + TRIANGLE * count;
  // Binary files may also begin with "solid": the size that matches the count decides.
  const startsWithSolid = /^\s*solid\b/.test(new TextDecoder("latin1").decode(bytes.subarray(0, HEADER)));
  const mesh = startsWithSolid && bytes.length !== binarySize ? parseAsciiStl(new TextDecoder().decode(bytes), file) : parseBinaryStl(bytes, count, file);
  return nonEmpty(weldVertices(mesh), file);
}

function parseBinaryStl(bytes: Uint8Array, count: number, file: string): Mesh {
  if (count < 0) throw byteError(file, bytes.length, `binary STL is truncated inside its ${HEADER + 4}-byte header`);
  const needed = HEADER + 4 + TRIANGLE * count;
  if (bytes.length < needed) {
    const whole = Math.floor((bytes.length - HEADER - 4) / TRIANGLE);
    throw byteError(file, HEADER + 4 + TRIANGLE * whole, `binary STL is truncated: triangle #${whole} of ${count} is incomplete (${bytes.length} bytes, needs ${needed})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const builder = new MeshBuilder(file);
  const corners = [0, 0, 0];
  for (let t = 0; t < count; t++) {
    const at = HEADER + 4 + TRIANGLE * t + 12; // skip the stored normal
    for (let k = 0; k < 3; k++) {
      const o = at + 12 * k;
      const x = view.getFloat32(o, true), y = view.getFloat32(o + 4, true), z = view.getFloat32(o + 8, true);
      if (!isFiniteXYZ(x, y, z)) throw byteError(file, o, `triangle #${t} has a non-finite coordinate (${COORDINATE_RULE})`);
      corners[k] = builder.addVertex(x, y, z);
    }
    builder.addFace(corners);
  }
  return builder.build();
}

function parseAsciiStl(text: string, file: string): Mesh {
  const builder = new MeshBuilder(file);
  const corners: number[] = [];
  let loopLine = 0;
  const lines = text.split("\n");
  for (let l = 0; l < lines.length; l++) {
    const fields = lines[l].trim().split(/\s+/);
    const lineNo = l + 1;
    switch (fields[0]) {
      case "outer":
        corners.length = 0;
        loopLine = lineNo;
        break;
      case "vertex": {
        if (!loopLine) throw lineError(file, lineNo, "vertex outside 'outer loop'");
        const [x, y, z] = fields.slice(1, 4).map(Number);
        if (fields.length !== 4 || !isFiniteXYZ(x, y, z)) throw lineError(file, lineNo, `vertex needs 3 finite coordinates: '${lines[l].trim()}' (${COORDINATE_RULE})`);
        corners.push(builder.addVertex(x, y, z));
        break;
      }
      case "endloop":
        if (corners.length < 3) throw lineError(file, lineNo, `facet has ${corners.length} vertices (needs 3)`);
        builder.addFace(corners);
        loopLine = 0;
        break;
      case "solid": case "facet": case "endfacet": case "endsolid": case "":
        break;
      default:
        throw lineError(file, lineNo, `unexpected ascii STL line '${lines[l].trim()}'`);
    }
  }
  if (loopLine) throw lineError(file, loopLine, "'outer loop' is never closed by 'endloop'");
  return builder.build();
}

export function encodeStl(mesh: Mesh): Uint8Array {
  const triangles = fanTriangles(mesh);
  const count = triangles.length / 3;
  const out = new Uint8Array(HEADER + 4 + TRIANGLE * count);
  out.set(new TextEncoder().encode("binary STL written by iflame"));
  const view = new DataView(out.buffer);
  view.setUint32(HEADER, count, true);
  const v = mesh.vertices;
  for (let t = 0; t < count; t++) {
    const at = HEADER + 4 + TRIANGLE * t;
    const [a, b, c] = [3 * triangles[3 * t], 3 * triangles[3 * t + 1], 3 * triangles[3 * t + 2]];
    const e1 = [v[b] - v[a], v[b + 1] - v[a + 1], v[b + 2] - v[a + 2]];
    const e2 = [v[c] - v[a], v[c + 1] - v[a + 1], v[c + 2] - v[a + 2]];
    const n = [e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]];
    const length = Math.hypot(n[0], n[1], n[2]) || 1;
    n.forEach((x, k) => view.setFloat32(at + 4 * k, x / length, true));
    [a, b, c].forEach((i, k) => {
      for (let d = 0; d < 3; d++) view.setFloat32(at + 12 + 12 * k + 4 * d, v[i + d], true);
    });
  }
  return out;
}
