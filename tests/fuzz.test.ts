/**
 * Seeded fuzz suite for every reader (issue 14): mutations of valid OBJ, PLY (ascii, binary),
 * STL (ascii, binary), OFF, glTF (inline and external buffers), GLB, ShapeNet pickle, .pth,
 * safetensors and the JSON files (model config, latest.json, state.json). Each case must end
 * within 2 s and 512 MB of memory growth in a well-formed result or one error naming the file,
 * and no glTF may read a buffer outside its folder (a marker file sits beside the folder).
 *
 * IFLAME_FUZZ_SEED=<n> reproduces a run (the seed is printed); IFLAME_FUZZ_SCALE=<x> multiplies
 * the case counts (default 1: about 4,500 cases).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { latestCheckpoint, loadTrainState } from "../src/checkpoint/checkpoint.ts";
import { initParams, paramSpecs } from "../src/model/params.ts";
import { proceduralMesh } from "../src/data/procedural.ts";
import { readShapeNetPickle } from "../src/data/shapenet.ts";
import { loadTorchModel } from "../src/interop/convert.ts";
import { PyFloat, type PyValue, writePickle } from "../src/interop/pickle-writer.ts";
import { decodeSafetensors, encodeSafetensors } from "../src/interop/safetensors.ts";
import { encodeTorchCheckpoint } from "../src/interop/torch.ts";
import { MESH_BUDGET } from "../src/mesh/formats/errors.ts";
import { encodeGlb } from "../src/mesh/formats/gltf.ts";
import { encodeObj } from "../src/mesh/formats/obj.ts";
import { encodePly } from "../src/mesh/formats/ply.ts";
import { encodeStl } from "../src/mesh/formats/stl.ts";
import { readMesh } from "../src/mesh/io.ts";
import { faceCount, type Mesh, vertexCount } from "../src/mesh/mesh.ts";
import { loadModelConfig, ModelConfigSchema } from "../src/model/config.ts";
import { mutate, type MutateOptions, Rng } from "./fuzz/mutate.ts";

const SEED = Number(process.env.IFLAME_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const SCALE = Number(process.env.IFLAME_FUZZ_SCALE ?? 1);
console.log(`fuzz seed ${SEED} (reproduce with IFLAME_FUZZ_SEED=${SEED}), scale ${SCALE}`);

const MAX_MS = 2000;
const MAX_GROWTH = 512 << 20;
/** A coordinate only the marker buffer outside the glTF folder holds. */
const MARKER = 12345.5;

const root = join(tmpdir(), `iflame-fuzz-${process.pid}`);
const work = join(root, "case");
mkdirSync(work, { recursive: true });
afterAll(() => rmSync(root, { recursive: true, force: true }));
const secret = new Float32Array([MARKER, 0, 0, 0, MARKER, 0, 0, 0, MARKER]);
writeFileSync(join(root, "secret.bin"), new Uint8Array(secret.buffer));
symlinkSync(join(root, "secret.bin"), join(work, "link.bin"));
symlinkSync("/dev/zero", join(work, "zero.bin"));

/** Outcome counts per reader, printed at the end for docs/RELIABILITY.md. */
const figures: Record<string, { cases: number; parsed: number; refused: number; maxMs: number }> = {};

function checkMesh(mesh: Mesh): void {
  const V = vertexCount(mesh), F = faceCount(mesh);
  expect(F).toBeGreaterThan(0);
  expect(V).toBeLessThanOrEqual(MESH_BUDGET.vertices);
  expect(mesh.faceStarts[0]).toBe(0);
  expect(mesh.faceStarts[F]).toBe(mesh.faceIndices.length);
  for (let f = 0; f < F; f++) expect(mesh.faceStarts[f + 1] - mesh.faceStarts[f] >= 3).toBe(true);
  for (const i of mesh.faceIndices) if (i >= V) throw new Error(`index ${i} ≥ ${V} vertices`);
  for (const x of mesh.vertices) {
    if (!Number.isFinite(x)) throw new Error(`non-finite coordinate ${x}`);
    if (x === MARKER) throw new Error("read the marker buffer outside the glTF's folder");
  }
}

interface Reader {
  name: string;
  cases: number;
  seedFile: Uint8Array;
  /** Where the case is written; errors must name it. */
  path: string;
  mutation: MutateOptions;
  /** Reads the file; throws on refusal; checks a result it returns. */
  read: (path: string) => Promise<void> | void;
  /** What a refusal must contain besides the path (defaults to nothing more). */
  names?: string;
}

async function fuzz(reader: Reader, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const stats = (figures[reader.name] = { cases: 0, parsed: 0, refused: 0, maxMs: 0 });
  const baseline = process.memoryUsage.rss();
  const n = Math.max(1, Math.round(reader.cases * SCALE));
  for (let c = 0; c < n; c++) {
    const { bytes, what } = mutate(reader.seedFile, rng, reader.mutation);
    writeFileSync(reader.path, bytes);
    const label = `${reader.name} case ${c} (IFLAME_FUZZ_SEED=${SEED}; ${what.join(", ")})`;
    const started = performance.now();
    let error: unknown = null;
    try {
      await reader.read(reader.path);
    } catch (e) {
      error = e;
    }
    const ms = performance.now() - started;
    stats.cases++;
    stats.maxMs = Math.max(stats.maxMs, ms);
    if (ms > MAX_MS) throw new Error(`${label}: took ${ms.toFixed(0)} ms`);
    const growth = process.memoryUsage.rss() - baseline;
    if (growth > MAX_GROWTH) throw new Error(`${label}: memory grew by ${(growth / 2 ** 20).toFixed(0)} MB`);
    if (error === null) {
      stats.parsed++;
      continue;
    }
    const message = error instanceof Error ? error.message : String(error);
    if (!(error instanceof Error) || !message.includes(reader.path) || /[\x00-\x1f]/.test(message)) {
      throw new Error(`${label}: not one line naming the file: ${message}${error instanceof Error ? `\n${error.stack}` : ""}`);
    }
    if (/is not a function|undefined is not|null is not|cannot read properties|Maximum call stack/i.test(message)) {
      throw new Error(`${label}: an internal error leaked: ${message}`);
    }
    stats.refused++;
  }
}

// ---- Seed files ----

const base = proceduralMesh(5, 0, 40).mesh;
const text = (s: string) => new TextEncoder().encode(s);

function asciiPly(m: Mesh): string {
  const lines = [`ply`, `format ascii 1.0`, `comment fuzz seed`, `element vertex ${vertexCount(m)}`, `property float x`, `property float y`, `property float z`,
    `element face ${faceCount(m)}`, `property list uchar int vertex_indices`, `end_header`];
  for (let i = 0; i < vertexCount(m); i++) lines.push(Array.from(m.vertices.subarray(3 * i, 3 * i + 3)).join(" "));
  for (let f = 0; f < faceCount(m); f++) {
    const c = m.faceIndices.subarray(m.faceStarts[f], m.faceStarts[f + 1]);
    lines.push(`${c.length} ${Array.from(c).join(" ")}`);
  }
  return `${lines.join("\n")}\n`;
}

function asciiStl(m: Mesh): string {
  const lines = ["solid fuzz"];
  for (let f = 0; f < faceCount(m); f++) {
    const c = m.faceIndices.subarray(m.faceStarts[f], m.faceStarts[f + 1]);
    for (let k = 1; k + 1 < c.length; k++) {
      lines.push("facet normal 0 0 1", "outer loop");
      for (const i of [c[0], c[k], c[k + 1]]) lines.push(`vertex ${Array.from(m.vertices.subarray(3 * i, 3 * i + 3)).join(" ")}`);
      lines.push("endloop", "endfacet");
    }
  }
  return `${lines.join("\n")}\nendsolid fuzz\n`;
}

function off(m: Mesh): string {
  const lines = ["COFF", "# fuzz seed", `${vertexCount(m)} ${faceCount(m)} 0`];
  for (let i = 0; i < vertexCount(m); i++) lines.push(`${Array.from(m.vertices.subarray(3 * i, 3 * i + 3)).join(" ")} 255 0 0 255`);
  for (let f = 0; f < faceCount(m); f++) {
    const c = m.faceIndices.subarray(m.faceStarts[f], m.faceStarts[f + 1]);
    lines.push(`${c.length} ${Array.from(c).join(" ")}`);
  }
  return `${lines.join("\n")}\n`;
}

/** A glTF JSON over the GLB's binary chunk, as an external buffer.bin or a data: URI. */
function gltf(m: Mesh, external: boolean): { json: string; bin: Uint8Array } {
  const glb = encodeGlb(m);
  const view = new DataView(glb.buffer);
  const jsonLength = view.getUint32(12, true);
  const doc = JSON.parse(new TextDecoder().decode(glb.subarray(20, 20 + jsonLength)));
  const bin = glb.slice(20 + jsonLength + 8);
  doc.buffers[0].uri = external ? "buffer.bin" : `data:application/octet-stream;base64,${Buffer.from(bin).toString("base64")}`;
  return { json: JSON.stringify(doc), bin };
}

const GLTF_KEYS = ["count", "byteLength", "byteOffset", "byteStride", "bufferView", "buffer", "POSITION", "indices", "mesh", "mode", "componentType"] as const;

const inMemory = (read: (bytes: Uint8Array, path: string) => unknown) => async (path: string) => {
  read(new Uint8Array(await Bun.file(path).arrayBuffer()), path);
};

const meshReader = async (path: string) => checkMesh(await readMesh(path));

function meshReaders(): Reader[] {
  const external = gltf(base, true);
  writeFileSync(join(work, "buffer.bin"), external.bin);
  const ply = encodePly(base);
  return [
    { name: "OBJ", cases: 500, seedFile: text(encodeObj(base)), path: join(work, "case.obj"), mutation: { text: true }, read: meshReader },
    { name: "PLY ascii", cases: 500, seedFile: text(asciiPly(base)), path: join(work, "ascii.ply"), mutation: { text: true }, read: meshReader },
    { name: "PLY binary", cases: 500, seedFile: ply, path: join(work, "binary.ply"), mutation: { text: false, hotRange: [0, 260] }, read: meshReader },
    { name: "STL ascii", cases: 400, seedFile: text(asciiStl(base)), path: join(work, "ascii.stl"), mutation: { text: true }, read: meshReader },
    { name: "STL binary", cases: 400, seedFile: encodeStl(base), path: join(work, "binary.stl"), mutation: { text: false, hotRange: [76, 200] }, read: meshReader },
    { name: "OFF", cases: 500, seedFile: text(off(base)), path: join(work, "case.off"), mutation: { text: true }, read: meshReader },
    { name: "glTF data: URI", cases: 400, seedFile: text(gltf(base, false).json), path: join(work, "inline.gltf"), mutation: { text: true, sizeKeys: GLTF_KEYS, uris: true }, read: meshReader },
    { name: "glTF external", cases: 500, seedFile: text(external.json), path: join(work, "external.gltf"), mutation: { text: true, sizeKeys: GLTF_KEYS, uris: true }, read: meshReader },
    { name: "GLB", cases: 400, seedFile: encodeGlb(base), path: join(work, "case.glb"), mutation: { text: false, sizeKeys: GLTF_KEYS, hotRange: [0, 900] }, read: meshReader },
  ];
}

const SMALL = ModelConfigSchema.parse({ name: "fuzz", dim: 32, heads: 1, blocksPerLevel: [1, 1, 2, 1, 1], fullPeriod: 2, vocab: 132, maxFaces: 12 });

function otherReaders(): Reader[] {
  const tri = (k: number): PyValue => [[new PyFloat(0), new PyFloat(k), new PyFloat(0)], [new PyFloat(1), new PyFloat(0), new PyFloat(0)], [new PyFloat(0), new PyFloat(1), new PyFloat(0.5)]];
  const pickle = writePickle(new Map<string, PyValue>([
    ["name_train", ["03001627/a", "03001627/b"]], ["vertices_train", [tri(0), tri(2)]], ["faces_train", [[[0, 1, 2]], [[0, 2, 1]]]],
    ["name_val", ["04379243/c"]], ["vertices_val", [tri(3)]], ["faces_val", [[[0, 1, 2]]]],
  ]));
  const params = initParams(SMALL, 1);
  const named = paramSpecs(SMALL).map(({ name, shape }): [string, { shape: number[]; data: Float32Array }] => [name, { shape, data: params[name] }]);
  const pth = encodeTorchCheckpoint(named, { archiveName: "fuzz" });
  const safetensors = encodeSafetensors(
    Object.fromEntries(named.slice(0, 4).map(([n, t]) => [n, { shape: t.shape, data: t.data.subarray(0, t.shape.reduce((a, b) => a * b, 1)) }])),
    { format: "iflame", step: "3", config: JSON.stringify(SMALL) },
  );
  mkdirSync(join(work, "run", "checkpoints", "step-00000003"), { recursive: true });
  for (const f of ["model.safetensors", "optimizer.safetensors"]) writeFileSync(join(work, "run", "checkpoints", "step-00000003", f), safetensors);
  const state = { step: 3, totalSteps: 8, epoch: 0, cursor: 2, seed: 1, config: SMALL, options: { batch: 2 }, bestValLoss: null };
  writeFileSync(join(work, "run", "checkpoints", "step-00000003", "state.json"), JSON.stringify(state));
  return [
    { name: "ShapeNet pickle", cases: 400, seedFile: pickle, path: join(work, "shapenet.pkl"), mutation: { text: false }, read: async (path) => {
      const splits = await readShapeNetPickle(path, { onSkip: (_, reason) => expect(reason).toContain(path) });
      for (const m of [...splits.train, ...splits.val]) checkMesh(m.mesh);
    } },
    { name: ".pth", cases: 150, seedFile: pth, path: join(work, "model.pth"), mutation: { text: false, hotRange: [0, 6000] }, read: (path) => {
      const { params } = loadTorchModel(path);
      for (const t of params.values()) expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
    } },
    { name: "safetensors", cases: 400, seedFile: safetensors, path: join(work, "model.safetensors"), mutation: { text: false, sizeKeys: ["data_offsets", "shape"], hotRange: [0, 1200] }, read: inMemory((bytes, path) => decodeSafetensors(bytes, path)) },
    { name: "model config JSON", cases: 300, seedFile: text(JSON.stringify(SMALL, null, 1)), path: join(work, "config.json"), mutation: { text: true, sizeKeys: ["dim", "heads", "maxFaces", "fullPeriod"] }, read: async (path) => void (await loadModelConfig(path)) },
    { name: "latest.json", cases: 200, seedFile: text(JSON.stringify({ checkpoint: "checkpoints/step-00000003", step: 3 })), path: join(work, "run", "latest.json"), mutation: { text: true }, read: async () => {
      const dir = await latestCheckpoint(join(work, "run"));
      if (dir) await loadTrainState(dir);
    } },
    { name: "state.json", cases: 200, seedFile: text(JSON.stringify(state, null, 1)), path: join(work, "run", "checkpoints", "step-00000003", "state.json"), mutation: { text: true, sizeKeys: ["step", "cursor", "epoch"] }, read: async () => {
      await loadTrainState(join(work, "run", "checkpoints", "step-00000003"));
    } },
  ];
}

describe("fuzz", () => {
  const readers = [...meshReaders(), ...otherReaders()];
  readers.forEach((reader, i) => {
    test(`${reader.name}: ${Math.round(reader.cases * SCALE)} mutated files end cleanly`, async () => {
      await fuzz(reader, SEED + 7919 * i);
    }, 60_000);
  });
  test("figures", () => {
    const rows = Object.entries(figures).map(([name, f]) => `${name.padEnd(18)} ${String(f.cases).padStart(5)} cases  ${String(f.parsed).padStart(5)} parsed  ${String(f.refused).padStart(5)} refused  max ${f.maxMs.toFixed(0)} ms`);
    const total = Object.values(figures).reduce((s, f) => s + f.cases, 0);
    console.log(`fuzz seed ${SEED}: ${total} cases\n${rows.join("\n")}`);
    expect(total).toBeGreaterThan(0);
  });
});
