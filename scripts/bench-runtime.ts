/**
 * Runtime costs: dispatch overhead (N near-empty dispatches in one submission), the
 * submit + wait round trip, upload and download bandwidth, and a tiled f32 matmul probe.
 *   bun scripts/bench-runtime.ts [--quick]
 */
import { Gpu, grid1d } from "../src/gpu/runtime.ts";
import { matmul } from "../src/kernels/matmul.ts";
import fillWgsl from "../wgsl/fill.wgsl" with { type: "text" };

const quick = process.argv.includes("--quick") || process.env.CI === "true";
const gpu = Gpu.get();
console.log(gpu.describe());

function best(runs: number, fn: () => void): number {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    min = Math.min(min, performance.now() - t);
  }
  return min;
}

const rows: [string, string, string][] = [];

// Dispatch overhead: a kernel whose every thread exits at once (n = 0).
const fill = gpu.kernel({ file: "fill.wgsl", code: fillWgsl, entry: "fill" });
const sink = gpu.tensor([4], "f32", "sink");
for (const n of quick ? [100, 1000] : [100, 1000, 10000]) {
  const ms = best(3, () => {
    gpu.record((r) => {
      for (let i = 0; i < n; i++) r.dispatch(fill, [sink], 1, { u32: [0, 256], f32: [0] });
    });
    gpu.sync();
  });
  rows.push([`${n} empty dispatches, one submit`, `${ms.toFixed(2)} ms`, `${((1000 * ms) / n).toFixed(2)} µs / dispatch`]);
}

const roundTrip = best(20, () => {
  gpu.record((r) => r.dispatch(fill, [sink], 1, { u32: [0, 256], f32: [0] }));
  gpu.sync();
});
rows.push(["submit + wait round trip", `${roundTrip.toFixed(3)} ms`, ""]);

// Bandwidth: host → GPU (queue write) and GPU → host (copy + map + copy out).
const mib = quick ? 16 : 256;
const host = new Float32Array((mib << 20) / 4);
const big = gpu.tensor([host.length], "f32", "bandwidth");
const up = best(3, () => {
  gpu.write(big, host);
  gpu.sync();
});
rows.push([`upload ${mib} MiB`, `${up.toFixed(1)} ms`, `${(mib / 1024 / (up / 1000)).toFixed(2)} GiB/s`]);
const down = best(3, () => gpu.read(big, host));
rows.push([`download ${mib} MiB`, `${down.toFixed(1)} ms`, `${(mib / 1024 / (down / 1000)).toFixed(2)} GiB/s`]);
gpu.destroy(big);

// Fill bandwidth on the device (a write-only kernel).
{
  const n = (mib << 20) / 4;
  const t = gpu.tensor([n], "f32", "fill");
  const { workgroups, row } = grid1d(n, 256);
  const ms = best(5, () => {
    gpu.record((r) => r.dispatch(fill, [t], workgroups, { u32: [n, row], f32: [1] }));
    gpu.sync();
  });
  rows.push([`device fill ${mib} MiB`, `${ms.toFixed(2)} ms`, `${(mib / 1024 / (ms / 1000)).toFixed(1)} GiB/s`]);
  gpu.destroy(t);
}

// Tiled f32 matmul probe.
for (const n of quick ? [256, 512] : [1024, 2048, 4096]) {
  const a = gpu.upload(Float32Array.from({ length: n * n }, () => Math.random() - 0.5), [n, n], "A");
  const b = gpu.upload(Float32Array.from({ length: n * n }, () => Math.random() - 0.5), [n, n], "B");
  const c = gpu.tensor([n, n], "f32", "C");
  const reps = n >= 2048 ? 10 : 3;
  gpu.record((r) => matmul(r, { a, b, out: c }));
  gpu.sync();
  const ms =
    best(3, () => {
      gpu.record((r) => {
        for (let i = 0; i < reps; i++) matmul(r, { a, b, out: c });
      });
      gpu.sync();
    }) / reps;
  const gflops = (2 * n ** 3) / ms / 1e6;
  rows.push([`matmul ${n}³ f32`, `${ms.toFixed(2)} ms`, gflops >= 1000 ? `${(gflops / 1000).toFixed(2)} TFLOP/s` : `${gflops.toFixed(1)} GFLOP/s`]);
  for (const t of [a, b, c]) gpu.destroy(t);
}

console.log(["| measurement | time | rate |", "|---|---|---|", ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n"));
