/**
 * The GPU runtime every later layer uses: one device, typed tensors, a kernel cache, and a
 * recorder that puts many dispatches into one command buffer. Bind groups are cached by the
 * tensors they bind; each dispatch's small parameter block goes into a per-submission arena
 * (one uniform buffer, bound with a dynamic offset), so a step that repeats the same dispatches
 * allocates nothing, and per-step values (positions, counters) cost nothing extra.
 */
import { BufferUsage, type DeviceOptions, type Handle, WebGPUDevice } from "../../ffi/webgpu.ts";
import { cacheKey, specialise, type KernelSpec } from "./kernel.ts";
import { parseBindings, type Binding } from "./wgsl-bindings.ts";
import { Tensor, dtypeBytes, dtypeOf, hostArray, type DType, type HostArray } from "./tensor.ts";
import type { Profiler } from "./profiler.ts";
import type { Readback } from "./readback.ts";

export interface Kernel {
  readonly name: string;
  readonly pipeline: Handle;
  readonly layout: Handle;
  /** The group-0 bindings its entry point uses, in binding order. */
  readonly bindings: readonly Binding[];
}

export type Workgroups = number | [number, number] | [number, number, number];

/** Values for a kernel's uniform block: each number is one 4-byte field, typed by `as`. */
export type Params = { u32?: number[]; i32?: number[]; f32?: number[] } | Uint32Array;

const TENSOR_USAGE = BufferUsage.Storage | BufferUsage.CopySrc | BufferUsage.CopyDst;
/** Readback buffers up to this size are kept for reuse; larger ones are freed after use. */
const STAGING_KEEP_BYTES = 1 << 20;
/** The parameter arena: one submission's params blocks; a recorder that needs more submits early. */
const PARAMS_ARENA_BYTES = 4 << 20;
/** The largest params block a kernel may declare (64 four-byte fields). */
const PARAMS_BLOCK_BYTES = 256;

export class Gpu {
  private static shared: Gpu | null = null;
  readonly dev: WebGPUDevice;
  private readonly kernels = new Map<string, Kernel>();
  private readonly bindGroups = new Map<string, Handle>();
  /** Buffers of live tensors: using a destroyed one is a JS error, not a use-after-free. */
  private readonly liveBuffers = new Set<Handle>();
  /** bind-group keys by buffer, so destroying a buffer drops the groups that name it. */
  private readonly groupsOfBuffer = new Map<Handle, string[]>();
  /** Uniform buffer holding the params blocks of the submission being recorded. */
  readonly paramsBuffer: Handle;
  /** Its host-side copy, filled by the recorder (one recording at a time) and uploaded at submit. */
  readonly paramsHost = new Uint32Array(PARAMS_ARENA_BYTES / 4);
  /** Byte alignment of params blocks (the device's minUniformBufferOffsetAlignment, ≥ 16). */
  readonly paramsAlign: number;
  private readonly staging = new Map<number, Handle>();
  private live = 0;
  private peak = 0;

  private constructor(options: DeviceOptions) {
    this.dev = WebGPUDevice.open(options);
    this.paramsAlign = Math.max(16, this.dev.limits.minUniformBufferOffsetAlignment);
    this.paramsBuffer = this.dev.createBuffer(PARAMS_ARENA_BYTES, BufferUsage.Uniform | BufferUsage.CopyDst, "params arena");
  }

  /** The process-wide device, opened on first use (with `options`; later calls get that device). */
  static get(options: DeviceOptions = {}): Gpu {
    Gpu.shared ??= new Gpu(options);
    return Gpu.shared;
  }

  /** What the device was created with (f16, subgroups, subgroupMatrix shapes, timestampQuery), for kernels to choose. */
  get features() {
    return this.dev.features;
  }

  get limits() {
    return this.dev.limits;
  }

  /** Bytes held by tensors now, and the most ever held. */
  memory(): { live: number; peak: number } {
    return { live: this.live, peak: this.peak };
  }

  // -- tensors ----------------------------------------------------------------------------------

  /** A new tensor; WebGPU zero-fills new buffers. */
  tensor(shape: readonly number[], dtype: DType = "f32", label = "tensor"): Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    if (!Number.isInteger(size) || size < 0) throw new Error(`tensor ${label}: bad shape [${shape}]`);
    const bytes = Math.max(16, Math.ceil((size * dtypeBytes(dtype)) / 16) * 16);
    const buffer = this.dev.createBuffer(bytes, TENSOR_USAGE, label);
    this.live += bytes;
    this.peak = Math.max(this.peak, this.live);
    this.liveBuffers.add(buffer);
    return new Tensor(buffer, [...shape], dtype, 0, label, null);
  }

  upload(data: HostArray, shape: readonly number[] = [data.length], label = "upload"): Tensor {
    const t = this.tensor(shape, dtypeOf(data), label);
    this.write(t, data);
    return t;
  }

  write(t: Tensor, data: HostArray, elementOffset = 0): void {
    if (elementOffset + data.length > t.size) {
      throw new Error(`write to ${t.label}: ${data.length} elements at ${elementOffset} overflow its ${t.size}`);
    }
    if (dtypeBytes(dtypeOf(data)) !== dtypeBytes(t.dtype)) throw new Error(`write to ${t.label} (${t.dtype}): got ${dtypeOf(data)} data`);
    const size = dtypeBytes(t.dtype);
    if ((elementOffset * size) % 4 === 0 && (data.length * size) % 4 !== 0 && t.owner === null && elementOffset + data.length === t.size) {
      // Queue writes are whole 4-byte words: an odd count of f16 at the end of its own buffer
      // (allocated in 16-byte steps) takes one element of padding.
      const padded = new Float16Array(data.length + 1);
      padded.set(data as Float16Array);
      data = padded;
    }
    if ((elementOffset * size) % 4 !== 0 || (data.length * size) % 4 !== 0) {
      throw new Error(`write to ${t.label}: ${data.length} f16 at element ${elementOffset} is not whole 4-byte words`);
    }
    this.dev.writeBuffer(t.buffer, t.offset + elementOffset * size, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  /** Copies a tensor back to the host; waits for all submitted work. */
  read(t: Tensor): HostArray;
  read<T extends HostArray>(t: Tensor, into: T): T;
  read(t: Tensor, into?: HostArray): HostArray {
    if (t.size === 0) return new hostArray[t.dtype](0);
    const bytes = Math.ceil(t.byteLength / 4) * 4; // copies are whole words: an odd f16 count reads one more
    const size = Math.ceil(bytes / 16) * 16;
    let stage = this.staging.get(size);
    if (!stage) {
      stage = this.dev.createBuffer(size, BufferUsage.MapRead | BufferUsage.CopyDst, "readback");
      this.staging.set(size, stage);
    }
    const enc = this.dev.createCommandEncoder();
    this.dev.copyBuffer(enc, t.buffer, t.offset, stage, 0, bytes);
    this.dev.submit(enc);
    this.dev.wait();
    const data = new hostArray[t.dtype](this.dev.readMapped(stage, 0, bytes), 0, t.size);
    if (size > STAGING_KEEP_BYTES) {
      this.dev.destroyBuffer(stage);
      this.staging.delete(size);
    }
    if (into) {
      into.set(data);
      return into;
    }
    return data;
  }

  destroy(t: Tensor): void {
    if (t.owner) throw new Error(`destroy ${t.label}: it is a view; destroy the tensor that owns the buffer`);
    for (const key of this.groupsOfBuffer.get(t.buffer) ?? []) {
      const g = this.bindGroups.get(key);
      if (g !== undefined) this.dev.release("bindGroup", g);
      this.bindGroups.delete(key);
    }
    this.groupsOfBuffer.delete(t.buffer);
    this.liveBuffers.delete(t.buffer);
    this.live -= Math.max(16, Math.ceil(t.byteLength / 16) * 16);
    this.dev.destroyBuffer(t.buffer);
  }

  // -- kernels ----------------------------------------------------------------------------------

  kernel(spec: KernelSpec): Kernel {
    const key = cacheKey(spec);
    let k = this.kernels.get(key);
    if (k) return k;
    const { code, locate } = specialise(spec);
    const bindings = parseBindings(spec.file, code, spec.entry ?? "main");
    const module = this.dev.createShaderModule(code, spec.file, locate);
    const layout = this.dev.createBindGroupLayout(bindings, spec.file);
    const { pipeline } = this.dev.createComputePipeline(module, layout, spec.entry ?? "main", spec.file);
    k = { name: `${spec.file}:${spec.entry ?? "main"}`, pipeline, layout, bindings };
    this.kernels.set(key, k);
    return k;
  }

  /** The bind group for these tensors (+ the params arena), created once and cached. */
  bindGroup(k: Kernel, tensors: readonly Tensor[]): Handle {
    const storageCount = k.bindings.filter((b) => b.type !== "uniform").length;
    if (tensors.length !== storageCount) {
      throw new Error(`${k.name}: expects ${storageCount} tensors, got ${tensors.length} (${tensors.map((t) => t.label).join(", ")})`);
    }
    let key = k.name;
    for (const t of tensors) key += `|${t.buffer}:${t.offset}:${t.byteLength}`;
    let g = this.bindGroups.get(key);
    if (g !== undefined) return g;
    for (const t of tensors) if (!this.liveBuffers.has(t.buffer)) throw new Error(`${k.name}: tensor ${t.label} was destroyed`);
    let next = 0;
    const entries = k.bindings.map(({ type, binding }) => {
      if (type === "uniform") return { binding, buffer: this.paramsBuffer, size: PARAMS_BLOCK_BYTES };
      const t = tensors[next++];
      return { binding, buffer: t.buffer, offset: t.offset, size: Math.max(4, Math.ceil(t.byteLength / 4) * 4) };
    });
    g = this.dev.createBindGroup(k.layout, entries);
    this.bindGroups.set(key, g);
    for (const t of tensors) {
      const list = this.groupsOfBuffer.get(t.buffer) ?? [];
      list.push(key);
      this.groupsOfBuffer.set(t.buffer, list);
    }
    return g;
  }

  // -- recording ---------------------------------------------------------------------------------

  /**
   * Records dispatches and copies into one command buffer and submits it (no wait).
   * With a profiler, every dispatch runs in its own pass between two timestamps.
   */
  record(fn: (r: Recorder) => void, profiler?: Profiler): void {
    const r = new Recorder(this, profiler);
    fn(r);
    r.submit();
  }

  /** Blocks until every submitted command has run; surfaces device errors. */
  sync(): void {
    this.dev.wait();
  }

  /** Delivers finished maps (Readback) and surfaces device errors, without blocking. */
  processEvents(): void {
    this.dev.processEvents();
    this.dev.checkEvents();
  }

  describe(): string {
    return this.dev.describe();
  }
}

function packParams(p: Exclude<Params, Uint32Array>): Uint32Array {
  const n = (p.u32?.length ?? 0) + (p.i32?.length ?? 0) + (p.f32?.length ?? 0);
  const words = new Uint32Array(Math.max(4, Math.ceil(n / 4) * 4));
  const view = new DataView(words.buffer);
  let i = 0;
  for (const v of p.u32 ?? []) view.setUint32(4 * i++, v, true);
  for (const v of p.i32 ?? []) view.setInt32(4 * i++, v, true);
  for (const v of p.f32 ?? []) view.setFloat32(4 * i++, v, true);
  return words;
}

/**
 * Collects the work of one submission. Dispatches share a compute pass (WebGPU orders them
 * and makes each one's writes visible to the next); a copy closes the pass.
 */
export class Recorder {
  private encoder: Handle;
  private pass: Handle | null = null;
  /** Bytes of gpu.paramsHost this submission has filled. */
  private paramsUsed = 0;

  constructor(
    readonly gpu: Gpu,
    private readonly profiler?: Profiler,
  ) {
    this.encoder = gpu.dev.createCommandEncoder();
  }

  /**
   * Runs kernel `k` over `workgroups`. Tensors bind to the storage bindings its entry point uses,
   * in binding order;
   * `params` fills its uniform block (fields in u32, i32, f32 order).
   */
  dispatch(k: Kernel, tensors: readonly Tensor[], workgroups: Workgroups, params?: Params): void {
    const [x, y, z] = typeof workgroups === "number" ? [workgroups, 1, 1] : [workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1];
    const max = this.gpu.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) {
      throw new Error(`${k.name}: ${x}×${y}×${z} workgroups exceeds the device limit of ${max} per dimension`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    const group = this.gpu.bindGroup(k, tensors);
    const offset = k.bindings.some((b) => b.type === "uniform") ? this.placeParams(k, params) : undefined;
    if (this.profiler) {
      this.endPass();
      this.pass = this.gpu.dev.beginComputePass(this.encoder, this.profiler.next(this.label ?? k.name));
    }
    this.pass ??= this.gpu.dev.beginComputePass(this.encoder);
    this.gpu.dev.setPipeline(this.pass, k.pipeline);
    this.gpu.dev.setBindGroup(this.pass, group, offset);
    this.gpu.dev.dispatch(this.pass, x, y, z);
    if (this.profiler) this.endPass();
  }

  /** Copies a params block into the arena; returns its byte offset. */
  private placeParams(k: Kernel, params: Params | undefined): number {
    const words = params === undefined ? EMPTY_PARAMS : params instanceof Uint32Array ? params : packParams(params);
    if (words.byteLength > PARAMS_BLOCK_BYTES) throw new Error(`${k.name}: params block of ${words.byteLength} bytes exceeds ${PARAMS_BLOCK_BYTES}`);
    const size = Math.ceil(Math.max(PARAMS_BLOCK_BYTES, words.byteLength) / this.gpu.paramsAlign) * this.gpu.paramsAlign;
    if (this.paramsUsed + size > PARAMS_ARENA_BYTES) this.flush();
    const offset = this.paramsUsed;
    this.gpu.paramsHost.set(words, offset / 4);
    this.paramsUsed += size;
    return offset;
  }

  /**
   * Submits what is recorded so far and continues in a new command buffer: when the params
   * arena is full, and between the backward's segments (so maps of finished gradients can start).
   */
  flush(): void {
    this.submit();
    this.encoder = this.gpu.dev.createCommandEncoder();
  }

  /**
   * The name the profiler gives the following dispatches. Kernels set it through `span`; a
   * caller that sets it groups everything it records under one name (an optimizer step).
   */
  label: string | undefined;

  /**
   * Records `record`'s dispatches under the kernel family `family` (the kernels call this with
   * their name, or the caller's `label`), or under the caller's label when one is set. While a
   * detailed profile runs, " · " + what() (the kernel's shape; see Profiler's `detail`) is added.
   */
  span(family: string, what: () => string, record: () => void): void {
    const outer = this.label;
    if (outer === undefined) this.label = this.profiler?.detail ? `${family} · ${what()}` : family;
    else if (this.profiler?.detail && !outer.includes(" · ")) this.label = `${outer} · ${what()}`;
    record();
    this.label = outer;
  }

  copy(src: Tensor, dst: Tensor, elements = Math.min(src.size, dst.size)): void {
    if (dtypeBytes(src.dtype) !== dtypeBytes(dst.dtype)) throw new Error(`copy ${src.label} (${src.dtype}) to ${dst.label} (${dst.dtype}): element sizes differ`);
    const bytes = elements * dtypeBytes(src.dtype);
    if (bytes % 4 !== 0) throw new Error(`copy ${src.label}: ${elements} f16 is not whole 4-byte words`);
    this.endPass();
    this.gpu.dev.copyBuffer(this.encoder, src.buffer, src.offset, dst.buffer, dst.offset, bytes);
  }

  /** Copies a tensor into a readback buffer at `byteOffset`. */
  copyToReadback(src: Tensor, dst: Readback, byteOffset: number): void {
    const bytes = Math.ceil(src.byteLength / 4) * 4;
    if (byteOffset + bytes > dst.bytes) throw new Error(`copy ${src.label} to ${dst.label}: ${bytes} bytes at ${byteOffset} overflow its ${dst.bytes}`);
    this.endPass();
    this.gpu.dev.copyBuffer(this.encoder, src.buffer, src.offset, dst.buffer, byteOffset, bytes);
  }

  /** Zero-fills a tensor. */
  clear(t: Tensor): void {
    this.endPass();
    this.gpu.dev.clearBuffer(this.encoder, t.buffer, t.offset, Math.ceil(t.byteLength / 4) * 4);
  }

  private endPass(): void {
    if (this.pass !== null) this.gpu.dev.endComputePass(this.pass);
    this.pass = null;
  }

  /**
   * Uploads the params arena and submits. The upload is a queue write ordered after every
   * earlier submission, so reusing the arena from offset 0 each time is safe.
   */
  submit(): void {
    this.endPass();
    this.profiler?.resolve(this.encoder);
    if (this.paramsUsed > 0) this.gpu.dev.writeBuffer(this.gpu.paramsBuffer, 0, this.gpu.paramsHost.subarray(0, this.paramsUsed / 4));
    this.paramsUsed = 0;
    this.gpu.dev.submit(this.encoder);
  }
}

const EMPTY_PARAMS = new Uint32Array(4);

/**
 * Workgroups for `n` elements at `size` threads each, folded into x·y when x would pass the
 * 65535 per-dimension limit. Kernels index as `g.x + g.y * row`.
 */
export function grid1d(n: number, size: number): { workgroups: [number, number]; row: number } {
  const groups = Math.max(1, Math.ceil(n / size));
  const x = Math.min(groups, 65535);
  return { workgroups: [x, Math.ceil(groups / x)], row: x * size };
}
