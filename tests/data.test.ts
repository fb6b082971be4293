import { afterAll, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Batcher, evalBatches, type SequenceSource } from "../src/data/batcher.ts";
import { splitTrainVal } from "../src/data/dataset.ts";
import { openDataset, openShardedDataset } from "../src/data/index.ts";
import { PROCEDURAL_FAMILIES, proceduralMeshes } from "../src/data/procedural.ts";
import { openOrBuildShards, ShardDataset, writeShardCache } from "../src/data/shards.ts";
import { readShapeNetPickle } from "../src/data/shapenet.ts";
import { writeMesh } from "../src/mesh/io.ts";
import { faceCount } from "../src/mesh/mesh.ts";
import { normalizeMesh } from "../src/mesh/normalize.ts";
import { TOKENS, tokenizeMesh } from "../src/tokenizer/index.ts";

const dir = await mkdtemp(join(tmpdir(), "iflame-data-"));
afterAll(() => rm(dir, { recursive: true, force: true }));
const fixture = (name: string) => join(import.meta.dir, "fixtures", name);

interface ExpectedMesh { name: string; vertices: number[][]; faces: number[][] }

test("the MeshGPT ShapeNet pickle reads into named meshes, polygons kept, splits and category filter", async () => {
  const expected: { train: ExpectedMesh[]; val: ExpectedMesh[] } = await Bun.file(fixture("meshgpt-mini.json")).json();
  const splits = await readShapeNetPickle(fixture("meshgpt-mini.pkl"));
  for (const split of ["train", "val"] as const) {
    expect(splits[split].map((m) => m.name)).toEqual(expected[split].map((m) => m.name));
    splits[split].forEach(({ mesh }, i) => {
      expect(Array.from(mesh.vertices)).toEqual(expected[split][i].vertices.flat());
      const faces = Array.from({ length: faceCount(mesh) }, (_, f) => Array.from(mesh.faceIndices.subarray(mesh.faceStarts[f], mesh.faceStarts[f + 1])));
      expect(faces).toEqual(expected[split][i].faces);
    });
  }
  expect(faceCount(splits.train[1].mesh)).toBe(5); // the quad stays one face
  const chairs = await readShapeNetPickle(fixture("meshgpt-mini.pkl"), { category: "03001627" });
  expect(chairs.train.map((m) => m.name)).toEqual(["03001627_chair_a"]);
  expect(chairs.val.map((m) => m.name)).toEqual(["03001627_chair_c"]);
});

test("procedural meshes are deterministic per seed, cover every family and fit 800 tokenized faces", () => {
  const a = proceduralMeshes({ count: 120, seed: 7 });
  expect(proceduralMeshes({ count: 120, seed: 7 })).toEqual(a);
  expect(proceduralMeshes({ count: 120, seed: 8 })).not.toEqual(a);
  expect(proceduralMeshes({ count: 3, seed: 7 })).toEqual(a.slice(0, 3)); // mesh i depends on (seed, i) only
  const families = new Set(a.map((m) => m.name.split("-").at(-1)));
  expect([...families].sort()).toEqual(Object.keys(PROCEDURAL_FAMILIES).sort());
  for (const { mesh } of a) {
    const faces = tokenizeMesh(mesh).faceCount;
    expect(faces).toBeGreaterThan(0);
    expect(faces).toBeLessThanOrEqual(800);
  }
  for (const { mesh } of proceduralMeshes({ count: 40, seed: 1, maxFaces: 48 })) expect(tokenizeMesh(mesh).faceCount).toBeLessThanOrEqual(48);
});

test("splitTrainVal is seeded, disjoint and complete", () => {
  const items = Array.from({ length: 40 }, (_, i) => i);
  const split = splitTrainVal(items, 0.1, 3);
  expect(split.val.length).toBe(4);
  expect([...split.train, ...split.val].sort((x, y) => x - y)).toEqual(items);
  expect(splitTrainVal(items, 0.1, 3)).toEqual(split);
  expect(splitTrainVal(items, 0.1, 4)).not.toEqual(split);
  expect(splitTrainVal([1], 0.5, 0)).toEqual({ train: [1], val: [] });
});

const meshes = proceduralMeshes({ count: 24, seed: 11 });
const cachePath = join(dir, "procedural.shards");
const header = await writeShardCache(cachePath, meshes, { maxFaces: 150, source: { test: true } });

test("shard cache round trip: normalized meshes, stored tokens, augmentation from the stored mesh", async () => {
  const tooLong = meshes.filter((m) => tokenizeMesh(normalizeMesh(m.mesh)).faceCount > 150);
  expect(tooLong.length).toBeGreaterThan(0); // the bound below really filters something
  expect(header.dropped).toEqual({ tooLong: tooLong.length, unusable: 0 });
  for (const mmap of [false, true]) {
    const shards = await ShardDataset.open(cachePath, { mmap });
    const kept = meshes.filter((m) => !tooLong.includes(m));
    expect(shards.size).toBe(kept.length);
    kept.forEach((m, i) => {
      const normalized = normalizeMesh(m.mesh);
      expect(shards.name(i)).toBe(m.name);
      expect(shards.mesh(i)).toEqual(normalized);
      const tokens = tokenizeMesh(normalized);
      expect(shards.faceTokens(i)).toEqual(tokens.faceTokens);
      expect(shards.faceCount(i)).toBe(tokens.faceCount);
      const augmented = tokenizeMesh(normalized, { augment: { seed: 99 + i } });
      if (augmented.faceCount <= 150) expect(shards.faceTokens(i, 99 + i)).toEqual(augmented.faceTokens);
    });
  }
});

test("openOrBuildShards reuses a matching cache and rebuilds a stale or corrupt one", async () => {
  let builds = 0;
  const source = async () => (builds++, meshes);
  const path = join(dir, "reuse.shards");
  await openOrBuildShards(path, { maxFaces: 150, source: "a" }, source);
  await openOrBuildShards(path, { maxFaces: 150, source: "a" }, source);
  expect(builds).toBe(1);
  const rebuilt = await openOrBuildShards(path, { maxFaces: 400, source: "a" }, source);
  expect(builds).toBe(2);
  expect(rebuilt.header.config.maxFaces).toBe(400);
  await writeFile(path, "garbage that is not a cache");
  await expect(ShardDataset.open(path)).rejects.toThrow(`${path}: byte 0: not an iflame shard cache`);
  await openOrBuildShards(path, { maxFaces: 400, source: "a" }, source);
  expect(builds).toBe(3);
});

test("building a cache names every mesh it leaves out and why (issue 14: not just a count)", async () => {
  const told: string[] = [];
  await openOrBuildShards(join(dir, "named.shards"), { maxFaces: 150, source: "named" }, async () => meshes, { log: (line) => told.push(line) });
  const tooLong = meshes.filter((m) => tokenizeMesh(normalizeMesh(m.mesh)).faceCount > 150);
  for (const m of tooLong) expect(told).toContainEqual(expect.stringMatching(new RegExp(`^skipping ${m.name}: \\d+ faces after tokenization > maxFaces 150$`)));
});

/** A source whose item i has faces (i % 7) + 1, each face row filled with the value i. */
const fakeSource = (size: number): SequenceSource => ({
  size,
  faceCount: (i) => (i % 7) + 1,
  faceTokens: (i, seed) => new Int32Array(TOKENS.perFace * ((i % 7) + 1)).fill(seed === undefined ? i : (seed % 100) + 1),
});

test("batches use the reference layout: start row, faces, end row, pad rows to maxFaces + 2", async () => {
  const shards = await ShardDataset.open(cachePath);
  const batcher = new Batcher(shards, { batchSize: 3, maxFaces: 150, seed: 5, augment: false });
  const batch = batcher.next({ epoch: 0, position: 0 });
  const L = TOKENS.perFace * 152;
  expect(batch.rows).toBe(152);
  expect(batch.tokens.length).toBe(3 * L);
  batch.items.forEach((item, b) => {
    const seq = batch.tokens.subarray(b * L, (b + 1) * L);
    const faces = shards.faceCount(item);
    expect(Array.from(seq.subarray(0, 9))).toEqual(Array(9).fill(TOKENS.start));
    expect(seq.subarray(9, 9 * (faces + 1))).toEqual(shards.faceTokens(item));
    expect(Array.from(seq.subarray(9 * (faces + 1), 9 * (faces + 2)))).toEqual(Array(9).fill(TOKENS.end));
    expect(seq.subarray(9 * (faces + 2)).every((t) => t === TOKENS.pad)).toBe(true);
  });
});

test("shuffling is a seeded permutation per epoch; long meshes are filtered with a count", () => {
  const source = fakeSource(30);
  const batcher = new Batcher(source, { batchSize: 4, maxFaces: 6, seed: 1, augment: false });
  expect(batcher.filtered).toBe(4); // items 6, 13, 20, 27 have 7 faces
  expect(batcher.batchesPerEpoch).toBe(6); // 26 kept, the last 2 dropped each epoch
  const e0 = batcher.order(0), e1 = batcher.order(1);
  expect([...e0].sort((a, b) => a - b)).toEqual([...batcher.kept]);
  expect(e1).not.toEqual(e0);
  expect(new Batcher(source, { batchSize: 4, maxFaces: 6, seed: 1, augment: false }).order(1)).toEqual(e1);
  expect(new Batcher(source, { batchSize: 4, maxFaces: 6, seed: 2, augment: false }).order(0)).not.toEqual(e0);
});

test("a saved cursor resumes the exact batch stream, across epoch ends and with augmentation", () => {
  const make = () => new Batcher(fakeSource(30), { batchSize: 4, maxFaces: 6, seed: 3, augment: true });
  const straight = make();
  const stream: Int32Array[] = [];
  let cursor = { epoch: 0, position: 0 };
  let saved = cursor;
  for (let step = 0; step < 15; step++) {
    if (step === 5) saved = cursor; // what a checkpoint would store
    const batch = straight.next(cursor);
    stream.push(batch.tokens);
    cursor = batch.next;
  }
  expect(cursor.epoch).toBe(2); // 6 batches an epoch: crossed two epoch ends
  const resumed = make();
  for (let step = 5; step < 15; step++) {
    const batch = resumed.next(saved);
    expect(batch.tokens).toEqual(stream[step]);
    saved = batch.next;
  }
});

test("length bucketing pads to the longest sequence rounded up to bucketRows, capped at maxFaces + 2", () => {
  const source = fakeSource(30);
  const batcher = new Batcher(source, { batchSize: 4, maxFaces: 6, seed: 1, augment: false, bucketRows: 3 });
  for (let cursor = { epoch: 0, position: 0 }, i = 0; i < 6; i++) {
    const batch = batcher.next(cursor);
    const longest = Math.max(...Array.from(batch.items, (item) => source.faceCount(item)));
    expect(batch.rows).toBe(Math.min(8, Math.ceil((longest + 2) / 3) * 3));
    expect(batch.tokens.length).toBe(4 * 9 * batch.rows);
    cursor = batch.next;
  }
});

test("eval batches cover every kept mesh once, the last one padded with empty sequences", () => {
  const batches = [...evalBatches(fakeSource(10), { batchSize: 4, maxFaces: 6 })];
  expect(batches.map((b) => b.count)).toEqual([4, 4, 1]); // item 6 (7 faces) is left out
  const last = batches[2];
  const L = 9 * 8;
  expect(last.tokens[9]).toBe(9); // item 9's face rows
  expect(last.tokens.subarray(L).every((t) => t === TOKENS.pad)).toBe(true);
});

test("openDataset reads a folder, and openShardedDataset caches procedural splits", async () => {
  const folder = join(dir, "folder");
  await mkdir(join(folder, "sub"), { recursive: true });
  for (const [i, m] of meshes.slice(0, 4).entries()) await writeMesh(join(folder, i % 2 ? "sub" : "", `m${i}.${["obj", "ply", "stl", "glb"][i]}`), m.mesh);
  await Bun.write(join(folder, "bad.obj"), "f 1 2 3\n");
  const warn = console.warn;
  console.warn = () => {};
  const splits = await openDataset({ kind: "folder", path: folder }, { valFraction: 0.25 }).finally(() => (console.warn = warn));
  expect([...splits.train, ...splits.val].map((m) => m.name).sort()).toEqual(["m0.obj", "m2.stl", "sub/m1.ply", "sub/m3.glb"]);
  expect(splits.val.length).toBe(1);

  const sharded = await openShardedDataset({ kind: "procedural", count: 40, seed: 2 }, { maxFaces: 800, cacheDir: join(dir, "cache"), valFraction: 0.1 });
  expect([sharded.train.size, sharded.val.size]).toEqual([36, 4]);
  expect(sharded.train.header.config.source).toMatchObject({ spec: { kind: "procedural", count: 40, seed: 2 }, split: "train" });
});
