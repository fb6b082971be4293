/**
 * What every kernel benchmark is made of: a case records its dispatches; the harness runs it
 * `iterations` times in one submission after a warm-up and reports time per run, TFLOP/s
 * and GB/s against the card's peak.
 */
import type { Gpu, Recorder } from "../../src/gpu/runtime.ts";

export interface BenchCase {
  /** e.g. "matmul A·Bᵀ" */
  name: string;
  /** e.g. "M=55368 K=512 N=1365" */
  shape: string;
  /** Floating-point operations of one run (0 when memory-bound). */
  flops: number;
  /** Bytes one run must move at least (for the bandwidth figure). */
  bytes: number;
  record(r: Recorder): void;
  /** Frees the case's tensors. */
  dispose?(): void;
}

export interface BenchResult {
  name: string;
  shape: string;
  ms: number;
  tflops: number;
  gbps: number;
}

export function timeCase(gpu: Gpu, c: BenchCase, iterations = 10): BenchResult {
  gpu.record((r) => c.record(r));
  gpu.sync();
  const start = performance.now();
  gpu.record((r) => {
    for (let i = 0; i < iterations; i++) c.record(r);
  });
  gpu.sync();
  const ms = (performance.now() - start) / iterations;
  return { name: c.name, shape: c.shape, ms, tflops: c.flops / ms / 1e9, gbps: c.bytes / ms / 1e6 };
}

/** Peak figures for the share-of-peak column (H100 SXM f32 non-tensor; override by env). */
export const PEAK = {
  tflops: Number(process.env.IFLAME_PEAK_TFLOPS ?? 67),
  gbps: Number(process.env.IFLAME_PEAK_GBPS ?? 3350),
};

/** The table of results; `peak` names the TFLOP/s peak of the share column (default PEAK, f32). */
export function formatTable(results: BenchResult[], peak = { tflops: PEAK.tflops, name: "f32" }): string {
  const rows = results.map((r) => [
    r.name,
    r.shape,
    r.ms.toFixed(3),
    r.tflops > 0 ? r.tflops.toFixed(2) : "",
    r.tflops > 0 ? `${((100 * r.tflops) / peak.tflops).toFixed(0)}%` : "",
    r.gbps.toFixed(0),
    `${((100 * r.gbps) / PEAK.gbps).toFixed(0)}%`,
  ]);
  const head = ["kernel", "shape", "ms", "TFLOP/s", `% ${peak.name} peak`, "GB/s", "% BW peak"];
  return [head, head.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}
