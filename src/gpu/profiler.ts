/**
 * Per-dispatch GPU timing with timestamp queries: the recorder gives each dispatch its own
 * pass with a begin and an end timestamp; `collect()` reads them back and sums by label.
 * Query sets hold at most 4096 queries, so the profiler chains as many as `capacity` needs.
 * (Dawn quantises timestamps, ~65 µs on NVIDIA: sums over many dispatches are meaningful,
 * single tiny dispatches are not.)
 */
import { BufferUsage, type Handle, type TimestampWrites } from "../../ffi/webgpu.ts";
import type { Gpu } from "./runtime.ts";

export interface Timing {
  label: string;
  count: number;
  ms: number;
}

/** Dispatches per query set (two timestamps each, 4096 queries at most). */
const PER_SET = 2048;

export class Profiler {
  private readonly querySets: Handle[];
  private readonly resolveBuffer: Handle;
  private readonly readBuffer: Handle;
  private labels: string[] = [];
  private resolved = 0;

  /**
   * @param detail kernels that know their shape add it to the label after " · " (see
   *   `byFamily`), e.g. "matmul · NT 55368×512×512 128×128".
   */
  constructor(
    private readonly gpu: Gpu,
    readonly capacity = 4096,
    readonly detail = false,
  ) {
    this.querySets = Array.from({ length: Math.ceil(capacity / PER_SET) }, () => gpu.dev.createTimestampQuerySet(2 * PER_SET));
    this.resolveBuffer = gpu.dev.createBuffer(16 * capacity, BufferUsage.QueryResolve | BufferUsage.CopySrc, "timestamps");
    this.readBuffer = gpu.dev.createBuffer(16 * capacity, BufferUsage.MapRead | BufferUsage.CopyDst, "timestamps-read");
  }

  next(label: string): TimestampWrites {
    const i = this.labels.length;
    if (i >= this.capacity) throw new Error(`profiler: more than ${this.capacity} dispatches; make a larger Profiler`);
    this.labels.push(label);
    const slot = i % PER_SET;
    return { querySet: this.querySets[Math.floor(i / PER_SET)], beginIndex: 2 * slot, endIndex: 2 * slot + 1 };
  }

  /** Called by the recorder at submit: resolves this submission's timestamps, set by set. */
  resolve(encoder: Handle): void {
    while (this.resolved < this.labels.length) {
      const set = Math.floor(this.resolved / PER_SET);
      const first = this.resolved % PER_SET;
      const count = Math.min(this.labels.length - this.resolved, PER_SET - first);
      this.gpu.dev.resolveQuerySet(encoder, this.querySets[set], 2 * first, 2 * count, this.resolveBuffer, 16 * this.resolved);
      this.resolved += count;
    }
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

/** Timings summed by family (the part of a detailed label before " · "), largest first. */
export function byFamily(timings: readonly Timing[]): Timing[] {
  const families = new Map<string, Timing>();
  for (const t of timings) {
    const label = t.label.split(" · ")[0];
    const f = families.get(label) ?? { label, count: 0, ms: 0 };
    f.count += t.count;
    f.ms += t.ms;
    families.set(label, f);
  }
  return [...families.values()].sort((a, b) => b.ms - a.ms);
}
