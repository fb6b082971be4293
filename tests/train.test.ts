import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeSafetensors } from "../src/interop/safetensors.ts";
import { loadModelConfig } from "../src/model/config.ts";
import { latestCheckpoint } from "../src/checkpoint/checkpoint.ts";
import { parseTrainArgs } from "../src/train/options.ts";
import { NonFiniteError, train, type TrainResult } from "../src/train/trainer.ts";

// Whole training runs on lavapipe: seconds each on an idle 2-core machine, the overfit one ~25 s.
setDefaultTimeout(120_000);

const silent = () => {};
const tmp = (name: string) => mkdtempSync(join(tmpdir(), `iflame-${name}-`));

/** The smallest network the kernels take (dim 32, 6 blocks, ≤ 16 faces), no augmentation. */
const MICRO = join(import.meta.dir, "fixtures/micro-config.json");
/** On `meshes` procedural meshes (one of them for validation). */
function options(out: string, extra: string[], { meshes = 5, batch = 4 } = {}) {
  return parseTrainArgs(["--config", MICRO, "--meshes", String(meshes), "--batch", String(batch), "--no-augment", "--quiet", "--out", out, ...extra]);
}

async function metrics(runDir: string): Promise<{ kind: string; step: number; loss: number }[]> {
  const text = await Bun.file(join(runDir, "metrics.jsonl")).text();
  return text.trim().split("\n").map((l) => JSON.parse(l));
}

describe("trainer", () => {
  test("the micro config overfits 2 procedural meshes: token accuracy ≥ 95% within 60 steps", async () => {
    const args = ["--steps", "60", "--lr", "3e-2", "--val-every", "1000", "--save-every", "1000"];
    const result: TrainResult = await train(options(tmp("overfit"), args, { meshes: 3, batch: 2 }), silent);
    const last = result.history.at(-1)!;
    expect(last.acc).toBeGreaterThanOrEqual(0.95);
    expect(last.loss).toBeLessThan(result.history[0].loss / 10);
  }, 90_000);

  test("an interrupted and resumed run repeats the uninterrupted loss curve step for step", async () => {
    const args = ["--steps", "4", "--save-every", "2", "--val-every", "1000", "--seed", "7"];
    const whole = tmp("whole");
    await train(options(whole, args), silent);

    // A copy of the finished run, made as if it had died after its step-2 checkpoint: latest.json
    // points back there and the metrics written after it are dropped.
    const interrupted = tmp("resumed");
    cpSync(whole, interrupted, { recursive: true });
    writeFileSync(join(interrupted, "latest.json"), JSON.stringify({ checkpoint: "checkpoints/step-00000002", step: 2 }));
    const kept = (await metrics(interrupted)).filter((m) => m.step <= 2);
    writeFileSync(join(interrupted, "metrics.jsonl"), kept.map((m) => JSON.stringify(m)).join("\n") + "\n");
    await train(options(interrupted, [...args, "--resume"]), silent);

    const a = (await metrics(whole)).filter((m) => m.kind === "train");
    const b = (await metrics(interrupted)).filter((m) => m.kind === "train");
    expect(b.map((m) => m.step)).toEqual([1, 2, 3, 4]);
    for (let i = 0; i < 4; i++) expect(b[i].loss).toBe(a[i].loss);
  });

  test("non-finite loss stops the run with a clear message and keeps the last checkpoint intact", async () => {
    const out = tmp("nan");
    await train(options(out, ["--steps", "2", "--save-every", "1", "--val-every", "1000"]), silent);
    // A learning rate of 1e30 blows the weights up; the next forward overflows.
    const run = train(options(out, ["--steps", "8", "--save-every", "1", "--val-every", "1000", "--lr", "1e30", "--resume"]), silent);
    await expect(run).rejects.toThrow(NonFiniteError);
    await expect(run).rejects.toThrow(/parameters were not updated, and the last good checkpoint \(step \d+\) .* is intact/);
    const dir = (await latestCheckpoint(out))!;
    const { tensors } = decodeSafetensors(new Uint8Array(await Bun.file(join(dir, "model.safetensors")).arrayBuffer()));
    for (const t of Object.values(tensors)) expect(t.data.every(Number.isFinite)).toBe(true);
  });
});

describe("configuration", () => {
  test("presets parse; a config file is validated field by field", async () => {
    expect((await loadModelConfig("shapenet")).dim).toBe(512);
    const dir = tmp("config");
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ name: "x", dim: 100, heads: 4, blocksPerLevel: [1, 1, 3, 1, 1], fullPeriod: 2, vocab: 132, maxFaces: 10 }));
    await expect(loadModelConfig(bad)).rejects.toThrow(/bad\.json: heads: dim \(100\) must equal heads × 32.*blocksPerLevel\.2: .*even count/);
    const extra = join(dir, "extra.json");
    writeFileSync(extra, JSON.stringify({ name: "x", dim: 64, heads: 2, blocksPerLevel: [1, 1, 2, 1, 1], fullPeriod: 2, vocab: 132, maxFaces: 10, depth: 3 }));
    await expect(loadModelConfig(extra)).rejects.toThrow(/extra\.json: .*depth/);
    writeFileSync(join(dir, "broken.json"), "{ not json");
    await expect(loadModelConfig(join(dir, "broken.json"))).rejects.toThrow(/broken\.json: not valid JSON/);
    await expect(loadModelConfig("nope")).rejects.toThrow(/config nope: not a preset \(shapenet, objaverse, small, tiny\) and no such file/);
  });

  test("train flags: unknown flags and bad values are one clear line", () => {
    expect(() => parseTrainArgs(["--bogus", "1"])).toThrow("unknown flag --bogus");
    expect(() => parseTrainArgs(["--batch", "0"])).toThrow(/^--batch: /);
    expect(() => parseTrainArgs(["--optimizer", "sgd"])).toThrow(/^--optimizer: /);
    expect(() => parseTrainArgs(["--steps"])).toThrow("--steps needs a value");
    expect(parseTrainArgs(["--no-augment", "--val-every", "5"])).toMatchObject({ augment: false, valEvery: 5 });
  });
});
