/** Decoding with f16 weights (--precision f16): the step and prefill logits follow f32's; generate writes valid meshes. */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFlags } from "../src/cli/flags.ts";
import { Decoder } from "../src/generate/decoder.ts";
import { GenerateFlags } from "../src/generate/options.ts";
import { generateMeshes } from "../src/generate/run.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { ModelConfigSchema } from "../src/model/config.ts";
import { initParams, paramSpecs } from "../src/model/params.ts";
import { pcgHash } from "../src/util/rng.ts";
import { maxRelDiff, writeTinyCheckpoint } from "./helpers.ts";

// GPU work on lavapipe (see bunfig.toml: a cold shader cache compiles each kernel on first use).
setDefaultTimeout(120_000);

const config = ModelConfigSchema.parse({ name: "test", dim: 64, heads: 2, blocksPerLevel: [2, 1, 2, 1, 2], fullPeriod: 2, vocab: 132, maxFaces: 2 });
const B = 2;
const T = 36;

describe.skipIf(!Gpu.get().features.f16)("f16 decoding", () => {
  // f16 weights (11 significant bits) through a dozen blocks: each position's logits within 5e-3
  // of its largest logit (the measured worst is printed).
  test("every prefill and step position's logits within 5e-3 of f32's", () => {
    const gpu = Gpu.get();
    const params = initParams(config, 11);
    const tensors = new Map(paramSpecs(config).map(({ name, shape }) => [name, gpu.upload(params[name], shape, name)]));
    const sequence = Int32Array.from({ length: B * T }, (_, i) => (i % T < 9 ? 130 : pcgHash(7919 + i) % 129));
    const logits = (["f32", "f16"] as const).map((precision) => {
      const decoder = new Decoder(gpu, config, tensors, B, T, { precision });
      decoder.begin(sequence, T, 9, null);
      gpu.record((r) => decoder.prefill(r));
      const rows = [gpu.read(decoder.logits) as Float32Array];
      while (decoder.canStep) {
        gpu.record((r) => decoder.step(r));
        rows.push(gpu.read(decoder.logits) as Float32Array);
      }
      decoder.destroy();
      return rows;
    });
    expect(logits[1]).toHaveLength(T - 9 + 1);
    const errors = logits[0].map((f32, i) => maxRelDiff(logits[1][i], f32));
    const worst = Math.max(...errors);
    console.log(`f16 decoding: worst position's logits error ${worst.toExponential(2)} of its largest logit`);
    expect(worst).toBeLessThan(5e-3);
    expect(worst).toBeGreaterThan(0);
  });

  test("generate --precision f16 writes valid meshes and records the precision", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iflame-generate-f16-"));
    const out = join(dir, "out");
    const lines: string[] = [];
    const flags = parseFlags(GenerateFlags, [
      "--checkpoint", await writeTinyCheckpoint(dir), "--out", out, "--count", "2", "--batch", "2", "--max-faces", "4", "--precision", "f16",
    ]).flags;
    const summary = await generateMeshes(flags, (line) => lines.push(line));
    expect(lines.some((l) => l.startsWith("precision f16"))).toBe(true);
    expect(summary.valid).toBe(2);
    expect((await Bun.file(join(out, "samples.json")).json()).precision).toBe("f16");
  });
});
