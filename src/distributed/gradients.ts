/**
 * Gradient all-reduce for data-parallel training. WebGPU cannot hand a buffer to MPI, so the
 * gradients travel through the host: they are packed into buckets (flat GPU tensors, filled by
 * buffer copies in one submission), each bucket is read back and its sum started with
 * MPI_Iallreduce at once, so the network works on bucket i while bucket i+1 comes back from
 * the GPU; the sums are then written straight into the gradient tensors. The backward is one
 * submission (IFlameModel.backward) and a readback blocks, so the buckets start once the whole
 * backward has run: they pipeline with each other, not with the backward (docs/DISTRIBUTED.md).
 *
 * Buckets follow the reverse of the parameter order, the order in which the backward pass
 * finishes gradients, and are the same on every rank (MPI requires the same collective order).
 */
import type { Gpu } from "../gpu/runtime.ts";
import { Tensor } from "../gpu/tensor.ts";
import type { World } from "./world.ts";

/** 25 MB buckets, PyTorch DDP's default: large enough to reach link bandwidth, small enough to pipeline. */
export const DEFAULT_BUCKET_BYTES = 25 << 20;

interface Bucket {
  flat: Tensor;
  host: Float32Array;
  /** The bucket's gradients with their element offset in `flat`. */
  parts: { grad: Tensor; offset: number }[];
}

export class GradientReducer {
  private readonly buckets: Bucket[] = [];

  constructor(
    private readonly gpu: Gpu,
    private readonly world: World,
    /** Gradients in the order the backward pass finishes them. */
    grads: readonly Tensor[],
    bucketBytes = DEFAULT_BUCKET_BYTES,
  ) {
    let parts: Bucket["parts"] = [];
    let elements = 0;
    const close = () => {
      if (!parts.length) return;
      const flat = gpu.tensor([elements], "f32", `grad bucket ${this.buckets.length}`);
      this.buckets.push({ flat, host: new Float32Array(elements), parts });
      parts = [];
      elements = 0;
    };
    for (const grad of grads) {
      if (elements > 0 && (elements + grad.size) * 4 > bucketBytes) close();
      parts.push({ grad, offset: elements });
      elements += grad.size;
    }
    close();
  }

  get bucketCount(): number {
    return this.buckets.length;
  }

  /**
   * Replaces every gradient by its sum over the ranks (call after the step's last backward).
   * Returns the seconds it took once the GPU had finished the backward: the cost of data
   * parallelism that the step pays on top of its compute (readback, network, upload).
   */
  reduce(): number {
    this.gpu.record((r) => {
      for (const b of this.buckets) {
        for (const { grad, offset } of b.parts) r.copy(grad, slice(b.flat, offset, grad.size));
      }
    });
    // The first read also waits for the backward (and the packing copies) to finish.
    this.gpu.sync();
    const started = performance.now();
    const pending: ReturnType<World["iallreduceSum"]>[] = [];
    for (const b of this.buckets) {
      // MPI moves data only inside MPI calls: nudge the sums already started before blocking on the GPU.
      for (const req of pending) this.world.test(req);
      this.gpu.read(b.flat, b.host);
      pending.push(this.world.iallreduceSum(b.host));
    }
    this.buckets.forEach((b, i) => {
      this.world.wait(pending[i]);
      for (const { grad, offset } of b.parts) this.gpu.write(grad, b.host.subarray(offset, offset + grad.size));
    });
    return (performance.now() - started) / 1000;
  }
}

/** `count` elements of `flat` from element `offset`, as a tensor for buffer copies. */
function slice(flat: Tensor, offset: number, count: number): Tensor {
  return new Tensor(flat.buffer, [count], flat.dtype, flat.offset + offset * 4, `${flat.label}[${offset}:]`, flat);
}
