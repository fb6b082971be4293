/** Grammar-safe decoding: the CPU reference's rules, real meshes under them, and the GPU mask. */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { uniform01 } from "../src/util/rng.ts";
import { proceduralMesh } from "../src/data/procedural.ts";
import { checkTokenStream, grammarMask as cpuMask, tokenAllowed, type GrammarOptions } from "../src/generate/grammar.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { grammarMask } from "../src/kernels/grammar.ts";
import { triangleMesh } from "../src/mesh/mesh.ts";
import { TOKENS, sequenceFromFaceTokens, tokenizeMesh } from "../src/tokenizer/index.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const LOOSE: GrammarOptions = { strictOrder: false };
const STRICT: GrammarOptions = { strictOrder: true };
const { start: START, end: END, pad: PAD, vocab: V } = TOKENS;

/**
 * A stream of `length` tokens (the capacity) drawn token by token among what the mask allows: end
 * with probability `endChance` where allowed, else uniformly.
 */
function randomWalk(seed: number, length: number, opts: GrammarOptions, endChance = 0.2): Int32Array {
  const tokens = new Int32Array(length);
  for (let n = 0; n < length; n++) {
    const mask = cpuMask(tokens, n, opts, length);
    const others = [...mask.keys()].filter((q) => mask[q] === 1 && q !== END);
    const endNow = mask[END] === 1 && (others.length === 0 || uniform01(seed + 1, n) < endChance);
    expect(endNow || others.length > 0).toBe(true);
    tokens[n] = endNow ? END : others[Math.floor(uniform01(seed, n) * others.length)];
  }
  return tokens;
}

describe("the grammar (CPU reference)", () => {
  test("start row first, coordinates inside faces, end only at a row boundary after a face, then only end", () => {
    const seq = sequenceFromFaceTokens(Int32Array.from({ length: 18 }, (_, i) => (i * 37) % 129), 4);
    expect(tokenAllowed(seq, 0, START, LOOSE)).toBe(true);
    expect(tokenAllowed(seq, 8, 0, LOOSE)).toBe(false);
    for (const n of [9, 12, 17]) expect(tokenAllowed(seq, n, END, LOOSE)).toBe(false); // no face yet, or mid-face
    expect(tokenAllowed(seq, 18, END, LOOSE)).toBe(true);
    expect(tokenAllowed(seq, 19, END, LOOSE)).toBe(false);
    for (const n of [9, 18, 20]) for (const q of [PAD, START]) expect(tokenAllowed(seq, n, q, LOOSE)).toBe(false);
    expect(cpuMask(seq, 28, LOOSE).reduce((a, b) => a + b, 0)).toBe(1); // seq[27] is the end row
    expect(tokenAllowed(seq, 28, END, LOOSE)).toBe(true);
    expect(checkTokenStream(seq, LOOSE)).toEqual({ valid: true, faces: 2 });
    expect(checkTokenStream(seq.slice(0, 27), LOOSE).valid).toBe(false);
    const midFaceEnd = seq.slice();
    midFaceEnd[22] = END;
    expect(checkTokenStream(midFaceEnd, LOOSE)).toMatchObject({ valid: false, faces: 1 });
    // In a buffer of 36 tokens the row at 27 is the last: it must be the end row.
    expect(cpuMask(seq, 27, LOOSE, 36).reduce((a, b) => a + b, 0)).toBe(1);
    expect(tokenAllowed(seq, 27, END, LOOSE, 36)).toBe(true);
    expect(tokenAllowed(seq, 18, END, LOOSE, 36)).toBe(true);
    expect(tokenAllowed(seq, 18, 0, LOOSE, 36)).toBe(true);
  });

  test("strict order: later vertices of a face above its first, first vertices never decreasing", () => {
    // Vertex key order is (y, x, z); tokens are (z, x, y).
    const face = (...v: number[][]) => v.flat();
    const seq = Int32Array.from([...Array(9).fill(START), ...face([5, 5, 5], [9, 9, 5], [0, 0, 6]), ...face([5, 5, 5], [6, 5, 5], [0, 0, 9])]);
    expect(checkTokenStream([...seq, END], STRICT).valid).toBe(true);
    const below = seq.slice();
    below.set([4, 5, 5], 12); // (y 5, x 5, z 4) < (5, 5, 5)
    expect(checkTokenStream([...below, END], STRICT).problem).toBe("token 5 not allowed at position 14"); // y decides
    expect(checkTokenStream([...below, END], LOOSE).valid).toBe(true);
    const decreasing = seq.slice();
    decreasing.set([4, 5, 5], 18);
    expect(checkTokenStream([...decreasing, END], STRICT).valid).toBe(false);
    // z = 128 then x = 128 for vertex 1 leaves y < 128 only: the largest vertex would leave no room.
    const top = Int32Array.from([...Array(9).fill(START), 128, 128]);
    const mask = cpuMask(top, 11, STRICT);
    expect(mask[128]).toBe(0);
    expect(mask[127]).toBe(1);
  });

  test("tokenized meshes obey the strict grammar", () => {
    const meshes = [0, 1, 2, 3, 4, 5].map((i) => proceduralMesh(7, i, 300).mesh);
    const { positions, cells } = require("teapot") as { positions: number[][]; cells: number[][] };
    meshes.push(triangleMesh(new Float32Array(positions.flat()), new Uint32Array(cells.flat())));
    for (const mesh of meshes) {
      const { faceTokens, faceCount } = tokenizeMesh(mesh);
      const check = checkTokenStream(sequenceFromFaceTokens(faceTokens, faceCount), STRICT);
      expect(check).toEqual({ valid: true, faces: faceCount });
    }
  });

  test("random walks under the mask never dead-end, and end in time: valid streams", () => {
    for (const opts of [LOOSE, STRICT]) {
      for (let seed = 0; seed < 20; seed++) {
        const walk = randomWalk(100 + seed, 117, opts, seed % 2 ? 0.2 : 0);
        const check = checkTokenStream(walk, opts);
        expect(check.valid).toBe(true);
        expect(check.faces).toBeLessThanOrEqual(117 / 9 - 2);
        if (seed % 2 === 0) expect(check.faces).toBe(117 / 9 - 2); // never chose to end: ended by the capacity
      }
    }
  });
});

describe("the GPU mask equals the CPU reference", () => {
  const gpu = Gpu.get();
  const B = 4, S = 90;
  for (const [name, opts] of [["loose", LOOSE], ["strict order", STRICT]] as const) {
    test(`${name}: grammatical histories and arbitrary token soup, every position`, () => {
      const sequences = new Int32Array(B * S);
      for (let b = 0; b < 3; b++) sequences.set(randomWalk(b + (opts.strictOrder ? 50 : 0), S, opts, 0.02), b * S);
      for (let n = 0; n < S; n++) sequences[3 * S + n] = Math.floor(uniform01(99, n) * V); // grammar off
      const tokens = gpu.upload(sequences, [B, S]), cursor = gpu.tensor([1], "u32"), mask = gpu.tensor([B, V], "u32");
      for (let n = 1; n < S; n++) {
        gpu.write(cursor, Uint32Array.of(n));
        gpu.record((r) => grammarMask(r, { tokens, cursor, mask, strictOrder: opts.strictOrder }));
        const got = gpu.read(mask);
        for (let b = 0; b < B; b++) {
          const want = cpuMask(sequences.subarray(b * S, (b + 1) * S), n, opts, S);
          expect(Array.from(got.subarray(b * V, (b + 1) * V))).toEqual(Array.from(want));
        }
      }
      [tokens, cursor, mask].forEach((t) => gpu.destroy(t));
    });
  }
});
