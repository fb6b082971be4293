/**
 * glTF 2.0 (.gltf JSON with external or data: buffers) and GLB, triangle geometry only.
 *
 * Our own reader rather than three's GLTFLoader: the loader parses geometry headlessly, but it
 * also decodes every texture, which needs a DOM (ImageLoader / createImageBitmap) that Bun does
 * not have, and most real-world .glb files are textured. Materials are never read here.
 * Every mesh instance of the default scene is baked with its node's world transform; triangle
 * lists, strips and fans are read, points and lines skipped. Quantized (normalized integer)
 * positions are supported; Draco/meshopt compression and sparse accessors are not.
 *
 * Our writer emits one node, one mesh, float32 positions and uint32 triangle indices (three's
 * GLTFExporter needs FileReader for binary output, which Bun lacks).
 */
import { Matrix4, Quaternion, Vector3 } from "three";
import { z } from "zod";
import { MeshBuilder } from "../builder.ts";
import type { Mesh } from "../mesh.ts";
import { quoted } from "../../util/text.ts";
import { byteError, COORDINATE_RULE, isFiniteXYZ, MESH_BUDGET, nonEmpty } from "./errors.ts";
import { fanTriangles } from "./triangulate.ts";

const GLB_MAGIC = 0x46546c67; // "glTF"
const CHUNK_JSON = 0x4e4f534a;
const CHUNK_BIN = 0x004e4942;

const Index = z.number().int().nonnegative();
const GltfSchema = z.object({
  asset: z.object({ version: z.string() }),
  extensionsRequired: z.array(z.string()).default([]),
  scene: Index.optional(),
  scenes: z.array(z.object({ nodes: z.array(Index).default([]) })).default([]),
  nodes: z.array(z.object({
    mesh: Index.optional(),
    children: z.array(Index).default([]),
    matrix: z.array(z.number()).length(16).optional(),
    translation: z.array(z.number()).length(3).optional(),
    rotation: z.array(z.number()).length(4).optional(),
    scale: z.array(z.number()).length(3).optional(),
  })).default([]),
  meshes: z.array(z.object({
    primitives: z.array(z.object({
      attributes: z.looseObject({ POSITION: Index.optional() }),
      indices: Index.optional(),
      mode: z.number().int().min(0).max(6).default(4),
      extensions: z.record(z.string(), z.unknown()).optional(),
    })),
  })).default([]),
  accessors: z.array(z.object({
    bufferView: Index.optional(),
    byteOffset: Index.default(0),
    componentType: z.union([z.literal(5120), z.literal(5121), z.literal(5122), z.literal(5123), z.literal(5125), z.literal(5126)]),
    normalized: z.boolean().default(false),
    count: Index,
    type: z.enum(["SCALAR", "VEC2", "VEC3", "VEC4", "MAT2", "MAT3", "MAT4"]),
    sparse: z.unknown().optional(),
  })).default([]),
  bufferViews: z.array(z.object({ buffer: Index, byteOffset: Index.default(0), byteLength: Index, byteStride: z.number().int().min(4).max(252).multipleOf(4).optional() })).default([]),
  buffers: z.array(z.object({ uri: z.string().optional(), byteLength: Index })).default([]),
});
type Gltf = z.infer<typeof GltfSchema>;

/** A buffer's bytes and where they live, so errors can name a file and byte offset. */
export interface GltfBuffer {
  bytes: Uint8Array;
  file: string;
  /** Offset of the buffer's first byte within `file`. */
  base: number;
}

/**
 * Reads at most `byteLength` bytes of the buffer a relative, already percent-decoded URI names
 * (the caller resolves it inside the .gltf file's folder and refuses anything else).
 */
export type ExternalReader = (uri: string, byteLength: number) => Promise<{ bytes: Uint8Array; file: string }>;

/** Node visits allowed when walking the scene: instancing a subtree from many parents multiplies them. */
const MAX_NODE_VISITS = 1 << 16;
const MAX_NODE_DEPTH = 256;

const COMPONENT_SIZE = { 5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4 } as const;
const COMPONENTS = { SCALAR: 1, VEC2: 2, VEC3: 3, VEC4: 4, MAT2: 4, MAT3: 9, MAT4: 16 } as const;

export async function parseGlb(bytes: Uint8Array, file: string, readExternal: ExternalReader): Promise<Mesh> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12) throw byteError(file, bytes.length, "GLB is truncated inside its 12-byte header");
  if (view.getUint32(0, true) !== GLB_MAGIC) throw byteError(file, 0, "not a GLB file (magic is not 'glTF')");
  if (view.getUint32(4, true) !== 2) throw byteError(file, 4, `GLB version ${view.getUint32(4, true)} is not supported (only 2)`);
  const declared = view.getUint32(8, true);
  if (declared > bytes.length) throw byteError(file, bytes.length, `GLB is truncated: header says ${declared} bytes, file has ${bytes.length}`);
  let json: unknown = undefined;
  let bin: GltfBuffer | null = null;
  for (let at = 12; at < declared;) {
    if (at + 8 > declared) throw byteError(file, at, "GLB chunk header is truncated");
    const length = view.getUint32(at, true), type = view.getUint32(at + 4, true);
    const start = at + 8;
    if (start + length > declared) throw byteError(file, at, `GLB chunk of ${length} bytes runs past the end of the file (${declared} bytes)`);
    const data = bytes.subarray(start, start + length);
    if (type === CHUNK_JSON && json === undefined) json = parseJson(new TextDecoder().decode(data), file);
    else if (type === CHUNK_BIN && bin === null) bin = { bytes: data, file, base: start };
    at = start + length;
  }
  if (json === undefined) throw byteError(file, 12, "GLB has no JSON chunk");
  return meshFromGltf(validate(json, file), file, bin, readExternal);
}

export async function parseGltf(text: string, file: string, readExternal: ExternalReader): Promise<Mesh> {
  return meshFromGltf(validate(parseJson(text, file), file), file, null, readExternal);
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: glTF JSON does not parse: ${(e as Error).message}`);
  }
}

function validate(json: unknown, file: string): Gltf {
  const parsed = GltfSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${file}: glTF JSON at ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const unsupported = parsed.data.extensionsRequired.filter((e) => e !== "KHR_mesh_quantization" && e !== "KHR_materials_unlit" && e !== "KHR_texture_transform");
  if (unsupported.length) throw new Error(`${file}: glTF requires ${unsupported.join(", ")}, which iflame cannot decode (re-export without compression)`);
  return parsed.data;
}

async function loadBuffers(gltf: Gltf, file: string, bin: GltfBuffer | null, readExternal: ExternalReader): Promise<GltfBuffer[]> {
  return Promise.all(gltf.buffers.map(async (b, i): Promise<GltfBuffer> => {
    let buffer: GltfBuffer;
    if (b.uri === undefined) {
      if (!bin || i !== 0) throw new Error(`${file}: glTF buffer ${i} has no uri and there is no GLB binary chunk for it`);
      buffer = bin;
    } else if (b.uri.startsWith("data:")) {
      const comma = b.uri.indexOf(",");
      if (comma < 0 || !b.uri.slice(0, comma).endsWith(";base64")) throw new Error(`${file}: glTF buffer ${i} has a data: uri that is not base64`);
      buffer = { bytes: new Uint8Array(Buffer.from(b.uri.slice(comma + 1), "base64")), file: `${file} (buffer ${i})`, base: 0 };
    } else {
      let uri: string;
      try {
        uri = decodeURIComponent(b.uri);
      } catch {
        throw new Error(`${file}: glTF buffer ${i} uri ${quoted(b.uri)} is not valid percent-encoding`);
      }
      const external = await readExternal(uri, b.byteLength);
      buffer = { bytes: external.bytes, file: `${file} (buffer ${i}: ${external.file})`, base: 0 };
    }
    if (buffer.bytes.length < b.byteLength) throw byteError(buffer.file, buffer.base + buffer.bytes.length, `glTF buffer ${i} is truncated (${buffer.bytes.length} of ${b.byteLength} bytes)`);
    return buffer;
  }));
}

/** Reads accessor `index` as numbers (normalized integers mapped to [-1, 1] / [0, 1]). */
function readAccessor(gltf: Gltf, buffers: GltfBuffer[], index: number, file: string): { values: Float64Array; components: number; at: (i: number) => string } {
  const accessor = gltf.accessors[index];
  if (!accessor) throw new Error(`${file}: glTF accessor ${index} does not exist`);
  if (accessor.sparse !== undefined) throw new Error(`${file}: glTF accessor ${index} is sparse, which is not supported`);
  const components = COMPONENTS[accessor.type];
  // With a bufferView the count is bounded by the bytes below; without one (all zeros) only by the budget.
  if (accessor.count * components > MESH_BUDGET.corners) {
    throw new Error(`${file}: glTF accessor ${index} has ${accessor.count} × ${components} values, over the mesh budget of ${MESH_BUDGET.corners}`);
  }
  if (accessor.bufferView === undefined) return { values: new Float64Array(accessor.count * components), components, at: () => `accessor ${index} (all zeros)` };
  const bufferView = gltf.bufferViews[accessor.bufferView];
  if (!bufferView) throw new Error(`${file}: glTF accessor ${index} uses bufferView ${accessor.bufferView}, which does not exist`);
  const buffer = buffers[bufferView.buffer];
  if (!buffer) throw new Error(`${file}: glTF bufferView ${accessor.bufferView} uses buffer ${bufferView.buffer}, which does not exist`);
  const size = COMPONENT_SIZE[accessor.componentType];
  const stride = bufferView.byteStride ?? size * components;
  if (stride < size * components) throw new Error(`${file}: glTF bufferView ${accessor.bufferView} byteStride ${stride} is smaller than accessor ${index}'s element (${size * components} bytes)`);
  const first = bufferView.byteOffset + accessor.byteOffset;
  const end = accessor.count === 0 ? first : first + stride * (accessor.count - 1) + size * components;
  if (bufferView.byteOffset + bufferView.byteLength > buffer.bytes.length || end > bufferView.byteOffset + bufferView.byteLength) {
    throw byteError(buffer.file, buffer.base + Math.min(end, buffer.bytes.length), `glTF accessor ${index} reads past the end of its bufferView ${accessor.bufferView} / buffer ${bufferView.buffer}`);
  }
  const values = new Float64Array(accessor.count * components);
  const view = new DataView(buffer.bytes.buffer, buffer.bytes.byteOffset, buffer.bytes.byteLength);
  const read = {
    5120: (o: number) => (accessor.normalized ? Math.max(view.getInt8(o) / 127, -1) : view.getInt8(o)),
    5121: (o: number) => (accessor.normalized ? view.getUint8(o) / 255 : view.getUint8(o)),
    5122: (o: number) => (accessor.normalized ? Math.max(view.getInt16(o, true) / 32767, -1) : view.getInt16(o, true)),
    5123: (o: number) => (accessor.normalized ? view.getUint16(o, true) / 65535 : view.getUint16(o, true)),
    5125: (o: number) => view.getUint32(o, true),
    5126: (o: number) => view.getFloat32(o, true),
  }[accessor.componentType];
  for (let i = 0; i < accessor.count; i++) {
    for (let c = 0; c < components; c++) values[i * components + c] = read(first + i * stride + c * size);
  }
  return { values, components, at: (i) => `byte ${buffer.base + first + i * stride}` };
}

function localMatrix(node: Gltf["nodes"][number]): Matrix4 {
  if (node.matrix) return new Matrix4().fromArray(node.matrix);
  const t = new Vector3().fromArray(node.translation ?? [0, 0, 0]);
  const r = new Quaternion().fromArray(node.rotation ?? [0, 0, 0, 1]);
  const s = new Vector3().fromArray(node.scale ?? [1, 1, 1]);
  return new Matrix4().compose(t, r, s);
}

/** Triangle corner lists of a primitive's index sequence for its draw mode (4 list, 5 strip, 6 fan). */
function trianglesOf(indices: ArrayLike<number>, mode: number): number[] {
  const out: number[] = [];
  const n = indices.length;
  if (mode === 4) for (let i = 0; i + 2 < n; i += 3) out.push(indices[i], indices[i + 1], indices[i + 2]);
  if (mode === 5) for (let i = 0; i + 2 < n; i++) out.push(...(i % 2 ? [indices[i + 1], indices[i], indices[i + 2]] : [indices[i], indices[i + 1], indices[i + 2]]));
  if (mode === 6) for (let i = 1; i + 1 < n; i++) out.push(indices[0], indices[i], indices[i + 1]);
  return out;
}

async function meshFromGltf(gltf: Gltf, file: string, bin: GltfBuffer | null, readExternal: ExternalReader): Promise<Mesh> {
  const buffers = await loadBuffers(gltf, file, bin, readExternal);
  const builder = new MeshBuilder(file);
  const addMesh = (meshIndex: number, world: Matrix4) => {
    const mesh = gltf.meshes[meshIndex];
    if (!mesh) throw new Error(`${file}: glTF mesh ${meshIndex} does not exist`);
    mesh.primitives.forEach((primitive, p) => {
      const where = `mesh ${meshIndex} primitive ${p}`;
      if (primitive.extensions && Object.keys(primitive.extensions).some((e) => e.includes("draco") || e.includes("meshopt"))) {
        throw new Error(`${file}: glTF ${where} is compressed (${Object.keys(primitive.extensions).join(", ")}), which iflame cannot decode`);
      }
      if (primitive.mode < 4 || primitive.attributes.POSITION === undefined) return; // points, lines, or nothing to place
      const positions = readAccessor(gltf, buffers, primitive.attributes.POSITION, file);
      if (positions.components !== 3) throw new Error(`${file}: glTF ${where}: POSITION is not VEC3`);
      const count = positions.values.length / 3;
      const base = builder.vertexCount;
      const p3 = new Vector3();
      for (let i = 0; i < count; i++) {
        p3.fromArray(positions.values, 3 * i).applyMatrix4(world);
        if (!isFiniteXYZ(p3.x, p3.y, p3.z)) throw new Error(`${file}: glTF ${where}: vertex ${i} at ${positions.at(i)} is not finite (${COORDINATE_RULE})`);
        builder.addVertex(p3.x, p3.y, p3.z);
      }
      let indices: ArrayLike<number> = Uint32Array.from({ length: count }, (_, i) => i);
      if (primitive.indices !== undefined) {
        const read = readAccessor(gltf, buffers, primitive.indices, file);
        read.values.forEach((v, i) => {
          if (!(v < count)) throw new Error(`${file}: glTF ${where}: index ${v} at ${read.at(i)} is out of range (${count} vertices)`);
        });
        indices = read.values;
      }
      // A mirroring transform flips winding; swap two corners to keep faces outward.
      const flip = world.determinant() < 0;
      const triangles = trianglesOf(indices, primitive.mode);
      for (let t = 0; t < triangles.length; t += 3) {
        const [a, b, c] = [base + triangles[t], base + triangles[t + 1], base + triangles[t + 2]];
        builder.addFace(flip ? [a, c, b] : [a, b, c]);
      }
    });
  };
  let visits = 0;
  const visit = (nodeIndex: number, parent: Matrix4, path: Set<number>) => {
    const node = gltf.nodes[nodeIndex];
    if (!node) throw new Error(`${file}: glTF node ${nodeIndex} does not exist`);
    if (path.has(nodeIndex)) throw new Error(`${file}: glTF node ${nodeIndex} is its own ancestor`);
    if (++visits > MAX_NODE_VISITS || path.size >= MAX_NODE_DEPTH) {
      throw new Error(`${file}: glTF scene places more than ${MAX_NODE_VISITS} nodes or nests deeper than ${MAX_NODE_DEPTH}`);
    }
    const world = parent.clone().multiply(localMatrix(node));
    if (node.mesh !== undefined) addMesh(node.mesh, world);
    const below = new Set(path).add(nodeIndex);
    for (const child of node.children) visit(child, world, below);
  };
  const roots = rootNodes(gltf);
  if (roots === null) gltf.meshes.forEach((_, m) => addMesh(m, new Matrix4()));
  else for (const root of roots) visit(root, new Matrix4(), new Set());
  return nonEmpty(builder.build(), file);
}

/** The default scene's nodes; without scenes, every node that is nobody's child; null: no nodes at all. */
function rootNodes(gltf: Gltf): number[] | null {
  if (gltf.scenes.length) return gltf.scenes[gltf.scene ?? 0]?.nodes ?? [];
  if (!gltf.nodes.length) return null;
  const children = new Set(gltf.nodes.flatMap((n) => n.children));
  return gltf.nodes.map((_, i) => i).filter((i) => !children.has(i));
}

export function encodeGlb(mesh: Mesh): Uint8Array {
  const triangles = fanTriangles(mesh);
  const V = mesh.vertices.length / 3;
  const min = [Infinity, Infinity, Infinity], max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < 3 * V; i++) {
    min[i % 3] = Math.min(min[i % 3], mesh.vertices[i]);
    max[i % 3] = Math.max(max[i % 3], mesh.vertices[i]);
  }
  const positionBytes = 12 * V, indexBytes = 4 * triangles.length;
  const json = JSON.stringify({
    asset: { version: "2.0", generator: "iflame" },
    scene: 0,
    scenes: [{ nodes: [0] }],
    nodes: [{ mesh: 0 }],
    meshes: [{ primitives: [{ attributes: { POSITION: 0 }, indices: 1, mode: 4 }] }],
    accessors: [
      { bufferView: 0, componentType: 5126, count: V, type: "VEC3", min, max },
      { bufferView: 1, componentType: 5125, count: triangles.length, type: "SCALAR" },
    ],
    bufferViews: [
      { buffer: 0, byteOffset: 0, byteLength: positionBytes, target: 34962 },
      { buffer: 0, byteOffset: positionBytes, byteLength: indexBytes, target: 34963 },
    ],
    buffers: [{ byteLength: positionBytes + indexBytes }],
  });
  const rawJson = new TextEncoder().encode(json);
  const jsonBytes = new Uint8Array(rawJson.length + ((4 - (rawJson.length % 4)) % 4)).fill(0x20); // chunks are 4-byte aligned, JSON padded with spaces
  jsonBytes.set(rawJson);
  const binLength = positionBytes + indexBytes; // already a multiple of 4
  const out = new Uint8Array(12 + 8 + jsonBytes.length + 8 + binLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, GLB_MAGIC, true);
  view.setUint32(4, 2, true);
  view.setUint32(8, out.length, true);
  view.setUint32(12, jsonBytes.length, true);
  view.setUint32(16, CHUNK_JSON, true);
  out.set(jsonBytes, 20);
  const binStart = 20 + jsonBytes.length;
  view.setUint32(binStart, binLength, true);
  view.setUint32(binStart + 4, CHUNK_BIN, true);
  out.set(new Uint8Array(mesh.vertices.buffer, mesh.vertices.byteOffset, positionBytes), binStart + 8);
  out.set(new Uint8Array(triangles.buffer), binStart + 8 + positionBytes);
  return out;
}
