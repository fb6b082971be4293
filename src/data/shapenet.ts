/**
 * The ShapeNet pickle as processed by MeshGPT and read by the reference (`datasetmy.py`): a dict
 * with `vertices_{train,val}` (lists of n×3 float arrays), `faces_{train,val}` (lists of faces:
 * an F×k int array, or a list of per-face index arrays/lists when polygons differ in size) and
 * `name_{train,val}` (lists of names starting with the ShapeNet category id, e.g. "03001627").
 */
import type { Mesh } from "../mesh/mesh.ts";
import type { NamedMesh, Splits } from "./dataset.ts";
import { oneLine } from "../util/text.ts";
import { NdArray, readPickle } from "./pickle.ts";

export interface ShapeNetOptions {
  /** Keep only names starting with this prefix (a category id such as "03001627"). */
  category?: string;
  /** Told about each mesh that cannot be used; defaults to a console warning. */
  onSkip?: (name: string, reason: string) => void;
}

export async function readShapeNetPickle(path: string, opts: ShapeNetOptions = {}): Promise<Splits<NamedMesh[]>> {
  const data = readPickle(new Uint8Array(await Bun.file(path).arrayBuffer()), { source: path });
  if (!(data instanceof Map)) throw new Error(`${path}: expected a dict at the top of the pickle`);
  return { train: readSplit(data, "train", path, opts), val: readSplit(data, "val", path, opts) };
}

function listAt(data: Map<unknown, unknown>, key: string, path: string): unknown[] {
  const value = data.get(key);
  if (!Array.isArray(value)) throw new Error(`${path}: '${key}' is missing or not a list (keys: ${oneLine([...data.keys()].join(", "), 300)})`);
  return value;
}

function readSplit(data: Map<unknown, unknown>, split: "train" | "val", path: string, opts: ShapeNetOptions): NamedMesh[] {
  const names = listAt(data, `name_${split}`, path);
  const vertices = listAt(data, `vertices_${split}`, path);
  const faces = listAt(data, `faces_${split}`, path);
  if (vertices.length !== names.length || faces.length !== names.length) {
    throw new Error(`${path}: ${split} split has ${names.length} names, ${vertices.length} vertex arrays and ${faces.length} face lists`);
  }
  const onSkip = opts.onSkip ?? ((name, reason) => console.warn(`skipping ${name}: ${reason}`));
  const out: NamedMesh[] = [];
  names.forEach((name, i) => {
    const label = typeof name === "string" ? name : `${split}[${i}]`;
    if (opts.category !== undefined && !label.startsWith(opts.category)) return;
    try {
      out.push({ name: label, mesh: toMesh(vertices[i], faces[i]) });
    } catch (e) {
      onSkip(label, `${path}: ${split}[${i}]: ${(e as Error).message}`);
    }
  });
  return out;
}

const numbers = (a: NdArray): ArrayLike<number> => (a.data instanceof BigInt64Array || a.data instanceof BigUint64Array ? Array.from(a.data, Number) : a.data);

/** Vertices: an n×3 float array (the usual case, copied in one go) or a list of 3-number rows. */
function readVertices(value: unknown): Float32Array {
  let out: Float32Array;
  if (value instanceof NdArray) {
    if (value.shape.length !== 2 || value.shape[1] !== 3) throw new Error(`vertices have shape (${value.shape}), expected (n, 3)`);
    out = Float32Array.from(numbers(value));
  } else if (Array.isArray(value) && value.every((row) => Array.isArray(row) && row.length === 3)) {
    out = Float32Array.from(value.flat() as number[]);
  } else {
    throw new Error("vertices are neither an (n, 3) array nor a list of [x, y, z]");
  }
  const bad = out.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) throw new Error(`vertex ${Math.floor(bad / 3)} is not finite`);
  return out;
}

/** Faces: an F×k int array, or a list of faces (arrays or lists) of any sizes ≥ 3; as CSR. */
function readFaces(value: unknown): { corners: ArrayLike<number>; starts: Uint32Array } {
  if (value instanceof NdArray) {
    const [F, k] = value.shape;
    if (value.shape.length !== 2 || k < 3) throw new Error(`faces have shape (${value.shape}), expected (F, k ≥ 3)`);
    return { corners: numbers(value), starts: Uint32Array.from({ length: F + 1 }, (_, f) => f * k) };
  }
  if (!Array.isArray(value)) throw new Error("faces are neither an array nor a list");
  const corners: number[] = [];
  const starts = new Uint32Array(value.length + 1);
  value.forEach((face, f) => {
    const list = face instanceof NdArray ? Array.from(numbers(face)) : Array.isArray(face) ? face.map(Number) : [];
    if (list.length < 3) throw new Error(`face ${f} is not a list of 3 or more indices`);
    corners.push(...list);
    starts[f + 1] = corners.length;
  });
  return { corners, starts };
}

function toMesh(vertexValue: unknown, faceValue: unknown): Mesh {
  const vertices = readVertices(vertexValue);
  const { corners, starts } = readFaces(faceValue);
  if (starts.length < 2) throw new Error("no faces");
  const V = vertices.length / 3;
  for (let i = 0, f = 0; i < corners.length; i++) {
    while (starts[f + 1] <= i) f++;
    if (!Number.isInteger(corners[i]) || corners[i] < 0 || corners[i] >= V) throw new Error(`face ${f} index ${corners[i]} is out of range (${V} vertices)`);
  }
  return { vertices, faceIndices: Uint32Array.from(corners), faceStarts: starts };
}
