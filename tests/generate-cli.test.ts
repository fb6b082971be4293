/** `bun run sample.ts` / generateMeshes: flags, prompts, files and samples.json. */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { proceduralMesh } from "../src/data/procedural.ts";
import { parseFlags } from "../src/cli/flags.ts";
import { GenerateFlags } from "../src/generate/options.ts";
import { generateMeshes } from "../src/generate/run.ts";
import { readMesh, writeMesh } from "../src/mesh/io.ts";
import { faceCount } from "../src/mesh/mesh.ts";
import { writeTinyCheckpoint } from "./helpers.ts";

// Loading a checkpoint and decoding on lavapipe (a CPU Vulkan driver): about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

function run(args: string[]) {
  const p = Bun.spawnSync([process.execPath, "sample.ts", ...args], { cwd: join(import.meta.dir, ".."), stderr: "pipe", stdout: "pipe" });
  return { code: p.exitCode, stderr: p.stderr.toString() };
}

describe("flags", () => {
  test("an unknown flag or a bad value is one line and exit code 2", () => {
    for (const args of [["--checkpoint", "x", "--bogus", "1"], ["--checkpoint", "x", "--top-p", "2"], ["--checkpoint", "x", "--prompt-faces", "3"], []]) {
      const { code, stderr } = run(args);
      expect(code).toBe(2);
      expect(stderr.trim().split("\n")).toHaveLength(1);
    }
  });

  test("defaults: the reference's sampling, grammar on", () => {
    const { flags } = parseFlags(GenerateFlags, ["--checkpoint", "run"]);
    expect(flags).toMatchObject({ temperature: 1, topK: 50, topP: 0.95, grammar: true, strictOrder: false, format: "obj" });
    expect(parseFlags(GenerateFlags, ["--checkpoint", "run", "--no-grammar"]).flags.grammar).toBe(false);
  });
});

test("generates meshes from a checkpoint folder, completing a prompt mesh", async () => {
  const dir = mkdtempSync(join(tmpdir(), "iflame-generate-"));
  const checkpoint = await writeTinyCheckpoint(dir);
  const promptFile = join(dir, "prompt.obj");
  await writeMesh(promptFile, proceduralMesh(1, 0, 100).mesh);
  const out = join(dir, "out");
  const lines: string[] = [];
  const flags = parseFlags(GenerateFlags, [
    "--checkpoint", checkpoint, "--out", out, "--count", "3", "--batch", "2", "--prompt", promptFile, "--prompt-faces", "2",
    "--format", "ply", "--strict-order", "--steps-per-submit", "8",
  ]).flags;
  const summary = await generateMeshes(flags, (line) => lines.push(line));
  expect(readdirSync(out).sort()).toEqual(["sample-0000.ply", "sample-0001.ply", "sample-0002.ply", "samples.json"]);
  expect(summary.valid).toBe(3);
  const index = await Bun.file(join(out, "samples.json")).json();
  expect(index.samples.map((s: { seed: number }) => s.seed)).toEqual([0, 1, 2]);
  for (const s of index.samples) {
    expect(s).toMatchObject({ temperature: 1, topK: 50, topP: 0.95, valid: true, finished: true });
    expect(s.faces).toBeGreaterThanOrEqual(2); // the prompt's faces, and whatever the model added
    expect(faceCount(await readMesh(join(out, s.file)))).toBe(s.faces);
  }
  expect(lines.some((l) => l.startsWith("cache per sequence:"))).toBe(true);
  expect(lines.filter((l) => l.startsWith("batch "))).toHaveLength(2);
});
