/** The built-in shapes dataset, its fixed split, `iflame dataset export`, and the small preset. */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDataset, openShardedDataset } from "../src/data/index.ts";
import { geometryToMesh } from "../src/data/procedural.ts";
import { SeededRandom } from "../src/data/random.ts";
import { Assembly, DETAIL_LEVELS } from "../src/data/shapes/assembly.ts";
import { SHAPE_FAMILIES } from "../src/data/shapes/families.ts";
import { firstShapes, shapeMesh, shapeMeshes, shapeSplit } from "../src/data/shapes/index.ts";
import { fanTriangles } from "../src/mesh/formats/triangulate.ts";
import { readMesh } from "../src/mesh/io.ts";
import { faceCount, type Mesh } from "../src/mesh/mesh.ts";
import { weldVertices } from "../src/mesh/weld.ts";
import { loadModelConfig, sequenceLength } from "../src/model/config.ts";
import { detokenize, tokenizeMesh } from "../src/tokenizer/index.ts";

// Building and caching the shapes dataset: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const dir = mkdtempSync(join(tmpdir(), "iflame-shapes-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

/**
 * Closed and consistently wound: every directed edge a→b is matched by as many b→a (true of a
 * union of closed oriented parts, and kept by vertex merges that drop degenerate faces).
 * Returns the signed volume, positive when the faces point outwards.
 */
function closedVolume(mesh: Mesh): number {
  const t = fanTriangles(mesh), v = mesh.vertices;
  const edges = new Map<number, number>();
  const n = mesh.vertices.length / 3;
  let volume = 0;
  for (let i = 0; i < t.length; i += 3) {
    for (let k = 0; k < 3; k++) {
      const key = t[i + k] * n + t[i + ((k + 1) % 3)];
      edges.set(key, (edges.get(key) ?? 0) + 1);
    }
    const [a, b, c] = [3 * t[i], 3 * t[i + 1], 3 * t[i + 2]];
    volume += (v[a] * (v[b + 1] * v[c + 2] - v[b + 2] * v[c + 1]) - v[a + 1] * (v[b] * v[c + 2] - v[b + 2] * v[c]) + v[a + 2] * (v[b] * v[c + 1] - v[b + 1] * v[c])) / 6;
  }
  for (const [key, count] of edges) {
    const reverse = (key % n) * n + Math.floor(key / n);
    if (edges.get(reverse) !== count) throw new Error(`edge ${Math.floor(key / n)}→${key % n} used ${count}× but its reverse ${edges.get(reverse) ?? 0}×`);
  }
  return volume;
}

test("every family at every detail level is a closed, outward-facing mesh; detail only changes tessellation", () => {
  for (const [name, family] of Object.entries(SHAPE_FAMILIES)) {
    for (let seed = 0; seed < 4; seed++) {
      const faces: number[] = [];
      const extents: string[] = [];
      for (let detail = 0; detail < DETAIL_LEVELS; detail++) {
        const mesh = geometryToMesh(family(new SeededRandom(seed), new Assembly(detail)));
        expect({ name, detail, outward: closedVolume(mesh) > 0 }).toEqual({ name, detail, outward: true });
        faces.push(faceCount(mesh));
        // Same proportions at every level: the box extent along y (round parts never set it alone) is level-independent.
        let top = -Infinity;
        for (let i = 1; i < mesh.vertices.length; i += 3) top = Math.max(top, mesh.vertices[i]);
        extents.push(top.toFixed(4));
      }
      expect(faces).toEqual([...faces].sort((a, b) => a - b)); // coarser never has more faces
      if (name !== "lamp") expect(new Set(extents).size).toBe(1); // a globe shade's top is a tessellated curve
    }
  }
  expect(() => new Assembly(DETAIL_LEVELS)).toThrow("detail must be an integer");
});

test("shapes fit the face budget after tokenization, stay closed through it, and are deterministic", () => {
  for (const [maxFaces, minFamilies] of [[48, 4], [400, 11], [800, 11]] as const) {
    const families = new Set<string>();
    for (let i = 0; i < 120; i++) {
      const { name, mesh } = shapeMesh(i, maxFaces);
      const tokens = tokenizeMesh(mesh);
      expect(tokens.faceCount).toBeGreaterThan(0);
      expect(tokens.faceCount).toBeLessThanOrEqual(maxFaces);
      if (i % 10 === 0) closedVolume(weldVertices(detokenize(tokens.faceTokens))); // throws if quantization opened it
      families.add(name.split("-")[1]);
    }
    expect(families.size).toBeGreaterThanOrEqual(minFamilies);
  }
  expect(shapeMesh(17, 400)).toEqual(shapeMesh(17, 400));
  expect(shapeMesh(17, 400).name).toBe(shapeMesh(17, 800).name); // the budget picks detail, not the object
});

test("the split is fixed by index, disjoint, and about 90 / 5 / 5", () => {
  // Pinned: changing these changes every held-out evaluation set.
  const test = Array.from({ length: 200 }, (_, i) => i).filter((i) => shapeSplit(i) === "test");
  expect(test.slice(0, 6)).toEqual([23, 55, 62, 81, 156, 167]);
  const count = 600;
  const parts = (["train", "val", "test"] as const).map((split) => shapeMeshes({ count, maxFaces: 800, split }).map((m) => m.name));
  const all = parts.flat();
  expect(new Set(all).size).toBe(count);
  const [train, val, held] = parts.map((p) => p.length / count);
  expect(train).toBeGreaterThan(0.85);
  expect(val).toBeGreaterThan(0.02);
  expect(held).toBeGreaterThan(0.02);
  expect(firstShapes({ count: 3, maxFaces: 800, split: "test" }).map((m) => m.name)).toEqual(parts[2].slice(0, 3));
});

test("--data shapes opens as train and val splits and caches shards", async () => {
  const splits = await openDataset({ kind: "shapes", count: 80 }, { maxFaces: 400 });
  expect(splits.train.map((m) => m.name)).toEqual(shapeMeshes({ count: 80, maxFaces: 400, split: "train" }).map((m) => m.name));
  expect(splits.val.length).toBeGreaterThan(0);
  const sharded = await openShardedDataset({ kind: "shapes", count: 80 }, { maxFaces: 400, cacheDir: join(dir, "cache") });
  expect(sharded.train.size).toBe(splits.train.length);
  expect(sharded.val.header.names).toEqual(splits.val.map((m) => m.name));
});

test("iflame dataset export writes the held-out shapes as mesh files", async () => {
  const run = (...args: string[]) => Bun.spawnSync([process.execPath, join(import.meta.dir, "..", "iflame.ts"), "dataset", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  const out = join(dir, "held-out");
  const ok = run("export", "--data", "shapes", "--config", "tiny", "--count", "4", "--format", "ply", "--out", out);
  expect(ok.stderr.toString()).toBe("");
  expect(ok.stdout.toString()).toContain("wrote 4 test meshes of shapes (max 48 faces)");
  const expected = firstShapes({ count: 4, maxFaces: 48, split: "test" });
  expect(readdirSync(out).sort()).toEqual(expected.map((m) => `${m.name.replace("/", "_")}.ply`).sort());
  const back = await readMesh(join(out, `${expected[0].name.replace("/", "_")}.ply`));
  expect(tokenizeMesh(back).faceTokens).toEqual(tokenizeMesh(expected[0].mesh).faceTokens);

  const noTest = run("export", "--data", "procedural", "--out", out);
  expect(noTest.exitCode).toBe(2);
  expect(noTest.stderr.toString()).toContain("--split test: only the built-in shapes have a held-out test split");
  expect(run("bogus", "--out", out).stderr.toString()).toContain("unknown action 'bogus' (actions: export)");
});

test("the small preset sits between tiny and shapenet", async () => {
  const [tiny, small, shapenet] = await Promise.all(["tiny", "small", "shapenet"].map(loadModelConfig));
  expect(small.dim).toBeGreaterThan(tiny.dim);
  expect(small.dim).toBeLessThan(shapenet.dim);
  expect(small.maxFaces).toBeGreaterThan(tiny.maxFaces);
  expect(small.maxFaces).toBeLessThan(shapenet.maxFaces);
  expect(sequenceLength(small)).toBe(9 * 402);
});
