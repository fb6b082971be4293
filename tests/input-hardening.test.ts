/**
 * Issue 14 items 6 and 8: generation refuses --max-faces past the checkpoint's positions and
 * weights that are not finite; the viewer answers only its own loopback Host (DNS rebinding);
 * flag help says what --no-<flag> does; a repeated flag is refused.
 */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { formatFlagHelp, parseFlags } from "../src/cli/flags.ts";
import { initParams, paramSpecs } from "../src/model/params.ts";
import { GenerateFlags } from "../src/generate/options.ts";
import { generateMeshes } from "../src/generate/run.ts";
import { encodeSafetensors } from "../src/interop/safetensors.ts";
import { writeMesh } from "../src/mesh/io.ts";
import { triangleMesh } from "../src/mesh/mesh.ts";
import { ModelConfigSchema } from "../src/model/config.ts";
import { startViewer } from "../src/viewer/server.ts";

// Reading and refusing files: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(10_000);

const dir = mkdtempSync(join(tmpdir(), "iflame-input-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function checkpoint(name: string, poison: boolean): Promise<string> {
  const config = ModelConfigSchema.parse({ name: "t", dim: 32, heads: 1, blocksPerLevel: [1, 1, 2, 1, 1], fullPeriod: 2, vocab: 132, maxFaces: 8 });
  const params = initParams(config, 1);
  if (poison) params["embedding.weight"][5] = Number.NaN;
  const tensors = Object.fromEntries(paramSpecs(config).map(({ name, shape }) => [name, { shape, data: params[name] }]));
  const path = join(dir, name, "model.safetensors");
  await Bun.write(path, encodeSafetensors(tensors, { config: JSON.stringify(config) }));
  return join(dir, name);
}

const generate = (args: string[]) => generateMeshes(parseFlags(GenerateFlags, args).flags, () => {});

test("generate: --max-faces past the checkpoint's maxFaces and non-finite weights are refused before decoding", async () => {
  const good = await checkpoint("good", false);
  await expect(generate(["--checkpoint", good, "--out", join(dir, "out"), "--max-faces", "100000", "--count", "1"])).rejects.toThrow(
    /^--max-faces 100000: .*good\/model\.safetensors was trained on sequences of at most 8 faces \(its config's maxFaces\); ask for 8 or fewer$/,
  );
  const bad = await checkpoint("bad", true);
  await expect(generate(["--checkpoint", bad, "--out", join(dir, "out"), "--count", "1"])).rejects.toThrow(
    /bad\/model\.safetensors: embedding\.weight\[5\] is NaN; the weights are not finite/,
  );
});

/** A GET with an explicit Host header (fetch may not let a test choose it). */
function get(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers: { host } }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("the viewer answers only Host 127.0.0.1:<port> or localhost:<port>, and never serves a file outside its folder", async () => {
  const shown = join(dir, "shown");
  await writeMesh(join(shown, "tri.obj"), triangleMesh(new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]), new Uint32Array([0, 1, 2])));
  await Bun.write(join(shown, "evil.gltf"), JSON.stringify({
    asset: { version: "2.0" }, meshes: [{ primitives: [{ attributes: { POSITION: 0 } }] }],
    accessors: [{ bufferView: 0, componentType: 5126, count: 3, type: "VEC3" }], bufferViews: [{ buffer: 0, byteLength: 36 }],
    buffers: [{ uri: "..%2f..%2f..%2f..%2f..%2fetc%2fpasswd", byteLength: 36 }],
  }));
  const server = startViewer({ dir: shown, port: 0, limit: 10, pollMs: 1000 });
  try {
    const port = server.port!;
    expect((await get(port, "/api/state", `127.0.0.1:${port}`)).status).toBe(200);
    expect((await get(port, "/api/state", `localhost:${port}`)).status).toBe(200);
    for (const host of [`evil.example:${port}`, "127.0.0.1", `localhost:${port + 1}`, `127.0.0.1.evil.example:${port}`]) {
      const r = await get(port, "/api/mesh?path=tri.obj", host);
      expect(r.status, host).toBe(421);
      expect(r.body).toContain("is not this viewer");
    }
    await get(port, "/api/state", `127.0.0.1:${port}`); // lists the files, so /api/mesh may read them
    const evil = await get(port, "/api/mesh?path=evil.gltf", `127.0.0.1:${port}`);
    expect(evil.status).toBe(422);
    expect(evil.body).toMatch(/evil\.gltf: glTF buffer uri '\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd' leaves the folder/);
    expect(evil.body).not.toContain("root:");
  } finally {
    server.stop(true);
  }
});

test("flags: --no-<flag> help says it turns the flag off; a repeated flag is refused", () => {
  const help = formatFlagHelp(GenerateFlags);
  expect(help).toMatch(/--no-grammar\s+turn off: the grammar mask: only tokens that keep every sequence a valid token stream \(on by default\)/);
  const schema = z.object({ steps: z.coerce.number().optional(), augment: z.boolean().default(true) }).strict();
  expect(() => parseFlags(schema, ["--steps", "5", "--steps", "6"])).toThrow("--steps is given twice; give it once");
  expect(() => parseFlags(schema, ["--steps=5", "--steps", "6"])).toThrow("--steps is given twice");
  expect(() => parseFlags(schema, ["--no-augment", "--no-augment"])).toThrow("--no-augment and --augment are given together");
  expect(() => parseFlags(schema, ["--augment", "--no-augment"])).toThrow("--no-augment and --augment are given together");
  expect(() => parseFlags(schema, ["--no-augment", "--augment"])).toThrow("--augment is given twice");
  expect(parseFlags(schema, ["--steps", "5", "--no-augment"]).flags).toEqual({ steps: 5, augment: false });
});

test("a config, latest.json or state.json that is a device or a folder is refused, not read forever", async () => {
  const { loadModelConfig } = await import("../src/model/config.ts");
  const { latestCheckpoint, loadTrainState } = await import("../src/checkpoint/checkpoint.ts");
  const { symlink, mkdir } = await import("node:fs/promises");
  await expect(loadModelConfig("/dev/zero")).rejects.toThrow("config /dev/zero: not a regular file of at most 1 MiB");
  const run = join(dir, "devrun");
  await mkdir(join(run, "checkpoints", "step-00000001"), { recursive: true });
  await symlink("/dev/zero", join(run, "latest.json"));
  await expect(latestCheckpoint(run)).rejects.toThrow(/devrun\/latest\.json: the latest-checkpoint pointer is not a regular file/);
  await symlink("/dev/zero", join(run, "checkpoints", "step-00000001", "state.json"));
  await expect(loadTrainState(join(run, "checkpoints", "step-00000001"))).rejects.toThrow(/state\.json: the training state is not a regular file/);
});
