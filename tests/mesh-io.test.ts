import { afterAll, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";
import { encodeGlb } from "../src/mesh/formats/gltf.ts";
import { encodePly } from "../src/mesh/formats/ply.ts";
import { encodeStl } from "../src/mesh/formats/stl.ts";
import { readMesh, scanMeshFolder, writeMesh } from "../src/mesh/io.ts";
import { faceCount, type Mesh, triangleMesh } from "../src/mesh/mesh.ts";

const dir = await mkdtemp(join(tmpdir(), "iflame-mesh-io-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A pyramid over a square: one quad and four triangles, coordinates that are not round in binary. */
const pyramid: Mesh = {
  vertices: new Float32Array([-0.5, 0.1, -0.3, 0.5, 0.1, -0.3, 0.5, 0.1, 0.7, -0.5, 0.1, 0.7, 0, 1.337, 0.2]),
  faceIndices: new Uint32Array([0, 1, 2, 3, 0, 4, 1, 1, 4, 2, 2, 4, 3, 3, 4, 0]),
  faceStarts: new Uint32Array([0, 4, 7, 10, 13, 16]),
};

/** Faces as sorted strings of corner coordinates: equal for meshes with the same geometry, whatever the vertex order. */
function faceSet(mesh: Mesh): string[] {
  const faces: string[] = [];
  for (let f = 0; f < faceCount(mesh); f++) {
    const corners = Array.from(mesh.faceIndices.subarray(mesh.faceStarts[f], mesh.faceStarts[f + 1]), (i) => Array.from(mesh.vertices.subarray(3 * i, 3 * i + 3)).join(","));
    const first = corners.indexOf([...corners].sort()[0]); // rotate to a canonical start, keep the winding
    faces.push([...corners.slice(first), ...corners.slice(0, first)].join(" | "));
  }
  return faces.sort();
}

/** The pyramid with its quad fanned into two triangles (what triangle-only formats hold). */
const pyramidTriangles = triangleMesh(pyramid.vertices, new Uint32Array([0, 1, 2, 0, 2, 3, 0, 4, 1, 1, 4, 2, 2, 4, 3, 3, 4, 0]));

async function writeFile(name: string, data: string | Uint8Array): Promise<string> {
  const path = join(dir, name);
  await Bun.write(path, data);
  return path;
}

for (const ext of [".obj", ".ply"]) {
  test(`${ext} round trip keeps vertices, order and polygons exactly`, async () => {
    const path = join(dir, `pyramid${ext}`);
    await writeMesh(path, pyramid);
    expect(await readMesh(path)).toEqual(pyramid);
  });
}

for (const ext of [".stl", ".glb"]) {
  test(`${ext} round trip keeps the geometry (polygons fanned into triangles)`, async () => {
    const path = join(dir, `pyramid${ext}`);
    await writeMesh(path, pyramid);
    const back = await readMesh(path);
    expect(back.vertices.length).toBe(pyramid.vertices.length); // STL's per-corner vertices are welded back
    expect(faceSet(back)).toEqual(faceSet(pyramidTriangles));
  });
}

test("our GLB is readable by three's GLTFLoader", async () => {
  const gltf = await new GLTFLoader().parseAsync(encodeGlb(pyramid).buffer as ArrayBuffer, "");
  const meshes: { geometry: { attributes: { position: { array: Float32Array } }; index: { array: Uint32Array } } }[] = [];
  gltf.scene.traverse((o) => void ((o as { isMesh?: boolean }).isMesh && meshes.push(o as never)));
  expect(meshes.length).toBe(1);
  expect(Array.from(meshes[0].geometry.attributes.position.array)).toEqual(Array.from(pyramid.vertices));
  expect(Array.from(meshes[0].geometry.index.array)).toEqual(Array.from(pyramidTriangles.faceIndices));
});

test("OBJ corner forms, negative indices, polygons and ignored records", async () => {
  const path = await writeFile("forms.obj", [
    "# comment", "mtllib x.mtl", "o thing", "v 0 0 0", "v 1 0 0 1.0", "v 1 1 0", "v 0 1 0", "vt 0 0", "vn 0 0 1",
    "g side", "usemtl m", "s off", "f 1/1/1 2/1/1 3/1/1 4/1/1", "f -4//1 -2//1 -1//1", "f 1/1 3/1 2/1", "l 1 2",
  ].join("\r\n"));
  const mesh = await readMesh(path);
  expect(Array.from(mesh.faceStarts)).toEqual([0, 4, 7, 10]);
  expect(Array.from(mesh.faceIndices)).toEqual([0, 1, 2, 3, 0, 2, 3, 0, 2, 1]);
  expect(Array.from(mesh.vertices)).toEqual([0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0]);
});

/** Binary PLY written by hand: big endian, an extra per-vertex property, a face list with ushort counts. */
function bigEndianPly(): Uint8Array {
  const head = new TextEncoder().encode(
    "ply\nformat binary_big_endian 1.0\nelement vertex 3\nproperty double x\nproperty double y\nproperty double z\nproperty uchar red\n" +
      "element face 1\nproperty list ushort uint vertex_indices\nelement extra 1\nproperty int n\nend_header\n",
  );
  const body = new DataView(new ArrayBuffer(3 * 25 + 2 + 12 + 4));
  [[0, 0, 0], [1, 0, 0], [0, 2, 0]].forEach((p, i) => {
    p.forEach((x, k) => body.setFloat64(25 * i + 8 * k, x));
    body.setUint8(25 * i + 24, 200);
  });
  body.setUint16(75, 3);
  [0, 1, 2].forEach((v, k) => body.setUint32(77 + 4 * k, v));
  body.setInt32(89, 7);
  const out = new Uint8Array(head.length + body.byteLength);
  out.set(head);
  out.set(new Uint8Array(body.buffer), head.length);
  return out;
}

test("PLY ascii and big-endian binary", async () => {
  const ascii = await writeFile("ascii.ply", "ply\nformat ascii 1.0\ncomment hi\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n" +
    "element face 1\nproperty list uchar int vertex_index\nend_header\n0 0 0\n1 0 0\n0 2 0\n3 0 1 2\n");
  const big = await writeFile("big.ply", bigEndianPly());
  for (const path of [ascii, big]) {
    const mesh = await readMesh(path);
    expect(Array.from(mesh.vertices)).toEqual([0, 0, 0, 1, 0, 0, 0, 2, 0]);
    expect(Array.from(mesh.faceIndices)).toEqual([0, 1, 2]);
  }
});

test("ascii STL", async () => {
  const path = await writeFile("tri.stl", "solid t\nfacet normal 0 0 1\n outer loop\n  vertex 0 0 0\n  vertex 1 0 0\n  vertex 0 1 0\n endloop\nendfacet\n" +
    "facet normal 0 0 1\n outer loop\n  vertex 1 0 0\n  vertex 1 1 0\n  vertex 0 1 0\n endloop\nendfacet\nendsolid t\n");
  const mesh = await readMesh(path);
  expect(mesh.vertices.length).toBe(12); // 6 corners welded to 4 vertices
  expect(Array.from(mesh.faceIndices)).toEqual([0, 1, 2, 1, 3, 2]);
});

test("glTF with an external buffer, node hierarchy transforms and a triangle strip", async () => {
  const positions = new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0]);
  await Bun.write(join(dir, "quad data.bin"), positions);
  const gltf = {
    asset: { version: "2.0" },
    scenes: [{ nodes: [0] }],
    nodes: [
      { translation: [10, 0, 0], children: [1] },
      { mesh: 0, scale: [2, 2, 2], rotation: [0, 0, Math.SQRT1_2, Math.SQRT1_2] }, // 90° about z, then ×2, then +10 x
    ],
    meshes: [{ primitives: [{ attributes: { POSITION: 0 }, mode: 5 }] }],
    accessors: [{ bufferView: 0, componentType: 5126, count: 4, type: "VEC3" }],
    bufferViews: [{ buffer: 0, byteLength: 48 }],
    buffers: [{ uri: "quad%20data.bin", byteLength: 48 }],
  };
  const mesh = await readMesh(await writeFile("quad.gltf", JSON.stringify(gltf)));
  expect(Array.from(mesh.vertices, (x) => Math.round(x * 1e6) / 1e6 + 0)).toEqual([10, 0, 0, 10, 2, 0, 8, 0, 0, 8, 2, 0]);
  expect(Array.from(mesh.faceIndices)).toEqual([0, 1, 2, 2, 1, 3]); // strip order, odd triangles flipped
  // The same buffer inline as a data: URI.
  gltf.buffers[0].uri = `data:application/octet-stream;base64,${Buffer.from(positions.buffer).toString("base64")}`;
  expect(await readMesh(await writeFile("inline.gltf", JSON.stringify(gltf)))).toEqual(mesh);
});

/** Each malformed file and the error it must raise (file name plus line or byte offset). */
const malformed: [string, string | Uint8Array | (() => Uint8Array), RegExp][] = [
  ["bad-index.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n", /bad-index\.obj:4: face vertex index 4 is out of range \(3 vertices\)/],
  ["zero-index.obj", "v 0 0 0\nf 0 1 2\n", /zero-index\.obj:2: face vertex index 0/],
  ["negative-index.obj", "v 0 0 0\nf -1 -2 -3\n", /negative-index\.obj:2: face vertex index -2 points before the first vertex/],
  ["nan.obj", "v 0 0 0\nv nan 0 0\nv 0 1 0\nf 1 2 3\n", /nan\.obj:2: vertex coordinate is not a finite number/],
  ["inf.obj", "v 0 0 0\nv 1 0 0\nv 0 inf 0\nf 1 2 3\n", /inf\.obj:3: vertex coordinate is not a finite number/],
  ["two-corners.obj", "v 0 0 0\nv 1 0 0\nf 1 2\n", /two-corners\.obj:3: face needs at least 3 vertices/],
  ["empty.obj", "# nothing\nv 0 0 0\n", /empty\.obj: empty mesh \(1 vertices, no faces\)/],
  ["bad-index.ply", "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 5\n", /bad-index\.ply:13: face index 5 is out of range \(3 vertices\)/],
  ["nan.ply", "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nend_header\n0 0 0\n1 nan 0\n0 1 0\n", /nan\.ply:9: /],
  ["no-faces.ply", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n0 0 0\n", /no-faces\.ply: empty mesh/],
  ["short.ply", "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nend_header\n0 0 0\n", /short\.ply:9: file ends inside element 'vertex' \(1 of 3 read\)/],
  ["truncated.ply", () => encodePly(pyramid).subarray(0, -5), /truncated\.ply: byte \d+: file is truncated inside element 'face' #4/],
  ["bad-index-binary.ply", () => {
    const bytes = encodePly(pyramid);
    new DataView(bytes.buffer).setInt32(bytes.length - 4, 99, true);
    return bytes;
  }, /bad-index-binary\.ply: byte \d+: face #4: face index 99 is out of range \(5 vertices\)/],
  ["nan-binary.ply", () => {
    const bytes = encodePly(pyramid);
    const at = new TextDecoder().decode(bytes).indexOf("end_header\n") + 11 + 12 * 2 + 4;
    new DataView(bytes.buffer).setFloat32(at, Number.NaN, true);
    return bytes;
  }, /nan-binary\.ply: byte \d+: vertex #2 has a non-finite coordinate/],
  ["truncated.stl", () => encodeStl(pyramid).subarray(0, 84 + 50 * 2 + 10), /truncated\.stl: byte 184: binary STL is truncated: triangle #2 of 6 is incomplete/],
  ["inf.stl", () => {
    const bytes = encodeStl(pyramid);
    new DataView(bytes.buffer).setFloat32(84 + 50 + 12 + 4, Number.POSITIVE_INFINITY, true);
    return bytes;
  }, /inf\.stl: byte 146: triangle #1 has a non-finite coordinate/],
  ["bad.stl", "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 x 0\n", /bad\.stl:5: vertex needs 3 finite coordinates/],
  ["truncated.glb", () => encodeGlb(pyramid).subarray(0, 100), /truncated\.glb: byte 100: GLB is truncated: header says \d+ bytes, file has 100/],
  ["bad-index.glb", () => {
    const bytes = encodeGlb(pyramid);
    new DataView(bytes.buffer).setUint32(bytes.length - 4, 42, true);
    return bytes;
  }, /bad-index\.glb: glTF mesh 0 primitive 0: index 42 at byte \d+ is out of range \(5 vertices\)/],
  ["bad-json.gltf", '{"asset": {"version": "2.0"}, "accessors": [{"componentType": 1, "count": 1, "type": "VEC3"}]}', /bad-json\.gltf: glTF JSON at accessors\.0\.componentType: /],
  ["draco.gltf", '{"asset": {"version": "2.0"}, "extensionsRequired": ["KHR_draco_mesh_compression"]}', /draco\.gltf: glTF requires KHR_draco_mesh_compression/],
  ["mesh.xyz", "1 2 3\n", /mesh\.xyz: unknown mesh format '\.xyz'/],
];

for (const [name, content, error] of malformed) {
  test(`malformed ${name} fails naming the file and where`, async () => {
    const path = await writeFile(name, typeof content === "function" ? content() : content);
    await expect(readMesh(path)).rejects.toThrow(error);
  });
}

test("scanMeshFolder reads nested folders, skips bad and oversized files with a count", async () => {
  const root = join(dir, "scan");
  await mkdir(join(root, "a", "b"), { recursive: true });
  await writeMesh(join(root, "a", "pyramid.obj"), pyramid);
  await writeMesh(join(root, "a", "b", "pyramid.glb"), pyramid);
  await writeMesh(join(root, "big.ply"), triangleMesh(pyramid.vertices, new Uint32Array([...pyramidTriangles.faceIndices, 0, 1, 4]))); // 7 faces
  await Bun.write(join(root, "a", "broken.stl"), new Uint8Array(90));
  await Bun.write(join(root, "a", "notes.txt"), "not a mesh");
  const told: string[] = [];
  const scan = await scanMeshFolder(root, { maxFaces: 6, onSkip: (path) => told.push(path) });
  expect(scan.meshes.map((m) => m.path)).toEqual(["a/b/pyramid.glb", "a/pyramid.obj"]);
  expect(scan.skipped.map((s) => s.path)).toEqual(["a/broken.stl", "big.ply"]);
  expect(scan.skipped[1].reason).toBe("7 faces > maxFaces 6");
  expect(told).toEqual(["a/broken.stl", "big.ply"]);
});
