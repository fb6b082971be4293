/** meshoptimizer behind simplifyMesh, the host Chamfer distance it reports with, and its uses: folder datasets, tokenize --max-faces. */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SphereGeometry } from "three";
import type { Splits } from "../src/data/dataset.ts";
import { openShardedDataset } from "../src/data/index.ts";
import type { ShardDataset } from "../src/data/shards.ts";
import { SeededRandom } from "../src/data/random.ts";
import { geometryToMesh, proceduralMesh } from "../src/data/procedural.ts";
import { readMesh, writeMesh } from "../src/mesh/io.ts";
import { faceCount, triangleMesh } from "../src/mesh/mesh.ts";
import { chamferHost } from "../src/eval/chamfer-host.ts";
import { samplePoints } from "../src/eval/points.ts";
import { normalizeMesh } from "../src/mesh/normalize.ts";
import { simplifyMesh } from "../src/mesh/simplify.ts";
import { tokenizeMesh } from "../src/tokenizer/index.ts";
import { packageMesh } from "./helpers.ts";

// Simplifying real meshes: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

test("chamferHost sums the two mean squared nearest-point distances", () => {
  const a = new Float32Array([0, 0, 0, 1, 0, 0]);
  const b = new Float32Array([0, 0, 0, 0, 3, 0, 1, 4, 0]);
  expect(chamferHost(a, a)).toBe(0);
  // a → b: 0 and 1 (mean 0.5); b → a: 0, 9 and 16 (mean 25/3).
  expect(chamferHost(a, b)).toBeCloseTo(0.5 + 25 / 3, 12);
  expect(chamferHost(b, a)).toBe(chamferHost(a, b));
  expect(() => chamferHost(a, new Float32Array(0))).toThrow("empty point cloud");
});

test("simplifyMesh brings the bunny and a fine sphere under the limit with a small Chamfer error", async () => {
  const bunny = packageMesh("bunny"); // 3674 triangles
  // Two 2048-point samplings of one surface already measure ≈ 6.9e-4 (bunny) and 9.5e-4 (sphere):
  // the tolerance is a factor over that sampling floor.
  const cases = [
    { mesh: bunny, limit: 800, factor: 1.15 },
    { mesh: bunny, limit: 200, factor: 1.6 },
    { mesh: geometryToMesh(new SphereGeometry(1, 64, 40)), limit: 400, factor: 1.15 },
  ];
  for (const { mesh, limit, factor } of cases) {
    const floor = chamferHost(samplePoints(mesh, 2048, 1), samplePoints(mesh, 2048, 3));
    expect(faceCount(mesh)).toBeGreaterThan(3 * limit);
    const s = await simplifyMesh(mesh, limit);
    expect(s.path).toBe("topology");
    expect(s.inputTriangles).toBe(faceCount(mesh));
    expect(s.triangles).toBeLessThanOrEqual(limit);
    expect(s.triangles).toBeGreaterThan(0.9 * limit);
    expect(faceCount(s.mesh)).toBe(s.triangles);
    expect(tokenizeMesh(s.mesh).faceCount).toBeLessThanOrEqual(limit);
    expect(s.chamfer).toBeLessThan(floor * factor);
    expect(s.chamfer).toBeGreaterThan(0);
  }
});

test("a mesh within the limit comes back whole; a non-manifold tangle falls through to the sloppy simplifier", async () => {
  const bunny = packageMesh("bunny");
  const same = await simplifyMesh(bunny, 4000);
  expect([same.triangles, same.chamfer, faceCount(same.mesh)]).toEqual([3674, 0, 3674]);

  // 3000 triangles among near neighbours of a helix of 1000 points: edges shared by many
  // triangles, so edge collapses stop early and Prune removes everything.
  const r = new SeededRandom(3);
  const n = 1000;
  const vertices = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) vertices.set([Math.cos((6 * Math.PI * i) / n), Math.sin((6 * Math.PI * i) / n), i / n], 3 * i);
  const triangles = new Uint32Array(3 * 3000);
  for (let t = 0; t < 3000; t++) {
    const a = r.int(0, n - 4);
    const b = a + r.int(1, 3);
    triangles.set([a, b, b === a + 3 ? a + 1 : b + 1], 3 * t);
  }
  const s = await simplifyMesh(triangleMesh(vertices, triangles), 400);
  expect(s.path).toBe("sloppy");
  expect(s.triangles).toBeLessThanOrEqual(400);
  expect(s.triangles).toBeGreaterThan(0);

  await expect(simplifyMesh(bunny, 0)).rejects.toThrow("positive integer");
});

describe("meshes over the face limit", () => {
  const dir = mkdtempSync(join(tmpdir(), "iflame-simplify-"));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const bunny = packageMesh("bunny");

  test("a folder dataset simplifies them by default and reports it; --no-simplify leaves them out by name", async () => {
    const folder = join(dir, "meshes");
    await writeMesh(join(folder, "bunny.obj"), bunny);
    for (let i = 0; i < 3; i++) await writeMesh(join(folder, `small-${i}.obj`), proceduralMesh(4, i, 100).mesh);
    const total = (s: Splits<ShardDataset>) => s.train.size + s.val.size;
    const both = (s: Splits<ShardDataset>) => [s.train.header, s.val.header];

    const logs: string[] = [];
    const kept = await openShardedDataset({ kind: "folder", path: folder }, { maxFaces: 200, cacheDir: join(dir, "cache"), log: (l) => logs.push(l) });
    expect(total(kept)).toBe(4);
    const [counted] = both(kept).filter((h) => h.names.includes("bunny.obj"));
    expect(counted.config.simplify).toBe(true);
    expect(counted.simplified).toMatchObject({ topology: 1, prune: 0, sloppy: 0 });
    expect(counted.simplified.chamferMax).toBeGreaterThan(0);
    expect(counted.simplified.chamferMax).toBeLessThan(2e-3); // the bunny at 200 triangles: ≈ 9e-4
    expect(logs.join("\n")).toContain("simplified 1 meshes over 200 faces (topology 1); Chamfer distance to the originals mean");
    const split = kept.train.header === counted ? kept.train : kept.val;
    expect(split.faceCount(split.header.names.indexOf("bunny.obj"))).toBeLessThanOrEqual(200);

    logs.length = 0;
    const dropped = await openShardedDataset({ kind: "folder", path: folder }, { maxFaces: 200, cacheDir: join(dir, "cache"), simplify: false, log: (l) => logs.push(l) });
    expect(total(dropped)).toBe(3);
    expect(both(dropped).map((h) => h.dropped.tooLong)).toContain(1);
    expect(logs).toContain(`skipping bunny.obj: ${tokenizeMesh(normalizeMesh(bunny)).faceCount} faces after tokenization > maxFaces 200`);
  });

  test("iflame tokenize --max-faces writes tokens of at most that many faces", async () => {
    const input = join(dir, "bunny.ply");
    await writeMesh(input, bunny);
    const p = Bun.spawnSync([process.execPath, join(import.meta.dir, "..", "iflame.ts"), "tokenize", input, "--max-faces", "300", "--tokens", "t.json", "--out", "t.obj"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    expect(p.stderr.toString()).toBe("");
    expect(p.exitCode).toBe(0);
    expect(p.stdout.toString()).toMatch(/simplified \(topology\): 3674 tokenized faces > 300, 3674 → \d+ triangles, Chamfer distance \d\.\d+e-4/);
    const rows: number[][] = await Bun.file(join(dir, "t.json")).json();
    expect(rows.length).toBeGreaterThan(250);
    expect(rows.length).toBeLessThanOrEqual(300);
    expect(faceCount(await readMesh(join(dir, "t.obj")))).toBe(rows.length);
  });
});
