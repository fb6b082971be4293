/**
 * The GPU-resident decoding loop: tokens chosen and fed back on the GPU, K steps per submission.
 * Every sampled token is the one the CPU reference picks from the full-forward logits of its
 * prefix (same uniform, same grammar mask), and grammar-on sequences are valid token streams.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { forward as cpuForward } from "../src/cpu/model.ts";
import { uniform01 } from "../src/util/rng.ts";
import { sampleToken } from "../src/cpu/sampling.ts";
import { generateBatch } from "../src/generate/batch.ts";
import { Decoder } from "../src/generate/decoder.ts";
import { checkTokenStream, grammarMask, type GrammarOptions } from "../src/generate/grammar.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { ModelConfigSchema } from "../src/model/config.ts";
import { IFlameModel } from "../src/model/model.ts";
import { initParams } from "../src/model/params.ts";
import { TOKENS } from "../src/tokenizer/index.ts";

// Compiling the decoder's kernels on lavapipe and decoding against CPU references: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const config = ModelConfigSchema.parse({
  name: "test", dim: 64, heads: 2, blocksPerLevel: [2, 1, 2, 1, 2], fullPeriod: 2, vocab: 132, maxFaces: 6,
});
const network = config;
const { vocab: V } = network;
const B = 4;
const CAPACITY = 9 * (config.maxFaces + 2);
const K = 16;

const params = initParams(network, 5);
// Make `end` likely where the grammar allows it, so that rows finish at different rows.
params["output_proj.bias"][TOKENS.end] += 4;
const params64 = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Float64Array.from(v)]));

const gpu = Gpu.get();
const model = new IFlameModel(gpu, config, 1, 9);
model.setParams(params);
const decoder = new Decoder(gpu, network, model.params, B, CAPACITY);
const startRow = new Int32Array(9).fill(TOKENS.start);

/** The token the CPU reference samples at position n of sequence b, given its prefix. */
function referenceTokens(sequence: Int32Array, b: number, from: number, sampling: { temperature: number; topK: number; topP: number; seed: number }, grammar: GrammarOptions | null): number[] {
  const L = 9 * Math.ceil(sequence.length / 9);
  const padded = new Int32Array(L).fill(TOKENS.pad);
  padded.set(sequence);
  const logits = cpuForward(network, params64, padded, 1, L);
  const chosen: number[] = [];
  for (let n = from; n < sequence.length; n++) {
    const mask = grammar ? grammarMask(sequence, n, grammar, CAPACITY) : undefined;
    chosen.push(sampleToken(logits.subarray((n - 1) * V, n * V), uniform01(sampling.seed + b, n), { ...sampling, mask }));
  }
  return chosen;
}

describe("generation on the GPU", () => {
  const cases: [string, GrammarOptions | null, Int32Array][] = [
    ["grammar on, unconditional", { strictOrder: false }, startRow],
    ["strict order, from a two-face prompt", { strictOrder: true }, Int32Array.from([...startRow, 3, 4, 5, 9, 9, 5, 0, 0, 6, 3, 4, 5, 60, 2, 8, 1, 1, 90])],
    ["grammar off", null, startRow],
  ];
  for (const [name, grammar, prompt] of cases) {
    test(`${name}: tokens equal the CPU reference's, grammar-on streams are valid`, () => {
      const sampling = { temperature: 1, topK: 50, topP: 0.95, seed: 17 };
      const result = generateBatch(decoder, prompt, { sampling, grammar, stepsPerSubmit: K });
      expect(result.syncs).toBeLessThanOrEqual(Math.ceil(result.steps / K) + 1);
      result.sequences.forEach((sequence, b) => {
        expect(Array.from(sequence.subarray(0, prompt.length))).toEqual(Array.from(prompt));
        expect(Array.from(sequence.subarray(prompt.length))).toEqual(referenceTokens(sequence, b, prompt.length, sampling, grammar));
        if (grammar) {
          // The grammar ends every sequence by the capacity: all valid.
          expect(checkTokenStream(sequence, grammar)).toEqual({ valid: true, faces: (sequence.length - 1) / 9 - 1 });
          expect(result.finished[b]).toBe(true);
        }
      });
      if (grammar) {
        // Finished rows stay finished: only end tokens after their first one.
        const raw = gpu.read(decoder.tokens);
        result.sequences.forEach((sequence, b) => {
          if (!result.finished[b]) return;
          const rest = raw.subarray(b * CAPACITY + sequence.length, b * CAPACITY + Math.min(CAPACITY, decoder.position + 1));
          expect(rest.every((t) => t === TOKENS.end)).toBe(true);
        });
      }
    });
  }
});
