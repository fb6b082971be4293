/**
 * Gradient all-reduce for data-parallel training. WebGPU cannot hand a buffer to MPI, so the
 * gradients travel through the host in buckets: copies recorded into a bucket's readback buffer,
 * a non-blocking map, MPI_Iallreduce on the host copy as soon as the map arrives, and the sums
 * written straight back into the gradient tensors.
 *
 * With overlap, the last micro-batch's backward is submitted segment by segment
 * (IFlameModel.backwardSegments: dec1, dec0, bottleneck, enc1, enc0, stem): after a segment's
 * submission the buckets it completed are copied out and their maps started, so their sums run
 * on the network while the GPU works on the next segment. Without it, every bucket is staged
 * once the whole backward is submitted and the buckets pipeline only with each other.
 *
 * Buckets follow the order in which the backward finishes gradients and their sums start in
 * bucket order on every rank, whatever order the maps arrive in (MPI requires the same
 * collective order everywhere, and the sums stay identical with and without overlap).
 */
import type { Recorder, Gpu } from "../gpu/runtime.ts";
import { Readback } from "../gpu/readback.ts";
import type { Tensor } from "../gpu/tensor.ts";
import type { BackwardHooks, BackwardSegment } from "../model/model.ts";
import type { MpiRequest } from "../../ffi/mpi.ts";
import type { World } from "./world.ts";

/** 25 MB buckets, PyTorch DDP's default: large enough to reach link bandwidth, small enough to pipeline. */
export const DEFAULT_BUCKET_BYTES = 25 << 20;

interface Bucket {
  readback: Readback;
  host: Float32Array;
  /** The bucket's gradients with their element offset in `host`. */
  parts: { grad: Tensor; offset: number }[];
  /** The backward segment after which all its gradients are final. */
  finalAfter: number;
  staged: boolean;
  sum: MpiRequest | null;
}

export interface ReducerOptions {
  bucketBytes?: number;
  /** Stage buckets between the backward's segments (backwardHooks) rather than after it. */
  overlap: boolean;
}

export class GradientReducer {
  private readonly buckets: Bucket[] = [];
  readonly overlap: boolean;
  /** Buckets whose sums have started, and of those, whose sums are back in the gradients: prefixes of `buckets`. */
  private started = 0;
  private written = 0;
  /** When the last bucket's map arrived: the GPU had then finished the backward. */
  private backwardDoneAt = 0;

  constructor(
    private readonly gpu: Gpu,
    private readonly world: World,
    segments: readonly BackwardSegment[],
    { bucketBytes = DEFAULT_BUCKET_BYTES, overlap }: ReducerOptions,
  ) {
    this.overlap = overlap;
    let parts: Bucket["parts"] = [];
    let elements = 0;
    let segment = 0;
    const close = () => {
      if (!parts.length) return;
      const readback = new Readback(gpu, elements * 4, `grad bucket ${this.buckets.length}`);
      this.buckets.push({ readback, host: new Float32Array(elements), parts, finalAfter: segment, staged: false, sum: null });
      parts = [];
      elements = 0;
    };
    segments.forEach((s, i) => {
      for (const grad of s.grads) {
        if (elements > 0 && (elements + grad.size) * 4 > bucketBytes) close();
        parts.push({ grad, offset: elements });
        elements += grad.size;
        segment = i;
      }
    });
    close();
  }

  get bucketCount(): number {
    return this.buckets.length;
  }

  /** Hooks for the step's last backward, recorded into `r`: stage each bucket once its segment is recorded. */
  backwardHooks(r: Recorder): BackwardHooks {
    if (!this.overlap) return {};
    return {
      afterSegment: (segment) => {
        const ready = this.buckets.filter((b) => !b.staged && b.finalAfter <= segment);
        if (!ready.length) return;
        for (const b of ready) this.copyOut(r, b);
        r.flush();
        for (const b of ready) b.readback.startMap();
        this.progress();
      },
    };
  }

  /**
   * Replaces every gradient by its sum over the ranks (call after recording the step's last
   * backward). Returns the seconds from the GPU finishing the backward to the sums being back
   * in the gradients: what data parallelism adds to the step (readback, network, upload).
   */
  reduce(): number {
    const unstaged = this.buckets.filter((b) => !b.staged);
    if (unstaged.length) {
      this.gpu.record((r) => unstaged.forEach((b) => this.copyOut(r, b)));
      for (const b of unstaged) b.readback.startMap();
    }
    const spinUntil = performance.now() + 0.5;
    while (this.started < this.buckets.length) {
      this.progress();
      // On a CPU adapter the "GPU" shares the cores with this loop: spin briefly, then yield.
      if (this.started < this.buckets.length && performance.now() > spinUntil) Bun.sleepSync(0.05);
    }
    while (this.written < this.buckets.length) {
      this.world.wait(this.buckets[this.written].sum);
      this.writeBack();
    }
    for (const b of this.buckets) b.staged = false;
    this.started = 0;
    this.written = 0;
    return (performance.now() - this.backwardDoneAt) / 1000;
  }

  private copyOut(r: Recorder, b: Bucket): void {
    for (const { grad, offset } of b.parts) r.copyToReadback(grad, b.readback, offset * 4);
    b.staged = true;
  }

  /**
   * Takes arrived maps in bucket order and starts their sums; nudges the sums in flight (MPI
   * moves data only inside its calls) and writes finished ones back. A bucket's gradients are
   * final, so the queue write may land while later segments run.
   */
  private progress(): void {
    this.gpu.processEvents();
    while (this.started < this.buckets.length && this.buckets[this.started].readback.ready) {
      const b = this.buckets[this.started++];
      if (this.started === this.buckets.length) this.backwardDoneAt = performance.now();
      b.readback.take(b.host);
      b.sum = this.world.iallreduceSum(b.host);
    }
    for (let i = this.written; i < this.started; i++) this.world.test(this.buckets[i].sum);
    while (this.written < this.started && this.world.test(this.buckets[this.written].sum)) this.writeBack();
  }

  /** The next bucket's sums into its gradient tensors. */
  private writeBack(): void {
    const b = this.buckets[this.written++];
    for (const { grad, offset } of b.parts) this.gpu.write(grad, b.host.subarray(offset, offset + grad.size));
    b.sum = null;
  }
}
