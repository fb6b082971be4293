/**
 * Per-dispatch GPU timing with timestamp queries: the recorder gives each dispatch its own
 * pass with a begin and an end timestamp; `collect()` reads them back and sums by label.
 */
import { BufferUsage, type Handle, type TimestampWrites } from "../../ffi/webgpu.ts";
import type { Gpu } from "./runtime.ts";

export interface Timing {
  label: string;
  count: number;
  ms: number;
}

export class Profiler {
  private readonly querySet: Handle;
  private readonly resolveBuffer: Handle;
  private readonly readBuffer: Handle;
  private labels: string[] = [];
  private resolved = 0;

  constructor(
    private readonly gpu: Gpu,
    readonly capacity = 4096,
  ) {
    this.querySet = gpu.dev.createTimestampQuerySet(2 * capacity);
    this.resolveBuffer = gpu.dev.createBuffer(16 * capacity, BufferUsage.QueryResolve | BufferUsage.CopySrc, "timestamps");
    this.readBuffer = gpu.dev.createBuffer(16 * capacity, BufferUsage.MapRead | BufferUsage.CopyDst, "timestamps-read");
  }

  next(label: string): TimestampWrites {
    const i = this.labels.length;
    if (i >= this.capacity) throw new Error(`profiler: more than ${this.capacity} dispatches; make a larger Profiler`);
    this.labels.push(label);
    return { querySet: this.querySet, beginIndex: 2 * i, endIndex: 2 * i + 1 };
  }

  /** Called by the recorder at submit: resolves this submission's timestamps. */
  resolve(encoder: Handle): void {
    const first = this.resolved;
    const count = this.labels.length - first;
    if (count === 0) return;
    this.gpu.dev.resolveQuerySet(encoder, this.querySet, 2 * first, 2 * count, this.resolveBuffer, 16 * first);
    this.resolved = this.labels.length;
  }

  /** Waits for the GPU, returns time per label (largest first), and resets. */
  collect(): Timing[] {
    const n = this.labels.length;
    const byLabel = new Map<string, Timing>();
    if (n > 0) {
      const enc = this.gpu.dev.createCommandEncoder();
      this.gpu.dev.copyBuffer(enc, this.resolveBuffer, 0, this.readBuffer, 0, 16 * n);
      this.gpu.dev.submit(enc);
      this.gpu.dev.wait();
      const ns = new BigUint64Array(this.gpu.dev.readMapped(this.readBuffer, 0, 16 * n));
      this.labels.forEach((label, i) => {
        const t = byLabel.get(label) ?? { label, count: 0, ms: 0 };
        t.count++;
        t.ms += Number(ns[2 * i + 1] - ns[2 * i]) / 1e6;
        byLabel.set(label, t);
      });
    }
    this.labels = [];
    this.resolved = 0;
    return [...byLabel.values()].sort((a, b) => b.ms - a.ms);
  }
}
