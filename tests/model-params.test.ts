/** The parameter table and the weight records resolved from it name every parameter exactly once. */
import { expect, test } from "bun:test";
import { type IFlameConfig, ModelConfigSchema, PRESETS } from "../src/model/config.ts";
import { paramSpecs, resolveWeights } from "../src/model/params.ts";

const configs: IFlameConfig[] = [
  ModelConfigSchema.parse(PRESETS.shapenet),
  ModelConfigSchema.parse({ name: "odd", dim: 64, heads: 2, blocksPerLevel: [1, 3, 2, 2, 1], fullPeriod: 3, vocab: 132, maxFaces: 8 }),
];

for (const config of configs) {
  test(`${config.name}: every record field is one table entry, and the table holds nothing else`, () => {
    const names = paramSpecs(config).map((s) => s.name);
    const resolved: string[] = [];
    const weights = resolveWeights(config, (name) => {
      resolved.push(name);
      return name;
    });
    expect(resolved.sort()).toEqual([...names].sort());
    expect(new Set(names).size).toBe(names.length);
    expect(weights.levels.map((level) => level.length)).toEqual([...config.blocksPerLevel]);
    for (const block of weights.levels.flat()) {
      expect(block.headNorm === null).toBe(block.spec.full);
      expect(block.w1).toBe(`${block.spec.prefix}.feed_forward.proj1.weight`);
      expect(block.out).toBe(`${block.spec.prefix}.attn.out_proj.weight`);
    }
    expect([weights.skipWeights, weights.embedding, weights.norm, weights.outputWeight, weights.outputBias]).toEqual([
      "skip_weights2", "embedding.weight", "norm.weight", "output_proj.weight", "output_proj.bias",
    ]);
  });
}
