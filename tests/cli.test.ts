/**
 * The `iflame` CLI as a user runs it (a child process per command line): help for every
 * command, usage errors as one stderr line with exit code 2, failures with exit code 1,
 * tokenize, info, view; and the flag parser underneath. (train, generate, convert and
 * export-torch run for real in tests/binary.test.ts, through the same code.)
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { UsageError, formatFlagHelp, parseFlags } from "../src/cli/flags.ts";
import { proceduralMesh } from "../src/data/procedural.ts";
import { readMesh, writeMesh } from "../src/mesh/io.ts";
import { faceCount, vertexCount } from "../src/mesh/mesh.ts";
import { packageMesh } from "./helpers.ts";

// Spawning the CLI (a Bun start each) and tokenizing real meshes: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const ROOT = join(import.meta.dir, "..");
const dir = await mkdtemp(join(tmpdir(), "iflame-cli-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

function run(...args: string[]): { code: number; stdout: string; stderr: string } {
  const p = Bun.spawnSync([process.execPath, join(ROOT, "iflame.ts"), ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

const COMMANDS = ["train", "generate", "eval", "tokenize", "dataset", "view", "bench", "info", "convert", "export-torch"];

describe("iflame", () => {
  test("with no command: the command list on stdout, exit code 2; --help: exit code 0", () => {
    const bare = run();
    expect(bare.code).toBe(2);
    for (const c of COMMANDS) expect(bare.stdout).toContain(`  ${c} `);
    expect(run("--help").code).toBe(0);
  });

  test.each(COMMANDS)("%s --help prints its usage and flags", (command) => {
    const r = run(command, "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith(`usage: iflame ${command}`);
  });

  test("train --help lists the trainer's flags from its schema, with defaults", () => {
    const help = run("train", "--help").stdout;
    expect(help).toContain("--batch <n>");
    expect(help).toContain("(default 4)");
    expect(help).toContain("--optimizer muon|adamw");
    expect(help).toContain("--no-augment");
    expect(help).toContain("--val-every <n>");
  });

  test.each([
    [["train", "--bogus", "1"], "iflame train: unknown flag --bogus"],
    [["train", "--batch", "x"], "iflame train: --batch: expected a number, got 'x'"],
    [["train", "--batch", "0"], "iflame train: --batch:"],
    [["train", "--optimizer", "sgd"], "iflame train: --optimizer:"],
    [["train", "--steps"], "iflame train: --steps needs a value"],
    [["train", "stray"], "iflame train: unexpected argument 'stray'"],
    [["generate"], "iflame generate: --checkpoint: "],
    [["tokenize"], "iflame tokenize: expected 1 argument, got 0"],
    [["tokenize", "a.obj", "--seed", "3"], "iflame tokenize: --seed only applies with --augment"],
    [["view", "no-such-folder"], "iflame view: no-such-folder: no such folder"],
    [["view", ".", "--port", "70000"], "iflame view: --port:"],
    [["bench", "disks"], "iflame bench: unknown suite 'disks'"],
    [["convert", "in.pth"], "iflame convert: expected 2 arguments, got 1"],
    [["export-torch", "run", "out.pth", "--layout", "onnx"], "iflame export-torch: --layout:"],
    [["frobnicate"], "iflame: unknown command 'frobnicate'"],
  ])("%p → exit code 2 and one line on stderr", (args, message) => {
    const r = run(...args);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toStartWith(message);
  });

  test("train.ts at the root is the same command", () => {
    const p = Bun.spawnSync([process.execPath, join(ROOT, "train.ts"), "--bogus"], { cwd: dir, stderr: "pipe" });
    expect(p.exitCode).toBe(2);
    expect(p.stderr.toString()).toStartWith("iflame train: unknown flag --bogus");
  });

  test("a failure is its message on stderr and exit code 1", () => {
    const r = run("export-torch", "nowhere", "out.pth");
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("iflame export-torch: nowhere: no model.safetensors and no latest.json");
  });

  test("tokenize reports the counts and writes the tokens and the decoded mesh", async () => {
    const { mesh } = proceduralMesh(3, 0, 100);
    const input = join(dir, "shape.obj");
    await writeMesh(input, mesh);
    const r = run("tokenize", input, "--tokens", "tokens.json", "--out", "decoded.ply");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`input:  ${vertexCount(mesh)} vertices, ${faceCount(mesh)} faces`);
    const rows: number[][] = await Bun.file(join(dir, "tokens.json")).json();
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row).toHaveLength(9);
      for (const t of row) expect(t >= 0 && t <= 128).toBe(true);
    }
    expect(faceCount(await readMesh(join(dir, "decoded.ply")))).toBe(rows.length);
    expect(run("tokenize", input, "--augment", "--seed", "5").stdout).toContain("(augmented, seed 5)");
  });

  test("tokenize works on bunny, teapot and a GLB written by our own exporter", async () => {
    for (const name of ["bunny", "teapot"] as const) {
      const mesh = packageMesh(name);
      const path = join(dir, `${name}.obj`);
      await writeMesh(path, mesh);
      const r = run("tokenize", path);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`input:  ${vertexCount(mesh)} vertices, ${faceCount(mesh)} faces`);
    }
    const glb = join(dir, "shape.glb");
    await writeMesh(glb, proceduralMesh(5, 1, 200).mesh);
    const r = run("tokenize", glb, "--tokens", "glb-tokens.json");
    expect(r.code).toBe(0);
    expect((await Bun.file(join(dir, "glb-tokens.json")).json()).length).toBeGreaterThan(0);
  });

  test("info --json names the WebGPU library, the adapter, features and limits", () => {
    const r = run("info", "--json");
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(existsSync(info.library.path) || !info.library.path.includes("/")).toBe(true);
    expect(info.library.origin).toBeString();
    expect(info.adapter.backend).toBeString();
    expect(info.features).toBeArray();
    expect(info.limits.maxComputeWorkgroupsPerDimension).toBeGreaterThan(0);
    expect(info.standalone).toBe(false);
  });

  test("view serves the folder on 127.0.0.1 and prints the URL", async () => {
    await writeMesh(join(dir, "meshes", "box.stl"), proceduralMesh(3, 1, 100).mesh);
    const p = Bun.spawn([process.execPath, join(ROOT, "iflame.ts"), "view", "meshes"], { cwd: dir, stdout: "pipe" });
    try {
      const reader = p.stdout.getReader();
      let out = "";
      while (!out.includes("\n")) out += new TextDecoder().decode((await reader.read()).value);
      const url = out.match(/http:\/\/127\.0\.0\.1:\d+\//)![0];
      const state = await (await fetch(`${url}api/state`)).json();
      expect(state.meshes.map((m: { path: string }) => m.path)).toEqual(["box.stl"]);
      expect((await fetch(url)).headers.get("content-type")).toContain("text/html");
    } finally {
      p.kill();
      await p.exited;
    }
  });
});

describe("parseFlags", () => {
  const schema = z
    .object({
      batchSize: z.coerce.number().int().positive().default(2).describe("rows"),
      name: z.string().optional(),
      color: z.boolean().default(true).describe("colour output"),
      mode: z.enum(["fast", "slow"]).default("fast"),
    })
    .strict();

  test("kebab-case flags, --flag=value, --no-flag, positionals between flags", () => {
    const { flags, positionals } = parseFlags(schema, ["in.obj", "--batch-size", "8", "--name=a=b", "--no-color", "out.obj"], [1, 2]);
    expect(flags).toEqual({ batchSize: 8, name: "a=b", color: false, mode: "fast" });
    expect(positionals).toEqual(["in.obj", "out.obj"]);
  });

  test("after a bare --, every argument is positional", () => {
    expect(parseFlags(schema, ["a", "--", "--mode", "warp"], [0, 9])).toEqual({ flags: { batchSize: 2, color: true, mode: "fast" }, positionals: ["a", "--mode", "warp"] });
  });

  test("defaults apply when flags are absent", () => {
    expect(parseFlags(schema, []).flags).toEqual({ batchSize: 2, color: true, mode: "fast" });
  });

  test.each([
    [["--size", "3"], "unknown flag --size"],
    [["--no-name"], "unknown flag --no-name"],
    [["--mode", "warp"], "--mode: "],
    [["--batch-size", "1.5"], "--batch-size: "],
    [["extra"], "unexpected argument 'extra'"],
  ])("%p is a UsageError: %s", (argv, message) => {
    expect(() => parseFlags(schema, argv)).toThrow(UsageError);
    expect(() => parseFlags(schema, argv)).toThrow(message);
  });

  test("help comes from the schema", () => {
    const help = formatFlagHelp(schema);
    expect(help).toContain("--batch-size <n>");
    expect(help).toContain("rows (default 2)");
    expect(help).toContain("--no-color");
    expect(help).toContain("--mode fast|slow");
  });
});
