/** `iflame eval` end to end on a handful of tiny meshes, `generate --eval-against`, and the viewer's eval table. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFlags } from "../src/cli/flags.ts";
import { proceduralMesh } from "../src/data/procedural.ts";
import { evaluateFolders } from "../src/eval/evaluate.ts";
import { EvalReportSchema } from "../src/eval/report.ts";
import { formatEvalTable } from "../src/eval/table.ts";
import { GenerateFlags } from "../src/generate/options.ts";
import { generateMeshes } from "../src/generate/run.ts";
import { writeMesh } from "../src/mesh/io.ts";
import type { ViewerState } from "../src/viewer/protocol.ts";
import { startViewer } from "../src/viewer/server.ts";
import { writeTinyCheckpoint } from "./helpers.ts";

// The eval CLI in a child process and a generation on lavapipe: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const ROOT = join(import.meta.dir, "..");
const dir = mkdtempSync(join(tmpdir(), "iflame-eval-"));
const generated = join(dir, "generated"), reference = join(dir, "reference");

function iflame(...args: string[]) {
  const p = Bun.spawnSync([process.execPath, join(ROOT, "iflame.ts"), ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

beforeAll(async () => {
  await mkdir(join(generated, "nested"), { recursive: true });
  await mkdir(reference);
  for (let i = 0; i < 3; i++) await writeMesh(join(generated, i === 2 ? "nested" : "", `g${i}.obj`), proceduralMesh(1, i, 100).mesh);
  await writeFile(join(generated, "broken.obj"), "v 0 0 0\nf 1 2 3\n");
  for (const [i, ext] of ["obj", "ply", "stl", "glb"].entries()) await writeMesh(join(reference, `r${i}.${ext}`), proceduralMesh(2, i, 100).mesh);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("iflame eval", () => {
  test("a table on stdout and the JSON report; a file that does not parse is counted, not fatal", async () => {
    const { code, stdout, stderr } = iflame("eval", "--generated", "generated", "--reference", "reference", "--points", "64", "--json", "eval.json");
    expect(stderr).toContain("3 generated and 4 reference meshes");
    expect(code).toBe(0);
    for (const row of ["MMD-CD", "COV-CD", "1-NNA-CD", "JSD", "files that parse", "watertight", "manifold", "degenerate faces", "duplicate faces"]) expect(stdout).toContain(row);
    const report = EvalReportSchema.parse(await Bun.file(join(dir, "eval.json")).json());
    expect(report.settings).toEqual({ points: 64, seed: 0, jsdResolution: 28 });
    expect(report.counts).toEqual({ generated: 3, reference: 4 });
    expect(report.generated).toMatchObject({ files: 4, parsed: 3, used: 3, validStreams: null, watertight: 100, manifold: 100 });
    expect(report.generated.unusable.map((u) => u.file)).toEqual(["broken.obj"]);
    expect(report.cov! % 25).toBe(0); // a share of 4 references
    expect(report.nna!).toBeGreaterThanOrEqual(0);
    expect(report.mmd!).toBeGreaterThan(0);
    expect(report.faceHistogram.generated.reduce((a, b) => a + b, 0)).toBe(3);
    expect(report.faceHistogram.reference.reduce((a, b) => a + b, 0)).toBe(4);
  });

  test("a set against itself: MMD 0, COV 100%, JSD 0, 1-NNA 0% (each mesh's twin is nearest)", async () => {
    const report = await evaluateFolders({ generated: reference, reference, points: 32, seed: 5 });
    expect(report).toMatchObject({ mmd: 0, cov: 100, jsd: 0, nna: 0 });
  });

  test("no usable generated mesh: validity figures only, the metrics null", async () => {
    const empty = join(dir, "empty");
    await mkdir(empty);
    await writeFile(join(empty, "broken.obj"), "f 1 2 3\n");
    const report = await evaluateFolders({ generated: empty, reference, points: 16, seed: 0 });
    expect(report).toMatchObject({ mmd: null, cov: null, nna: null, jsd: null, counts: { generated: 0, reference: 4 } });
    expect(report.generated).toMatchObject({ files: 1, parsed: 0 });
    expect(formatEvalTable(report)).toMatch(/MMD-CD \(×10³, lower is better\) +–\n/);
  });

  test("usage errors are one line with exit code 2; a missing folder names itself", () => {
    const missing = iflame("eval", "--generated", "generated");
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(iflame("eval", "--generated", "generated", "--reference", "reference", "--points", "0").code).toBe(2);
    const absent = iflame("eval", "--generated", "nowhere", "--reference", "reference");
    expect(absent.code).toBe(1);
    expect(absent.stderr).toContain("--generated nowhere: no such folder");
  });
});

test("generate --eval-against writes eval.json for the samples it wrote; the viewer serves it", async () => {
  const checkpoint = await writeTinyCheckpoint(dir);
  const prompt = join(generated, "g0.obj");
  const out = join(dir, "samples");
  // A mesh left by an earlier run in the same folder is not part of this run's eval.
  await mkdir(out);
  await writeMesh(join(out, "sample-0099.obj"), proceduralMesh(3, 0, 100).mesh);
  const flags = parseFlags(GenerateFlags, ["--checkpoint", checkpoint, "--out", out, "--count", "2", "--prompt", prompt, "--prompt-faces", "4", "--max-faces", "5", "--eval-against", reference]).flags;
  const lines: string[] = [];
  await generateMeshes(flags, (line) => lines.push(line));
  const report = EvalReportSchema.parse(await Bun.file(join(out, "eval.json")).json());
  expect(report.generated.validStreams).toEqual({ valid: 2, total: 2 });
  expect(report.generated.files).toBe(2);
  expect(report.settings.points).toBe(2048);
  expect(lines.some((l) => l.includes("MMD-CD"))).toBe(true);

  const viewer = startViewer({ dir: out, port: 0, limit: 8, pollMs: 1000 });
  const plain = startViewer({ dir: reference, port: 0, limit: 8, pollMs: 1000 });
  try {
    const state = (await (await fetch(new URL("api/state", viewer.url))).json()) as ViewerState;
    expect(state.eval).toEqual(report);
    expect(((await (await fetch(new URL("api/state", plain.url))).json()) as ViewerState).eval).toBeNull();
  } finally {
    viewer.stop(true);
    plain.stop(true);
  }
});

test("--eval-against must be a folder, checked before generating", async () => {
  const flags = parseFlags(GenerateFlags, ["--checkpoint", "nowhere", "--eval-against", join(dir, "nowhere")]).flags;
  await expect(generateMeshes(flags, () => {})).rejects.toThrow("--eval-against");
});
