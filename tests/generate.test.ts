/**
 * Cached decoding is exact: the logits of every decoding step equal those of a full forward pass
 * (the CPU reference, in f64) over the same prefix.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { forward as cpuForward } from "../src/cpu/model.ts";
import { pcgHash } from "../src/util/rng.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { Decoder } from "../src/generate/decoder.ts";
import { ModelConfigSchema } from "../src/model/config.ts";
import { IFlameModel } from "../src/model/model.ts";
import { initParams } from "../src/model/params.ts";

// A GPU decode of up to 27 steps, each read back, and a CPU forward in f64: seconds each on lavapipe.
setDefaultTimeout(120_000);

// Tiny, with full and linear attention in the hourglass (blocks 2, 4, 6, 8 full).
const config = ModelConfigSchema.parse({
  name: "test", dim: 64, heads: 2, blocksPerLevel: [2, 1, 2, 1, 2], fullPeriod: 2, vocab: 132, maxFaces: 2,
});
const network = config;
const B = 2;
/** Tokens per sequence: 4 rows (start row, 3 rows of random coordinates). */
const T = 36;
/** Largest |gpu − cpu| over a position's logits, relative to the largest |cpu| logit there. */
const TOLERANCE = 1e-4;

const params32 = initParams(network, 11);
const params64 = Object.fromEntries(Object.entries(params32).map(([k, v]) => [k, Float64Array.from(v)]));

function randomTokens(seed: number, length: number): Int32Array {
  const t = new Int32Array(B * length);
  for (let b = 0; b < B; b++) {
    for (let p = 0; p < length; p++) t[b * length + p] = p < 9 ? 130 : pcgHash(seed * 7919 + b * length + p) % 129;
  }
  return t;
}

/** Position p of sequence b of [B, L, V] logits. */
const row = (logits: ArrayLike<number>, L: number, b: number, p: number) =>
  Array.from({ length: network.vocab }, (_, v) => logits[(b * L + p) * network.vocab + v]);

function relativeError(gpu: ArrayLike<number>, cpu: ArrayLike<number>): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < cpu.length; i++) {
    diff = Math.max(diff, Math.abs(gpu[i] - cpu[i]));
    scale = Math.max(scale, Math.abs(cpu[i]));
  }
  return diff / scale;
}

const sequence = randomTokens(1, T);
const reference = cpuForward(network, params64, sequence, B, T);

test("causality: padding after a prefix does not change the logits of the prefix", () => {
  for (const n of [10, 13, 17, 26]) {
    const padded = randomTokens(2, T);
    for (let b = 0; b < B; b++) padded.set(sequence.subarray(b * T, b * T + n), b * T);
    const logits = cpuForward(network, params64, padded, B, T);
    for (let b = 0; b < B; b++) {
      for (let p = 0; p < n; p++) expect(relativeError(row(logits, T, b, p), row(reference, T, b, p))).toBeLessThan(1e-12);
    }
  }
});

describe("every cached step's logits equal a full forward over its prefix", () => {
  const gpu = Gpu.get();
  const model = new IFlameModel(gpu, config, 1, 9);
  model.setParams(params32);
  const decoder = new Decoder(gpu, network, model.params, B, T);

  // Prefill takes whole rows of 9 tokens; a prompt that ends mid-row is decoded from its last whole row.
  for (const prefill of [9, 18, 27]) {
    test(`prefill ${prefill} tokens, then one step per token up to ${T}`, () => {
      decoder.begin(sequence, T, prefill, null);
      gpu.record((r) => decoder.prefill(r));
      const worst = { error: 0, at: -1 };
      const compare = (p: number) => {
        const logits = gpu.read(decoder.logits);
        for (let b = 0; b < B; b++) {
          const error = relativeError(logits.subarray(b * network.vocab, (b + 1) * network.vocab), row(reference, T, b, p));
          if (error > worst.error) Object.assign(worst, { error, at: p });
        }
      };
      compare(prefill - 1);
      let steps = 0;
      while (decoder.canStep) {
        const p = decoder.position;
        gpu.record((r) => decoder.step(r));
        compare(p);
        steps++;
      }
      expect(steps).toBe(T - prefill);
      expect(worst.error).toBeLessThan(TOLERANCE);
      const cursor = gpu.read(decoder.cursor);
      expect(cursor[0]).toBe(T + 1);
    });
  }
});
