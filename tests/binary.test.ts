/**
 * The single binary: built once (scripts/build.ts), copied alone into an empty folder with no
 * node_modules and a fresh HOME, then run as a user would: info (the embedded Dawn library is
 * extracted and loaded), tokenize, a 5-step tiny training run, a generation from it, its
 * weights to a .pth and back, and the viewer on that run. The other platforms' binaries are
 * checked by tests/binary-targets.test.ts (opt-in: IFLAME_TEST_TARGETS=1; CI runs it).
 * Slow (a ~130 MiB build and training on the CPU driver); CI_SKIP_BINARY=1 skips it.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFile, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { buildBinary, HOST } from "../scripts/build.ts";
import { proceduralMesh } from "../src/data/procedural.ts";
import { writeMesh } from "../src/mesh/io.ts";
import { faceCount } from "../src/mesh/mesh.ts";

// The ~130 MiB binary starts (and extracts Dawn) in each test: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const skip = Boolean(process.env.CI_SKIP_BINARY);
if (skip) console.log("binary tests skipped: CI_SKIP_BINARY is set");

describe.skipIf(skip)("the iflame binary, alone in an empty folder", () => {
  let dir: string;
  let binary: string;
  /** Only the system's paths and driver settings: no bun, no node_modules, a HOME of its own. */
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "iflame-binary-"));
    binary = join(dir, "iflame");
    await copyFile(await buildBinary(), binary);
    await Bun.$`chmod +x ${binary}`;
    env = { PATH: "/usr/bin:/bin", HOME: join(dir, "home"), XDG_CACHE_HOME: join(dir, "home", ".cache") };
    for (const name of ["VK_DRIVER_FILES", "VK_ICD_FILENAMES", "IFLAME_ADAPTER", "CI"]) {
      if (process.env[name]) env[name] = process.env[name]!;
    }
    // The driver's shader cache is the machine's, not the binary's: with the fresh HOME's empty
    // one, lavapipe compiles every kernel again (minutes on a busy 2-core machine).
    env.MESA_SHADER_CACHE_DIR = process.env.MESA_SHADER_CACHE_DIR ?? process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache");
    await mkdir(env.HOME);
  }, 300_000);

  afterAll(() => rm(dir, { recursive: true, force: true }));

  function run(...args: string[]): { code: number; stdout: string; stderr: string } {
    const p = Bun.spawnSync([binary, ...args], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
    return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
  }

  test("the folder holds nothing but the binary", async () => {
    expect((await readdir(dir)).sort()).toEqual(["home", "iflame"]);
  });

  test("info: the embedded Dawn library, extracted to the cache, opens an adapter", () => {
    const r = run("info", "--json");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.standalone).toBe(true);
    expect(info.library.origin).toBe("Dawn (embedded in this binary)");
    expect(info.library.path).toStartWith(join(env.XDG_CACHE_HOME, "iflame"));
    expect(info.library.version).toStartWith(`${HOST!.dawn.package}@`);
    expect(info.adapter.backend).toBeString();
  });

  test("tokenize: the embedded WASM tokenizer", async () => {
    const { mesh } = proceduralMesh(5, 0, 100);
    await writeMesh(join(dir, "shape.ply"), mesh);
    const r = run("tokenize", "shape.ply", "--out", "decoded.obj");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${faceCount(mesh)} faces`);
    expect(await Bun.file(join(dir, "decoded.obj")).exists()).toBe(true);
  });

  test("train: 5 steps of the tiny config (embedded WGSL kernels and FFI shim)", async () => {
    const r = run("train", "--steps", "5", "--meshes", "8", "--batch", "2", "--out", "run", "--quiet");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("done: 5 steps in run");
    const rows = (await Bun.file(join(dir, "run", "metrics.jsonl")).text()).trim().split("\n").map((l) => JSON.parse(l));
    expect(rows.filter((m) => m.kind === "train")).toHaveLength(5);
    expect(await Bun.file(join(dir, "run", "latest.json")).json()).toMatchObject({ step: 5 });
  }, 120_000);

  test("generate: two meshes from the run's checkpoint into its samples/", async () => {
    const r = run("generate", "--checkpoint", "run", "--count", "2", "--batch", "2", "--max-faces", "8", "--out", "run/samples");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const index = await Bun.file(join(dir, "run", "samples", "samples.json")).json();
    expect(index.samples).toHaveLength(2);
  }, 300_000);

  test("export-torch and convert: the trained weights to a .pth and back", async () => {
    const exported = run("export-torch", "run", "model.pth");
    expect(exported.stderr).toBe("");
    expect(exported.code).toBe(0);
    const converted = run("convert", "model.pth", "converted", "--max-faces", "48", "--name", "tiny");
    expect(converted.stderr).toBe("");
    expect(converted.code).toBe(0);
    expect(await Bun.file(join(dir, "converted", "model.safetensors")).exists()).toBe(true);
  });

  test("view: the bundled page and the run's metrics", async () => {
    const p = Bun.spawn([binary, "view", "run"], { cwd: dir, env, stdout: "pipe" });
    try {
      const reader = p.stdout.getReader();
      let out = "";
      while (!out.includes("\n")) out += new TextDecoder().decode((await reader.read()).value);
      const url = out.match(/http:\/\/127\.0\.0\.1:\d+\//)![0];
      const html = await (await fetch(url)).text();
      const script = html.match(/<script[^>]+src="([^"]+)"/)![1];
      const js = await fetch(new URL(script, url));
      expect(js.status).toBe(200);
      expect((await js.text()).length).toBeGreaterThan(100_000); // three.js is in the bundle
      const metrics = await (await fetch(`${url}api/metrics?from=0`)).json();
      expect(metrics.rows.filter((m: { kind: string }) => m.kind === "train")).toHaveLength(5);
      const state = await (await fetch(`${url}api/state`)).json();
      expect(state.run.step).toBe(5);
      expect(state.totalMeshes).toBe(2); // the generated samples
    } finally {
      p.kill();
      await p.exited;
    }
  });
});
