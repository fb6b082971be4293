import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { embeddingBackward as cpuBackward, embeddingForward as cpuForward } from "../src/cpu/embedding.ts";
import { dot, gradcheck } from "../src/cpu/gradcheck.ts";
import { uniform01 } from "../src/util/rng.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { embeddingBackward, embeddingForward, embeddingScratchSize } from "../src/kernels/embedding.ts";
import { rand } from "./helpers.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

/** The forward copies (exact); dtable is a sum over tokens: relative to its largest entry. */
const REL_TOL = 1e-5;
const FD_EPS = 1e-2;
const FD_TOL = 1e-2;
const V = 132;

const gpu = Gpu.get();

/** Token ids like a training batch: half of them pad (129), the rest spread over the vocabulary. */
function randomTokens(n: number, seed: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => (uniform01(seed, i) < 0.5 ? 129 : Math.floor(uniform01(seed + 1, i) * V)));
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return m / Math.max(scale, 1e-30);
}

function setup(n: number, D: number, seed: number) {
  const tokens = randomTokens(n, seed), table = rand(V * D, seed + 2), dout = rand(n * D, seed + 3);
  const t = {
    tokens: gpu.upload(tokens), table: gpu.upload(table, [V, D]), dout: gpu.upload(dout, [n, D]),
    out: gpu.tensor([n, D]), dtable: gpu.tensor([V, D]), scratch: gpu.tensor([embeddingScratchSize(n, V, D)]),
  };
  const free = () => Object.values(t).forEach((x) => gpu.destroy(x));
  return { tokens, table, dout, t, free };
}

describe("embedding", () => {
  for (const [n, D] of [[1, 16], [7, 100], [1000, 512], [2500, 16]]) {
    test(`forward and backward match the CPU, n=${n} D=${D}`, () => {
      const { tokens, table, dout, t, free } = setup(n, D, n + D);
      gpu.record((r) => {
        embeddingForward(r, { tokens: t.tokens, table: t.table, out: t.out });
        embeddingBackward(r, { tokens: t.tokens, dout: t.dout, dtable: t.dtable, scratch: t.scratch });
      });
      expect([...gpu.read(t.out)]).toEqual([...cpuForward(tokens, table, V, D)]);
      expect(maxRelDiff(gpu.read(t.dtable), cpuBackward(tokens, dout, V, D))).toBeLessThan(REL_TOL);
      free();
    });
  }

  test("accumulate adds into dtable", () => {
    const n = 300, D = 8;
    const { tokens, dout, t, free } = setup(n, D, 3);
    const prior = rand(V * D, 77);
    gpu.write(t.dtable, prior);
    gpu.record((r) => embeddingBackward(r, { tokens: t.tokens, dout: t.dout, dtable: t.dtable, scratch: t.scratch, accumulate: true }));
    const expected = Float32Array.from(cpuBackward(tokens, dout, V, D), (v, i) => v + prior[i]);
    expect(maxRelDiff(gpu.read(t.dtable), expected)).toBeLessThan(REL_TOL);
    free();
  });

  test("dtable matches finite differences of the GPU forward", () => {
    const n = 20, D = 4;
    const { table, dout, t, free } = setup(n, D, 8);
    gpu.write(t.tokens, Int32Array.from({ length: n }, (_, i) => (i * 7) % 3)); // only rows 0..2 occur
    const loss = () => {
      gpu.write(t.table, table);
      gpu.record((r) => embeddingForward(r, { tokens: t.tokens, table: t.table, out: t.out }));
      return dot(gpu.read(t.out), dout);
    };
    gpu.record((r) => embeddingBackward(r, { tokens: t.tokens, dout: t.dout, dtable: t.dtable, scratch: t.scratch }));
    const dtable = gpu.read(t.dtable);
    const rows = 4 * D; // the 3 rows that occur and one that does not (zero gradient)
    const res = gradcheck(loss, table.subarray(0, rows), dtable.subarray(0, rows), { count: rows, eps: FD_EPS, floor: 1e-2 });
    expect(res.maxError).toBeLessThan(FD_TOL);
    free();
  });
});
