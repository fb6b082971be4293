/** kernels/copy-rows.ts: strided row copies between [B, L, W] layouts (exact). */
import { expect, setDefaultTimeout, test } from "bun:test";
import { Gpu } from "../src/gpu/runtime.ts";
import { copyRows } from "../src/kernels/copy-rows.ts";
import { rand } from "./helpers.ts";

// GPU kernels on lavapipe (a CPU Vulkan driver), compiled in the first test that uses them: about 3× its slowest test on an idle 2-core machine, at least 10 s (bunfig.toml says why).
setDefaultTimeout(120_000);

const gpu = Gpu.get();

test("copyRows appends rows into a cache and picks a row per sequence", () => {
  const B = 3, n = 2, W = 5, capacity = 7, start = 4;
  const x = rand(B * n * W, 1);
  const cache = rand(B * capacity * W, 2);
  const tx = gpu.upload(x), tcache = gpu.upload(cache), picked = gpu.tensor([B, W]);
  gpu.record((r) => {
    copyRows(r, { from: tx, to: tcache, copy: { B, rows: n, W, srcStride: n * W, srcRow: 0, dstStride: capacity * W, dstRow: start } });
    copyRows(r, { from: tcache, to: picked, copy: { B, rows: 1, W, srcStride: capacity * W, srcRow: start + 1, dstStride: W, dstRow: 0 } });
  });
  const expected = cache.slice();
  for (let b = 0; b < B; b++) expected.set(x.subarray(b * n * W, (b + 1) * n * W), (b * capacity + start) * W);
  expect(Array.from(gpu.read(tcache))).toEqual(Array.from(expected));
  const rows = Array.from({ length: B }, (_, b) => Array.from(x.subarray((b * n + 1) * W, (b * n + 2) * W))).flat();
  expect(Array.from(gpu.read(picked))).toEqual(rows);
  expect(() => gpu.record((r) => copyRows(r, { from: tx, to: tcache, copy: { B, rows: n, W, srcStride: n * W, srcRow: 0, dstStride: capacity * W, dstRow: 6 } }))).toThrow();
  [tx, tcache, picked].forEach((t) => gpu.destroy(t));
});
