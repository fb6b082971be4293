/**
 * Hostile and careless mesh files (issue 14 items 1, 2, 3, 7; issue 17's OFF): every count is
 * bounded by the bytes present, glTF buffers are read only from inside the .gltf's folder, sizes
 * stay under the mesh budget, and every refusal is one line naming the file.
 */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readMesh, scanMeshFolder } from "../src/mesh/io.ts";
import { faceCount, vertexCount } from "../src/mesh/mesh.ts";

// Reading and refusing large meshes: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const dir = await mkdtemp(join(tmpdir(), "iflame-mesh-hard-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

async function file(name: string, data: string | Uint8Array): Promise<string> {
  const path = join(dir, name);
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, data);
  return path;
}

const TRIANGLE_BIN = new Uint8Array(new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]).buffer);
const b64 = Buffer.from(TRIANGLE_BIN).toString("base64");

/** A one-triangle glTF whose only buffer has `uri`. */
const gltfWithUri = (uri: string, byteLength = 36) => JSON.stringify({
  asset: { version: "2.0" },
  meshes: [{ primitives: [{ attributes: { POSITION: 0 } }] }],
  accessors: [{ bufferView: 0, componentType: 5126, count: 3, type: "VEC3" }],
  bufferViews: [{ buffer: 0, byteLength: 36 }],
  buffers: [{ uri, byteLength }],
});

test("binary PLY with a huge element count and no properties fails at once, naming the file", async () => {
  const header = "ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nelement junk 999999999999\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n";
  const path = await file("hang.ply", new Uint8Array([...new TextEncoder().encode(header), ...TRIANGLE_BIN, 3, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]));
  const started = performance.now();
  await expect(readMesh(path)).rejects.toThrow(/hang\.ply: element 'junk' count 999999999999 needs at least 999999999999 bytes, but only 13 are left/);
  expect(performance.now() - started).toBeLessThan(500);
  const ascii = await file("hang-ascii.ply", "ply\nformat ascii 1.0\nelement vertex 99999999999\nproperty float x\nproperty float y\nproperty float z\nend_header\n0 0 0\n");
  await expect(readMesh(ascii)).rejects.toThrow(/hang-ascii\.ply:9: file ends inside element 'vertex' \(1 of 99999999999 read\)/);
});

test("glTF buffer URIs that leave the folder are refused: ../, percent-encoded, absolute, file:, symlinks, devices", async () => {
  await file("secret.bin", TRIANGLE_BIN);
  await file("inner/ok.bin", TRIANGLE_BIN);
  await symlink(join(dir, "secret.bin"), join(dir, "inner", "link.bin"));
  await symlink("/dev/zero", join(dir, "inner", "zero.bin"));
  const cases: [string, RegExp][] = [
    ["../secret.bin", /leaves the folder of the \.gltf file/],
    ["%2e%2e/secret.bin", /leaves the folder of the \.gltf file/],
    ["..%2Fsecret.bin", /leaves the folder of the \.gltf file/],
    ["/etc/passwd", /leaves the folder/],
    ["%2fdev%2fzero", /leaves the folder/],
    ["file:///etc/passwd", /leaves the folder/],
    ["link.bin", /leaves the folder/],
    ["zero.bin", /leaves the folder/],
    [".", /leaves the folder/],
    ["%E0%A4%A", /uri '%E0%A4%A' is not valid percent-encoding/],
  ];
  for (const [uri, error] of cases) {
    const path = await file("inner/scene.gltf", gltfWithUri(uri));
    await expect(readMesh(path), uri).rejects.toThrow(error);
    await expect(readMesh(path)).rejects.toThrow(/scene\.gltf: /);
  }
  // Inside the folder it works, and only byteLength bytes are read (a longer file is fine).
  await file("inner/long.bin", new Uint8Array([...TRIANGLE_BIN, ...new Uint8Array(1000)]));
  expect(faceCount(await readMesh(await file("inner/good.gltf", gltfWithUri("long.bin"))))).toBe(1);
  expect(faceCount(await readMesh(await file("inner/data.gltf", gltfWithUri(`data:application/octet-stream;base64,${b64}`))))).toBe(1);
  // A folder or a device as the mesh itself.
  await symlink("/dev/zero", join(dir, "zero.obj"));
  await expect(readMesh(join(dir, "zero.obj"))).rejects.toThrow(/zero\.obj: not a regular file/);
});

test("glTF memory bombs: an accessor of 3e7 with no bufferView, stride 0, instancing a node 2^40 times", async () => {
  const bomb = JSON.stringify({ asset: { version: "2.0" }, meshes: [{ primitives: [{ attributes: { POSITION: 0 } }] }], accessors: [{ componentType: 5126, count: 30000000, type: "VEC3" }] });
  expect(bomb.length).toBeLessThan(200);
  await expect(readMesh(await file("bomb.gltf", bomb))).rejects.toThrow(/bomb\.gltf: glTF accessor 0 has 30000000 × 3 values, over the mesh budget of 16777216/);
  const stride = JSON.parse(gltfWithUri(`data:application/octet-stream;base64,${b64}`));
  stride.bufferViews[0].byteStride = 0;
  stride.accessors[0].count = 1e9;
  await expect(readMesh(await file("stride.gltf", JSON.stringify(stride)))).rejects.toThrow(/stride\.gltf: glTF JSON at bufferViews\.0\.byteStride/);
  // 40 nodes, each with its next one twice as children: 2^40 placements of one triangle.
  const tree = JSON.parse(gltfWithUri(`data:application/octet-stream;base64,${b64}`));
  tree.nodes = Array.from({ length: 40 }, (_, i) => (i === 39 ? { mesh: 0 } : { children: [i + 1, i + 1] }));
  tree.scenes = [{ nodes: [0] }];
  await expect(readMesh(await file("tree.gltf", JSON.stringify(tree)))).rejects.toThrow(/tree\.gltf: glTF scene places more than 65536 nodes/);
});

test("coordinates outside float32 are one line naming the file, the line and the rule", async () => {
  await expect(readMesh(await file("e39.obj", "v 0 0 0\nv 1e39 0 0\nv 0 1 0\nf 1 2 3\n"))).rejects.toThrow(
    /e39\.obj:2: vertex coordinate is not a finite number: 'v 1e39 0 0' \(coordinates must be finite float32 numbers/,
  );
  await expect(readMesh(await file("e39.off", "OFF\n3 1 0\n0 0 0\n1e300 0 0\n0 1 0\n3 0 1 2\n"))).rejects.toThrow(/e39\.off:4: vertex 1 coordinate is not a finite number/);
});

const OFF_CUBE_SIDE = "OFF\n# a square and a triangle\n5 2 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0 # trailing comment\n0.5 0.5 1\n4 0 1 2 3\n3 0 1 4\n";

test("OFF: header, counts, vertices, polygon faces, comments; COFF/NOFF extra columns; counts on the header line", async () => {
  const mesh = await readMesh(await file("square.off", OFF_CUBE_SIDE));
  expect(vertexCount(mesh)).toBe(5);
  expect(Array.from(mesh.faceStarts)).toEqual([0, 4, 7]);
  expect(Array.from(mesh.faceIndices)).toEqual([0, 1, 2, 3, 0, 1, 4]);
  const coff = await readMesh(await file("c.off", "COFF\n3 1 3\n0 0 0 255 0 0 255\n1 0 0 0 255 0 255\n0 1 0 0 0 255 255\n3 0 1 2 0.5 0.5 0.5\n"));
  expect(Array.from(coff.vertices)).toEqual([0, 0, 0, 1, 0, 0, 0, 1, 0]);
  const noff = await readMesh(await file("n.off", "NOFF 3 1 0\n0 0 0 0 0 1\n1 0 0 0 0 1\n0 1 0 0 0 1\n3 2 1 0\n"));
  expect(Array.from(noff.faceIndices)).toEqual([2, 1, 0]);
  const scan = await scanMeshFolder(await (async () => { await file("scan/a.off", OFF_CUBE_SIDE); return join(dir, "scan"); })());
  expect(scan.meshes.map((m) => m.path)).toEqual(["a.off"]);
});

test("OFF errors are bounded and name the file and line", async () => {
  const cases: [string, RegExp][] = [
    ["PLY\n3 1\n", /x\.off:1: not an OFF file/],
    ["OFF\n3\n", /x\.off:2: OFF counts line must be 'vertices faces \[edges\]'/],
    ["OFF\n99999999999 1 0\n0 0 0\n", /x\.off: OFF vertex count 99999999999 needs at least 99999999999 lines, but only 1 are left/],
    ["OFF\n3 1000000 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", /x\.off: OFF vertex and face count 1000003 needs at least 1000003 lines/],
    ["OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 3\n", /x\.off:6: face 0 corner '3' is not a vertex index \(0 to 2\)/],
    ["OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n99999999 0 1 2\n", /x\.off:6: face 0 says 99999999 corners but lists 3 values/],
    ["OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n2 0 1\n", /x\.off:6: face 0 must start with its corner count \(at least 3\)/],
    ["OFF\n3 1 0\n0 0\n1 0 0\n0 1 0\n3 0 1 2\n", /x\.off:3: vertex 0 needs 3 coordinates/],
    ["OFF\n3 0 0\n0 0 0\n1 0 0\n0 1 0\n", /x\.off: empty mesh/],
  ];
  for (const [text, error] of cases) await expect(readMesh(await file("x.off", text)), text).rejects.toThrow(error);
});

test("tokenize reads OFF; a mesh of only degenerate faces says 'no faces left' and exits 1 without writing", async () => {
  const run = (...args: string[]) => Bun.spawnSync([process.execPath, join(import.meta.dir, "..", "iflame.ts"), ...args], { stdout: "pipe", stderr: "pipe" });
  const ok = run("tokenize", await file("t.off", OFF_CUBE_SIDE));
  expect(ok.exitCode).toBe(0);
  expect(ok.stdout.toString()).toContain("input:  5 vertices, 2 faces");
  const out = join(dir, "degenerate-out.obj");
  const bad = run("tokenize", await file("degenerate.obj", "v 0 0 0\nv 0 0 0\nv 0 0 0\nf 1 2 3\n"), "--out", out);
  expect(bad.exitCode).toBe(1);
  expect(bad.stderr.toString()).toMatch(/degenerate\.obj: no faces left after merging vertices and dropping degenerate faces \(1 read\)/);
  expect(await Bun.file(out).exists()).toBe(false);
});
