/**
 * A host-mappable buffer that recorded copies fill (Recorder.copyToReadback) and the host maps
 * without blocking: the GPU keeps running later submissions while the map is pending. This is
 * how data-parallel training hands gradient buckets to MPI during the backward
 * (src/distributed/gradients.ts); Gpu.read is the blocking one-off form.
 */
import { BufferUsage, type Handle, type PendingMap } from "../../ffi/webgpu.ts";
import type { Gpu } from "./runtime.ts";

export class Readback {
  readonly buffer: Handle;
  private map: PendingMap | null = null;

  constructor(
    private readonly gpu: Gpu,
    /** Bytes, a multiple of 4. */
    readonly bytes: number,
    readonly label: string,
  ) {
    this.buffer = gpu.dev.createBuffer(Math.max(16, Math.ceil(bytes / 16) * 16), BufferUsage.MapRead | BufferUsage.CopyDst, label);
  }

  /** Starts the map; call after submitting the copies into it. Done once those submissions have run. */
  startMap(): void {
    if (this.map) throw new Error(`${this.label}: already mapping`);
    this.map = this.gpu.dev.mapReadAsync(this.buffer, 0, this.bytes);
  }

  /** True once the map has arrived (call gpu.processEvents() to deliver it). */
  get ready(): boolean {
    return this.map !== null && this.map.completion.done;
  }

  /** Copies the mapped bytes into `into` and unmaps, so the buffer can be copied into again. */
  take(into: Float32Array): void {
    if (!this.ready) throw new Error(`${this.label}: not mapped yet`);
    this.gpu.dev.takeMapped(this.map!, new Uint8Array(into.buffer, into.byteOffset, into.byteLength));
    this.map = null;
  }

  destroy(): void {
    this.gpu.dev.destroyBuffer(this.buffer);
  }
}
