import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { crossEntropy, lossTargets } from "../src/cpu/cross-entropy.ts";
import { gradcheck } from "../src/cpu/gradcheck.ts";
import { type Params, forward, lossAndGrads } from "../src/cpu/model.ts";
import { type Network, ModelConfigSchema, PRESETS } from "../src/model/config.ts";
import { blockSpecs, initParams, paramSpecs } from "../src/model/params.ts";
import { uniform01 } from "../src/util/rng.ts";

// A finite-difference check of every parameter on the CPU: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(60_000);

const SHAPENET_CONFIG = ModelConfigSchema.parse(PRESETS.shapenet);
/** Tiny network where both attention kinds appear at several levels: blocks 2, 4, 6 are full (hidden 42). */
const TINY: Network = { dim: 16, heads: 2, blocksPerLevel: [1, 1, 2, 1, 1], fullPeriod: 2, vocab: 132 };
const B = 2, L = 36;

/** Row 0: 9 start tokens; coordinate rows; an end row; pad rows (batch 1 is shorter). */
function sequences(): Int32Array {
  const tokens = new Int32Array(B * L);
  const rows = [[130, "c", "c", 131], [130, "c", 131, 129]];
  let counter = 0;
  rows.forEach((kinds, b) => kinds.forEach((kind, r) => {
    for (let i = 0; i < 9; i++) {
      tokens[b * L + r * 9 + i] = kind === "c" ? Math.floor(uniform01(5, counter++) * 129) : (kind as number);
    }
  }));
  return tokens;
}

const toF64 = (params: Params): Params<Float64Array> =>
  Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Float64Array.from(v)]));

/** Initial params with norm and skip weights moved away from 1 so their gradients are generic. */
function tinyParams(): Params<Float64Array> {
  const params = toF64(initParams(TINY, 11));
  let counter = 0;
  for (const spec of paramSpecs(TINY)) {
    if (spec.init !== "ones") continue;
    const p = params[spec.name];
    for (let i = 0; i < p.length; i++) p[i] = 0.5 + uniform01(12, counter++);
  }
  return params;
}

describe("model structure", () => {
  test("ShapeNet: block kinds, bottleneck split, parameter count", () => {
    const levels = blockSpecs(SHAPENET_CONFIG);
    expect(levels.map((l) => l.length)).toEqual([4, 4, 8, 4, 4]);
    expect(levels[2].map((b) => b.prefix)).toEqual([
      "bottlenecke.0", "bottlenecke.1", "bottlenecke.2", "bottlenecke.3",
      "bottleneckd.0", "bottleneckd.1", "bottleneckd.2", "bottleneckd.3",
    ]);
    const full = levels.flat().filter((b) => b.full).map((b) => b.prefix);
    expect(full).toEqual([
      "encoder_blocks.0.3", "encoder_blocks.1.3", "bottlenecke.3", "bottleneckd.3", "decoder_blocks.0.3", "decoder_blocks.1.3",
    ]);
    const specs = paramSpecs(SHAPENET_CONFIG);
    const count = specs.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
    expect(count).toBe(75_732_598); // "about 75.7 M" (SPEC §2)
    const names = new Set(specs.map((p) => p.name));
    expect(names.has("bottleneckd.2.attn.rms_norm.weight")).toBe(true);
    expect(names.has("bottleneckd.3.attn.rms_norm.weight")).toBe(false);
    expect(specs.find((p) => p.name === "decoder_blocks.1.0.feed_forward.proj1.weight")!.shape).toEqual([1365, 512]);
    expect(specs[0].name).toBe("skip_weights2");
    expect(specs.at(-1)!.name).toBe("norm.weight");
  });

  test("tiny config numbers blocks through all levels", () => {
    expect(blockSpecs(TINY).flat().map((b) => `${b.prefix}:${b.full ? "full" : "linear"}`)).toEqual([
      "encoder_blocks.0.0:linear", "encoder_blocks.1.0:full", "bottlenecke.0:linear", "bottleneckd.0:full",
      "decoder_blocks.0.0:linear", "decoder_blocks.1.0:full",
    ]);
  });

  test("initParams is deterministic and seed-dependent", () => {
    const a = initParams(TINY, 1), b = initParams(TINY, 1), c = initParams(TINY, 2);
    expect(a["embedding.weight"]).toEqual(b["embedding.weight"]);
    expect(a["embedding.weight"]).not.toEqual(c["embedding.weight"]);
    const w = a["encoder_blocks.0.0.feed_forward.proj3.weight"]; // U(±1/√42)
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(42));
  });
});

describe("model forward", () => {
  const params = initParams(TINY, 3);
  const tokens = sequences();

  test("logits shape; f32 and f64 runs agree", () => {
    const logits = forward(TINY, params, tokens, B, L);
    expect(logits).toBeInstanceOf(Float32Array);
    expect(logits.length).toBe(B * L * TINY.vocab);
    const ref = forward(TINY, toF64(params), tokens, B, L);
    for (let i = 0; i < logits.length; i++) expect(Math.abs(logits[i] - ref[i])).toBeLessThan(1e-4);
    expect(() => forward(TINY, params, tokens.subarray(0, B * 27), B, 27)).not.toThrow();
    expect(() => forward(TINY, params, tokens.subarray(0, B * 30), B, 30)).toThrow();
  });

  test("causal: changing token p never changes logits before p, and does change later ones", () => {
    const base = forward(TINY, params, tokens, B, L);
    const V = TINY.vocab;
    for (const p of [1, 9, 10, 17, 20, 26, 33, 35]) {
      const changed = tokens.slice();
      changed[L + p] = (changed[L + p] + 7) % 129; // batch 1
      const out = forward(TINY, params, changed, B, L);
      for (let i = 0; i < L * V; i++) expect(out[i]).toBe(base[i]); // batch 0 untouched
      for (let i = L * V; i < (L + p) * V; i++) expect(out[i]).toBe(base[i]);
      let moved = 0;
      for (let i = (L + p) * V; i < (L + p + 1) * V; i++) moved = Math.max(moved, Math.abs(out[i] - base[i]));
      expect(moved).toBeGreaterThan(1e-4);
    }
  });
});

describe("model backward", () => {
  const params = tinyParams();
  const tokens = sequences();
  const result = lossAndGrads(TINY, params, tokens, B, L);

  test("loss and counts match forward + cross-entropy", () => {
    const ce = crossEntropy(forward(TINY, params, tokens, B, L), lossTargets(tokens, B, L), B * L, TINY.vocab);
    expect(result.count).toBe(27 + 18); // batch 0: all of 9..35; batch 1 stops at the pad row
    expect(result.lossSum).toBeCloseTo(ce.lossSum, 10);
    expect(result.loss).toBeCloseTo(ce.lossSum / ce.count, 12);
    expect(result.correct).toBe(ce.correct);
    expect(Object.keys(result.grads).sort()).toEqual(Object.keys(params).sort());
  });

  test("every parameter's gradient passes a finite-difference check", () => {
    const targets = lossTargets(tokens, B, L);
    const loss = () => {
      const ce = crossEntropy(forward(TINY, params, tokens, B, L), targets, B * L, TINY.vocab);
      return ce.lossSum / ce.count;
    };
    let worst = { name: "", error: 0 };
    for (const [name, p] of Object.entries(params)) {
      // eps 1e-4: the f64 round-off of the loss (~1e-16/eps) stays far below the smallest gradients (~1e-5).
      const r = gradcheck(loss, p, result.grads[name], { count: 2, seed: name.length, eps: 1e-4 });
      if (r.maxError > worst.error) worst = { name, error: r.maxError };
    }
    if (worst.error > 1e-5 || process.env.GRADCHECK_VERBOSE) console.error("worst parameter", worst);
    expect(worst.error).toBeLessThan(1e-5);
  });
});
