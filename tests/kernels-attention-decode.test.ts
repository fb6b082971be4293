/** kernels/attention-decode.ts against the CPU attention reference (last row of causal attention). */
import { expect, setDefaultTimeout, test } from "bun:test";
import { attentionForward } from "../src/cpu/attention.ts";
import { randomUniform } from "../src/util/rng.ts";
import { Gpu } from "../src/gpu/runtime.ts";
import { attentionDecode } from "../src/kernels/attention-decode.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const gpu = Gpu.get();

test("attentionDecode: the last row of causal attention, from a cache with spare capacity", () => {
  const B = 2, H = 3, hd = 32, capacity = 260, row = H * hd;
  for (const Lk of [1, 5, 64, 65, 200, 260]) {
    const [q, k, v] = [1, 2, 3].map((i) => Float64Array.from(randomUniform(B * Lk * row, 10 * Lk + i, 2)));
    const want = attentionForward(q, k, v, B, Lk, H, hd).o;
    const last = new Float32Array(B * row), keys = new Float32Array(B * capacity * row), values = keys.slice();
    for (let b = 0; b < B; b++) {
      last.set(q.subarray((b * Lk + Lk - 1) * row, (b * Lk + Lk) * row), b * row);
      keys.set(k.subarray(b * Lk * row, (b + 1) * Lk * row), b * capacity * row);
      values.set(v.subarray(b * Lk * row, (b + 1) * Lk * row), b * capacity * row);
    }
    const [tq, tk, tv] = [last, keys, values].map((a) => gpu.upload(a));
    const out = gpu.tensor([B, row]);
    gpu.record((r) => attentionDecode(r, { q: tq, keys: tk, values: tv, out, shape: { B, H, Lk, capacity } }));
    const got = gpu.read(out);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < row; i++) expect(Math.abs(got[b * row + i] - want[(b * Lk + Lk - 1) * row + i])).toBeLessThan(1e-5);
    }
    [tq, tk, tv, out].forEach((t) => gpu.destroy(t));
  }
});
