/**
 * Stanford PLY, ascii and binary (little and big endian): the `vertex` element's x, y, z and the
 * `face` element's index list (`vertex_indices` or `vertex_index`). Other elements and
 * properties are read past. We write binary little endian with `list uchar int` faces
 * (`list uint int` when a face has more than 255 corners).
 */
import { MeshBuilder } from "../builder.ts";
import { faceCount, type Mesh } from "../mesh.ts";
import { byteError, checkCount, COORDINATE_RULE, isFiniteXYZ, lineError, nonEmpty } from "./errors.ts";

type Scalar = "int8" | "uint8" | "int16" | "uint16" | "int32" | "uint32" | "float32" | "float64";

const SCALARS: Record<string, Scalar> = {
  char: "int8", int8: "int8", uchar: "uint8", uint8: "uint8",
  short: "int16", int16: "int16", ushort: "uint16", uint16: "uint16",
  int: "int32", int32: "int32", uint: "uint32", uint32: "uint32",
  float: "float32", float32: "float32", double: "float64", float64: "float64",
};

const SIZE: Record<Scalar, number> = { int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4, float64: 8 };

interface Property {
  name: string;
  type: Scalar;
  /** Set for list properties: the type of the leading count. */
  countType?: Scalar;
}

interface Element {
  name: string;
  count: number;
  properties: Property[];
}

type Format = "ascii" | "binary_little_endian" | "binary_big_endian";

interface Header {
  format: Format;
  elements: Element[];
  /** Byte offset of the body. */
  bodyStart: number;
  /** Lines in the header (ascii bodies count lines from here). */
  lineCount: number;
}

function parseHeader(bytes: Uint8Array, file: string): Header {
  const text = new TextDecoder("latin1").decode(bytes.subarray(0, Math.min(bytes.length, 1 << 16)));
  const end = /end_header[ \t]*\r?\n/.exec(text);
  if (!text.startsWith("ply")) throw lineError(file, 1, "not a PLY file (first line must be 'ply')");
  if (!end) throw lineError(file, text.split("\n").length, "PLY header has no 'end_header' line");
  const lines = text.slice(0, end.index).split("\n");
  let format: Format | null = null;
  const elements: Element[] = [];
  for (let l = 1; l < lines.length; l++) {
    const fields = lines[l].trim().split(/\s+/);
    const bad = (what: string) => lineError(file, l + 1, `${what}: '${lines[l].trim()}'`);
    switch (fields[0]) {
      case "format":
        if (fields[1] !== "ascii" && fields[1] !== "binary_little_endian" && fields[1] !== "binary_big_endian") throw bad("unknown PLY format");
        format = fields[1];
        break;
      case "element": {
        const count = Number(fields[2]);
        if (fields.length !== 3 || !Number.isSafeInteger(count) || count < 0) throw bad("bad element line");
        elements.push({ name: fields[1], count, properties: [] });
        break;
      }
      case "property": {
        const element = elements.at(-1);
        if (!element) throw bad("property before any element");
        if (fields[1] === "list") {
          const countType = SCALARS[fields[2]], type = SCALARS[fields[3]];
          if (fields.length !== 5 || !countType || !type) throw bad("bad list property");
          element.properties.push({ name: fields[4], type, countType });
        } else {
          const type = SCALARS[fields[1]];
          if (fields.length !== 3 || !type) throw bad("bad property");
          element.properties.push({ name: fields[2], type });
        }
        break;
      }
      case "comment": case "obj_info": case "":
        break;
      default:
        throw bad("unknown header line");
    }
  }
  if (!format) throw lineError(file, 2, "PLY header has no 'format' line");
  return { format, elements, bodyStart: end.index + end[0].length, lineCount: lines.length + 1 };
}

/** Where x, y, z sit among a vertex's properties and which list holds a face's indices. */
function layoutOf(header: Header, file: string) {
  const vertex = header.elements.find((e) => e.name === "vertex");
  if (!vertex) throw new Error(`${file}: PLY has no 'vertex' element`);
  const xyz = ["x", "y", "z"].map((axis) => {
    const i = vertex.properties.findIndex((p) => p.name === axis && !p.countType);
    if (i < 0) throw new Error(`${file}: PLY vertex element has no '${axis}' property`);
    return i;
  });
  const face = header.elements.find((e) => e.name === "face");
  const indexList = face ? face.properties.findIndex((p) => p.countType && (p.name === "vertex_indices" || p.name === "vertex_index")) : -1;
  if (face && indexList < 0) throw new Error(`${file}: PLY face element has no 'vertex_indices' list`);
  return { xyz, indexList };
}

export function parsePly(bytes: Uint8Array, file: string): Mesh {
  const header = parseHeader(bytes, file);
  const layout = layoutOf(header, file);
  const mesh = header.format === "ascii" ? readAsciiBody(bytes, header, layout, file) : readBinaryBody(bytes, header, layout, file);
  return nonEmpty(mesh, file);
}

type Layout = ReturnType<typeof layoutOf>;

function readAsciiBody(bytes: Uint8Array, header: Header, layout: Layout, file: string): Mesh {
  const lines = new TextDecoder("latin1").decode(bytes.subarray(header.bodyStart)).split("\n");
  const builder = new MeshBuilder(file);
  let l = 0;
  const corners: number[] = [];
  for (const element of header.elements) {
    for (let n = 0; n < element.count; n++, l++) {
      const lineNo = header.lineCount + l;
      if (l >= lines.length || lines[l].trim() === "") throw lineError(file, lineNo, `file ends inside element '${element.name}' (${n} of ${element.count} read)`);
      const values = lines[l].trim().split(/\s+/).map(Number);
      // Each property takes one value, a list takes its count plus that many.
      const starts: number[] = [];
      let at = 0;
      for (const p of element.properties) {
        starts.push(at);
        at += p.countType ? 1 + values[at] : 1;
        if (!(at <= values.length)) throw lineError(file, lineNo, `too few values for element '${element.name}'`);
      }
      if (values.slice(0, at).some((v) => Number.isNaN(v))) throw lineError(file, lineNo, "value is not a number");
      if (element.name === "vertex") {
        const [x, y, z] = layout.xyz.map((i) => values[starts[i]]);
        if (!isFiniteXYZ(x, y, z)) throw lineError(file, lineNo, `vertex coordinate is not finite (${COORDINATE_RULE})`);
        builder.addVertex(x, y, z);
      } else if (element.name === "face") {
        const s = starts[layout.indexList];
        corners.length = 0;
        for (let k = 0; k < values[s]; k++) corners.push(values[s + 1 + k]);
        checkFace(corners, builder.vertexCount, header, (m) => lineError(file, lineNo, m));
        builder.addFace(corners);
      }
    }
  }
  return builder.build();
}

function checkFace(corners: number[], vertexCount: number, header: Header, fail: (message: string) => Error): void {
  const vertices = header.elements.find((e) => e.name === "vertex")!.count;
  if (vertexCount < vertices) throw fail("face element comes before all vertices were read");
  if (corners.length < 3) throw fail(`face has ${corners.length} vertices (needs at least 3)`);
  for (const c of corners) {
    if (!Number.isInteger(c) || c < 0 || c >= vertices) throw fail(`face index ${c} is out of range (${vertices} vertices)`);
  }
}

function readBinaryBody(bytes: Uint8Array, header: Header, layout: Layout, file: string): Mesh {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const little = header.format === "binary_little_endian";
  let at = header.bodyStart;
  const read = (type: Scalar, what: string): number => {
    if (at + SIZE[type] > bytes.length) throw byteError(file, at, `file is truncated inside ${what} (${bytes.length} bytes in all)`);
    const offset = at;
    at += SIZE[type];
    switch (type) {
      case "int8": return view.getInt8(offset);
      case "uint8": return view.getUint8(offset);
      case "int16": return view.getInt16(offset, little);
      case "uint16": return view.getUint16(offset, little);
      case "int32": return view.getInt32(offset, little);
      case "uint32": return view.getUint32(offset, little);
      case "float32": return view.getFloat32(offset, little);
      case "float64": return view.getFloat64(offset, little);
    }
  };
  const builder = new MeshBuilder(file);
  const values: number[] = [];
  const corners: number[] = [];
  for (const element of header.elements) {
    // Each record takes at least its scalars and list counts; an element of no properties takes
    // nothing, so it is skipped rather than looped over (its count is still bounded by the bytes).
    const minBytes = element.properties.reduce((sum, p) => sum + SIZE[p.countType ?? p.type], 0);
    checkCount(file, `element '${element.name}'`, element.count, minBytes, bytes.length - at);
    if (minBytes === 0) continue;
    for (let n = 0; n < element.count; n++) {
      const start = at;
      const what = `element '${element.name}' #${n}`;
      values.length = 0;
      corners.length = 0;
      element.properties.forEach((p, i) => {
        if (!p.countType) return void values.push(read(p.type, what));
        const count = read(p.countType, what);
        values.push(count);
        for (let k = 0; k < count; k++) {
          const v = read(p.type, what);
          if (i === layout.indexList) corners.push(v);
        }
      });
      if (element.name === "vertex") {
        const [x, y, z] = layout.xyz.map((i) => values[i]);
        if (!isFiniteXYZ(x, y, z)) throw byteError(file, start, `vertex #${n} has a non-finite coordinate (${COORDINATE_RULE})`);
        builder.addVertex(x, y, z);
      } else if (element.name === "face") {
        checkFace(corners, builder.vertexCount, header, (m) => byteError(file, start, `face #${n}: ${m}`));
        builder.addFace(corners);
      }
    }
  }
  return builder.build();
}

export function encodePly(mesh: Mesh): Uint8Array {
  const F = faceCount(mesh), V = mesh.vertices.length / 3;
  let maxCorners = 0;
  for (let f = 0; f < F; f++) maxCorners = Math.max(maxCorners, mesh.faceStarts[f + 1] - mesh.faceStarts[f]);
  const countType = maxCorners > 255 ? "uint" : "uchar";
  const countBytes = maxCorners > 255 ? 4 : 1;
  const head = new TextEncoder().encode(
    `ply\nformat binary_little_endian 1.0\ncomment written by iflame\nelement vertex ${V}\n` +
      `property float x\nproperty float y\nproperty float z\nelement face ${F}\n` +
      `property list ${countType} int vertex_indices\nend_header\n`,
  );
  const out = new Uint8Array(head.length + 12 * V + countBytes * F + 4 * mesh.faceIndices.length);
  out.set(head);
  const view = new DataView(out.buffer);
  let at = head.length;
  for (let i = 0; i < 3 * V; i++, at += 4) view.setFloat32(at, mesh.vertices[i], true);
  for (let f = 0; f < F; f++) {
    const begin = mesh.faceStarts[f], end = mesh.faceStarts[f + 1];
    if (countBytes === 1) view.setUint8(at, end - begin);
    else view.setUint32(at, end - begin, true);
    at += countBytes;
    for (let i = begin; i < end; i++, at += 4) view.setInt32(at, mesh.faceIndices[i], true);
  }
  return out;
}
