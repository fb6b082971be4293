/** kernels/hourglass-step.ts: the one-position resampling of cached decoding. */
import { expect, setDefaultTimeout, test } from "bun:test";
import { Gpu } from "../src/gpu/runtime.ts";
import { mean3, scaleAdd } from "../src/kernels/hourglass-step.ts";
import { rand } from "./helpers.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const gpu = Gpu.get();

test("mean3 and scaleAdd match their formulas", () => {
  const n = 1000;
  const [a, b, c] = [rand(n, 3), rand(n, 4), rand(n, 5)];
  const weights = Float32Array.of(0.5, -1.25);
  const [ta, tb, tc, tw] = [a, b, c, weights].map((v) => gpu.upload(v));
  const mean = gpu.tensor([n]), added = gpu.tensor([n]);
  gpu.record((r) => {
    mean3(r, { a: ta, b: tb, c: tc, out: mean });
    scaleAdd(r, { coarse: ta, skip: tb, weights: tw, index: 1, out: added });
  });
  const m = gpu.read(mean), s = gpu.read(added);
  for (let i = 0; i < n; i++) {
    expect(m[i]).toBeCloseTo((a[i] + b[i] + c[i]) / 3, 6);
    expect(s[i]).toBeCloseTo(-1.25 * a[i] + b[i], 6);
  }
  [ta, tb, tc, tw, mean, added].forEach((t) => gpu.destroy(t));
});
