/**
 * A compute-only binding to the standard webgpu.h over bun:ffi: instance → adapter → device,
 * buffers, shader modules, explicit bind-group layouts, compute pipelines, command encoding,
 * submission, waiting, mapping, timestamp queries, and device-lost / uncaptured-error events.
 * Descriptors are written into JS memory with the header's C layout (64-bit); calls that take
 * structs by value go through the C shim. Handles are raw pointers (numbers).
 */
import { ptr, toArrayBuffer, type Pointer } from "bun:ffi";
import { pickAdapter, type AdapterRequest } from "./adapter-choice.ts";
import {
  featureNames,
  knownFeatures,
  noAdapterError,
  parseDawnToggles,
  readAdapterFeatures,
  readAdapterInfo,
  readAdapterLimits,
  readSubgroupMatrixConfigs,
  togglesChain,
  vendorToggles,
  withDefaultToggles,
  type AdapterInfo,
  type DeviceFeatures,
  type DawnToggles,
  type Limits,
  type SubgroupMatrixConfig,
} from "./adapter.ts";
import { formatBytes, formatWGSLError, GPUOutOfMemoryError, WGSLCompileError, type SourceLocation } from "./errors.ts";
import { openWebGPULibrary, type WebGPULibrary } from "./library.ts";
import { compileShim, withStderrFiltered, type Shim } from "./shim.ts";
import { Completion, handle, Struct, type Bytes, type Handle } from "./struct.ts";
import {
  bindingTypeValue, ErrorFilterOutOfMemory, ErrorFilterValidation, MapModeRead, PowerPreferenceHighPerformance, QueryTypeTimestamp,
  ShaderStageCompute, StatusSuccess, SType_ShaderSourceWGSL,
  type BindGroupEntry, type BindingType, type DeviceOptions, type PendingMap, type TimestampWrites,
} from "./webgpu-types.ts";

export type { AdapterInfo, DawnToggles, DeviceFeatures, Handle, Limits, SourceLocation, SubgroupMatrixConfig };
export { featureNames, formatBytes, formatWGSLError, GPUOutOfMemoryError, parseDawnToggles, WGSLCompileError };
export { BufferUsage } from "./webgpu-types.ts";
export type { BindGroupEntry, BindingType, DeviceOptions, PendingMap, TimestampWrites };

/**
 * One WebGPU device and everything needed to drive it. Methods throw JS errors that carry
 * the cause; uncaptured validation errors and device loss surface at the next wait().
 */
export class WebGPUDevice {
  readonly library: { path: string; origin: string; version: string | null };
  readonly info: AdapterInfo;
  /** The optional features the device was created with. */
  readonly features: DeviceFeatures;
  /** Every feature the adapter reports, as raw webgpu.h values (for reports: numbering varies). */
  readonly adapterFeatureValues: readonly number[];
  /** The toggles in use: the caller's (or $IFLAME_DAWN_TOGGLES) plus the vendor defaults they leave unnamed. */
  readonly toggles: DawnToggles;
  readonly limits: Limits;
  /** Every adapter Dawn enumerated, in IFLAME_ADAPTER's numbering; null where the library cannot enumerate. */
  adapters: readonly AdapterInfo[] | null = null;
  /** The device's adapter in `adapters`; null when it is webgpu.h's default adapter. */
  adapterIndex: number | null = null;
  private readonly enumerateFn: Pointer | null;
  private readonly lib: WebGPULibrary["symbols"];
  private readonly shim: Shim;
  private readonly instance: Handle;
  private readonly adapter: Handle;
  readonly device: Handle;
  readonly queue: Handle;
  private readonly completionSize: number;
  /** The toggles descriptor chained into the adapter and device descriptors, kept alive with them. */
  private readonly togglesStruct: Struct | null;
  private eventsSeen = 0;
  private lost: string | null = null;

  private constructor(opts: DeviceOptions) {
    const opened = openWebGPULibrary();
    this.library = { path: opened.path, origin: opened.origin, version: opened.version };
    this.lib = opened.lib.symbols;
    this.enumerateFn = opened.enumerateAdapters;
    this.shim = compileShim(opened);
    this.completionSize = this.shim.shim_sizeof_completion();
    const asked = opts.toggles ?? parseDawnToggles(process.env.IFLAME_DAWN_TOGGLES);
    // Chained only when there are any: other implementations reject Dawn's sType.
    const askedChain = togglesChain(asked);
    // The descriptor stays referenced until the call returns (its bytes must not be collected).
    const instanceDesc = askedChain ? new Struct(64).pointer(0, askedChain) : null;
    this.instance = handle(this.lib.wgpuCreateInstance(instanceDesc?.address ?? null), `${opened.path}: wgpuCreateInstance`);
    const request: AdapterRequest = { choice: opts.adapter ?? process.env.IFLAME_ADAPTER, localRank: opts.localRank };
    let adapter = this.requestAdapter(request, askedChain);
    let info = readAdapterInfo(this.lib, this.shim, adapter);
    // Adapter toggles decide what the adapter offers, so vendor defaults mean asking again.
    this.toggles = opened.isDawn ? withDefaultToggles(asked, vendorToggles(info.vendorID)) : asked;
    this.togglesStruct = togglesChain(this.toggles);
    if (this.toggles.enable.length !== asked.enable.length) {
      this.lib.wgpuAdapterRelease(adapter);
      adapter = this.requestAdapter(request, this.togglesStruct);
      info = readAdapterInfo(this.lib, this.shim, adapter);
    }
    this.adapter = adapter;
    this.info = info;
    const available = readAdapterFeatures(this.lib, this.shim, adapter);
    this.adapterFeatureValues = [...available].sort((a, b) => a - b);
    const wanted = knownFeatures(opened.featureNumbering, available);
    this.features = {
      timestampQuery: wanted.has("timestamp-query"),
      f16: wanted.has("shader-f16"),
      subgroups: wanted.has("subgroups"),
      subgroupMatrix: wanted.has("subgroup-matrix") ? readSubgroupMatrixConfigs(this.lib, this.shim, adapter) : null,
    };
    const { all, limits } = readAdapterLimits(this.lib, adapter);
    this.limits = limits;
    this.device = this.requestDevice(all, [...wanted.values(), ...(opts.extraFeatureValues ?? [])]);
    this.queue = handle(this.lib.wgpuDeviceGetQueue(this.device), "wgpuDeviceGetQueue");
  }

  static open(opts: DeviceOptions = {}): WebGPUDevice {
    return new WebGPUDevice(opts);
  }

  /** One line: which library, which adapter, which backend. */
  describe(): string {
    const i = this.info;
    const t = this.toggles;
    const toggles = t.enable.length + t.disable.length ? ` · Dawn toggles: ${[...t.enable, ...t.disable.map((n) => `-${n}`)].join(",")}` : "";
    return `WebGPU: ${this.library.origin} (${this.library.path}) · adapter: ${i.vendor} ${i.device} [${i.description}] · ${i.backend} · ${i.adapterType}${toggles}`;
  }

  // -- asynchronous operations, made synchronous by polling the instance --------------------

  private completion(): Completion {
    return new Completion(new Uint8Array(this.completionSize));
  }

  private poll(c: Completion): void {
    // Spin briefly (GPU round trips are ~0.1 ms), then yield the core: on a CPU adapter the
    // "GPU" runs on the same cores as this loop.
    const start = performance.now();
    while (!c.done) {
      this.lib.wgpuInstanceProcessEvents(this.instance);
      if (!c.done && performance.now() - start > 0.5) Bun.sleepSync(0.05);
    }
  }

  /** One adapter for these options; Dawn's driver notes during discovery are filtered (see shim.ts). */
  private adapterFor(options: Struct): Completion {
    const c = this.completion();
    withStderrFiltered(this.shim, () => {
      this.shim.shim_request_adapter(this.instance, options.address, c.bytes);
      this.poll(c);
    });
    return c;
  }

  /**
   * The adapter `request` picks among those Dawn enumerates (listed in `adapters`), or the
   * high-performance one. Without enumeration (other libraries) that one is the only choice.
   */
  private requestAdapter(request: AdapterRequest, toggles: Struct | null): Handle {
    const options = new Struct(32).pointer(0, toggles);
    const found = this.enumerateAdapters(options)?.map((adapter) => ({ adapter, info: readAdapterInfo(this.lib, this.shim, adapter) }));
    // Dawn's Null backend computes nothing: it is left out of the numbering.
    const usable = found?.filter((a) => a.info.backend !== "Null");
    this.adapters = usable?.map((a) => a.info) ?? null;
    const index = this.adapters ? pickAdapter(this.adapters, request) : null;
    this.adapterIndex = index;
    const chosen = index === null ? null : usable![index].adapter;
    for (const { adapter } of found ?? []) if (adapter !== chosen) this.lib.wgpuAdapterRelease(adapter);
    if (chosen !== null) return chosen;
    const c = this.adapterFor(options.u32(12, PowerPreferenceHighPerformance));
    if (c.status !== StatusSuccess || !c.handle) throw noAdapterError(c.message);
    if (!this.adapters && request.choice) pickAdapter([readAdapterInfo(this.lib, this.shim, c.handle)], request); // it must name this one
    return c.handle;
  }

  /** Every adapter Dawn offers for `options`, each with a reference for the caller; null where the library cannot enumerate. */
  private enumerateAdapters(options: Struct): Handle[] | null {
    const fn = this.enumerateFn;
    if (fn === null) return null;
    const found = new BigUint64Array(64);
    let count = 0;
    withStderrFiltered(this.shim, () => {
      count = this.shim.shim_enumerate_adapters(fn, this.instance, options.address, found, found.length);
    });
    return [...found.subarray(0, Math.min(count, found.length))].map((a) => Number(a) as Handle);
  }

  private requestDevice(limits: Struct, features: readonly number[]): Handle {
    const wanted = [...new Set(features)];
    const desc = new Struct(160);
    desc
      .pointer(0, this.togglesStruct)
      .string(8, "iflame")
      .u64(24, wanted.length)
      .pointer(32, new Uint32Array(wanted))
      .pointer(40, limits) // every limit the adapter supports
      .string(56, "iflame queue"); // defaultQueue: {nextInChain 48, label 56}
    // deviceLostCallbackInfo at 72 (40 bytes), uncapturedErrorCallbackInfo at 112 (32 bytes)
    this.shim.shim_fill_device_callbacks(desc.bytes.subarray(72), desc.bytes.subarray(112));
    const c = this.completion();
    this.shim.shim_request_device(this.adapter, desc.address, c.bytes);
    this.poll(c);
    if (c.status !== StatusSuccess || !c.handle) throw new Error(`could not create a WebGPU device on ${this.info.device}: ${c.message}`);
    return c.handle;
  }

  /** Throws the first device-lost or uncaptured error reported since the last check. */
  checkEvents(): void {
    if (this.lost) throw new Error(this.lost);
    const written = this.shim.shim_events_written();
    const errors: string[] = [];
    for (; this.eventsSeen < written; this.eventsSeen++) {
      const e = Completion.at(handle(this.shim.shim_event(this.eventsSeen), "shim_event"), this.completionSize);
      if (e.kind === 1) {
        this.lost = `WebGPU device lost (reason ${e.status}): ${e.message}`;
        throw new Error(this.lost);
      }
      errors.push(`WebGPU error (type ${e.status}): ${e.message}`);
    }
    if (errors.length) throw new Error(errors.join("\n"));
  }

  // -- buffers --------------------------------------------------------------------------------

  createBuffer(size: number, usage: number, label?: string): Handle {
    const limit = this.limits.maxBufferSize;
    if (size > limit) {
      throw new GPUOutOfMemoryError(`buffer ${label ?? ""} of ${formatBytes(size)} exceeds the device's maxBufferSize ${formatBytes(limit)}`);
    }
    const desc = new Struct(48).string(8, label).u64(24, usage).u64(32, size);
    this.lib.wgpuDevicePushErrorScope(this.device, ErrorFilterOutOfMemory);
    const buffer = this.lib.wgpuDeviceCreateBuffer(this.device, desc.address);
    const error = this.popErrorScope();
    if (error || !buffer) {
      throw new GPUOutOfMemoryError(`out of GPU memory allocating ${formatBytes(size)} for buffer ${label ?? ""}${error ? `: ${error}` : ""}`);
    }
    return handle(buffer, "wgpuDeviceCreateBuffer");
  }

  writeBuffer(buffer: Handle, offset: number, data: Bytes): void {
    if (data.byteLength === 0) return;
    this.lib.wgpuQueueWriteBuffer(this.queue, buffer, offset, ptr(data), data.byteLength);
  }

  /** Maps a MapRead buffer, copies [offset, offset+size) out, unmaps. Waits for the GPU. */
  readMapped(buffer: Handle, offset: number, size: number): ArrayBuffer {
    const map = this.mapReadAsync(buffer, offset, size);
    this.poll(map.completion);
    const copy = new ArrayBuffer(size);
    this.takeMapped(map, new Uint8Array(copy));
    return copy;
  }

  /**
   * Starts mapping [offset, offset+size) of a MapRead buffer and returns at once. The map is
   * done once every submission made before this call has run (later ones may still be running);
   * processEvents() delivers it. Finish with takeMapped.
   */
  mapReadAsync(buffer: Handle, offset: number, size: number): PendingMap {
    const completion = this.completion();
    this.shim.shim_map_async(buffer, MapModeRead, offset, size, completion.bytes);
    return { buffer, offset, size, completion };
  }

  /** Delivers the callbacks of finished work (maps among them) without blocking. */
  processEvents(): void {
    this.lib.wgpuInstanceProcessEvents(this.instance);
  }

  /** Copies a finished map's bytes into `into` (at most the mapped size) and unmaps the buffer. */
  takeMapped(map: PendingMap, into: Uint8Array): void {
    if (map.completion.status !== StatusSuccess) {
      this.checkEvents();
      throw new Error(`mapping a buffer for reading failed: ${map.completion.message}`);
    }
    const range = this.lib.wgpuBufferGetConstMappedRange(map.buffer, map.offset, map.size);
    if (!range) throw new Error("wgpuBufferGetConstMappedRange returned null");
    into.set(new Uint8Array(toArrayBuffer(range, 0, Math.min(map.size, into.byteLength))));
    this.lib.wgpuBufferUnmap(map.buffer);
  }

  destroyBuffer(buffer: Handle): void {
    this.lib.wgpuBufferDestroy(buffer);
    this.lib.wgpuBufferRelease(buffer);
  }

  // -- shaders and pipelines ---------------------------------------------------------------

  private popErrorScope(): string | null {
    const c = this.completion();
    this.shim.shim_pop_error_scope(this.device, c.bytes);
    this.poll(c);
    // kind carries the WGPUErrorType; 1 = NoError.
    return c.status === StatusSuccess && c.kind !== 1 ? c.message : null;
  }

  /**
   * Compiles WGSL; a compile error names `file` with line and column, or the file and line
   * `locate` gives for a line of `code` (a module assembled from several files).
   */
  createShaderModule(code: string, file: string, locate?: (line: number) => SourceLocation): Handle {
    const source = new Struct(32).u32(8, SType_ShaderSourceWGSL).string(16, code);
    const desc = new Struct(24).pointer(0, source).string(8, file);
    this.lib.wgpuDevicePushErrorScope(this.device, ErrorFilterValidation);
    const module = this.lib.wgpuDeviceCreateShaderModule(this.device, desc.address);
    const error = this.popErrorScope();
    if (error) throw new WGSLCompileError(formatWGSLError(error, file, code, locate));
    return handle(module, "wgpuDeviceCreateShaderModule");
  }

  /** Uniform bindings take a dynamic offset (set per dispatch in setBindGroup). */
  createBindGroupLayout(types: readonly { binding: number; type: BindingType }[], label?: string): Handle {
    const entrySize = 120;
    const entries = new Struct(entrySize * types.length);
    types.forEach(({ binding, type }, i) => {
      const o = i * entrySize;
      // {next 0, binding 8, visibility 16, bindingArraySize 24, buffer {next 32, type 40, dyn 44, minSize 48}, ...}
      entries.u32(o + 8, binding).u64(o + 16, ShaderStageCompute).u32(o + 40, bindingTypeValue[type]).u32(o + 44, type === "uniform" ? 1 : 0);
    });
    const desc = new Struct(40).string(8, label).u64(24, types.length).pointer(32, entries);
    return handle(this.lib.wgpuDeviceCreateBindGroupLayout(this.device, desc.address), "wgpuDeviceCreateBindGroupLayout");
  }

  createComputePipeline(module: Handle, layout: Handle, entryPoint: string, file: string): { pipeline: Handle; pipelineLayout: Handle } {
    const layouts = new BigUint64Array([BigInt(layout)]);
    const layoutDesc = new Struct(48).string(8, file).u64(24, 1).pointer(32, layouts);
    const pipelineLayout = handle(this.lib.wgpuDeviceCreatePipelineLayout(this.device, layoutDesc.address), "wgpuDeviceCreatePipelineLayout");
    // {next 0, label 8, layout 24, compute {next 32, module 40, entryPoint 48, constantCount 64, constants 72}}
    const desc = new Struct(80).string(8, `${file}:${entryPoint}`).pointer(24, pipelineLayout).pointer(40, module).string(48, entryPoint);
    this.lib.wgpuDevicePushErrorScope(this.device, ErrorFilterValidation);
    const pipeline = this.lib.wgpuDeviceCreateComputePipeline(this.device, desc.address);
    const error = this.popErrorScope();
    if (error || !pipeline) throw new WGSLCompileError(`${file}: creating compute pipeline '${entryPoint}' failed: ${error}`);
    return { pipeline: handle(pipeline, "wgpuDeviceCreateComputePipeline"), pipelineLayout };
  }

  createBindGroup(layout: Handle, entries: BindGroupEntry[]): Handle {
    const entrySize = 56;
    const s = new Struct(entrySize * entries.length);
    entries.forEach((e, i) => {
      const o = i * entrySize;
      // {next 0, binding 8, buffer 16, offset 24, size 32, sampler 40, textureView 48}
      s.u32(o + 8, e.binding).pointer(o + 16, e.buffer).u64(o + 24, e.offset ?? 0).u64(o + 32, e.size);
    });
    const desc = new Struct(48).pointer(24, layout).u64(32, entries.length).pointer(40, s);
    return handle(this.lib.wgpuDeviceCreateBindGroup(this.device, desc.address), "wgpuDeviceCreateBindGroup");
  }

  release(kind: "shaderModule" | "bindGroupLayout" | "pipelineLayout" | "computePipeline" | "bindGroup", handle: Handle): void {
    const fns = {
      shaderModule: this.lib.wgpuShaderModuleRelease,
      bindGroupLayout: this.lib.wgpuBindGroupLayoutRelease,
      pipelineLayout: this.lib.wgpuPipelineLayoutRelease,
      computePipeline: this.lib.wgpuComputePipelineRelease,
      bindGroup: this.lib.wgpuBindGroupRelease,
    };
    fns[kind](handle);
  }

  // -- queries ----------------------------------------------------------------------------------

  createTimestampQuerySet(count: number): Handle {
    if (!this.features.timestampQuery) throw new Error(`timestamp queries are not supported on ${this.info.device}`);
    const desc = new Struct(32).u32(24, QueryTypeTimestamp).u32(28, count);
    return handle(this.lib.wgpuDeviceCreateQuerySet(this.device, desc.address), "wgpuDeviceCreateQuerySet");
  }

  destroyQuerySet(querySet: Handle): void {
    this.lib.wgpuQuerySetDestroy(querySet);
    this.lib.wgpuQuerySetRelease(querySet);
  }

  // -- command encoding ---------------------------------------------------------------------

  createCommandEncoder(): Handle {
    return handle(this.lib.wgpuDeviceCreateCommandEncoder(this.device, null), "wgpuDeviceCreateCommandEncoder");
  }

  beginComputePass(encoder: Handle, timestamps?: TimestampWrites): Handle {
    if (!timestamps) return handle(this.lib.wgpuCommandEncoderBeginComputePass(encoder, null), "wgpuCommandEncoderBeginComputePass");
    const writes = new Struct(24).pointer(8, timestamps.querySet).u32(16, timestamps.beginIndex).u32(20, timestamps.endIndex);
    const desc = new Struct(32).pointer(24, writes);
    return handle(this.lib.wgpuCommandEncoderBeginComputePass(encoder, desc.address), "wgpuCommandEncoderBeginComputePass");
  }

  setPipeline(pass: Handle, pipeline: Handle): void {
    this.lib.wgpuComputePassEncoderSetPipeline(pass, pipeline);
  }

  private readonly dynamicOffset = new Uint32Array(1);

  /** Binds group 0; `dynamicOffset` is the byte offset of its uniform binding, if it has one. */
  setBindGroup(pass: Handle, bindGroup: Handle, dynamicOffset?: number): void {
    if (dynamicOffset === undefined) {
      this.lib.wgpuComputePassEncoderSetBindGroup(pass, 0, bindGroup, 0, null);
      return;
    }
    this.dynamicOffset[0] = dynamicOffset;
    this.lib.wgpuComputePassEncoderSetBindGroup(pass, 0, bindGroup, 1, this.dynamicOffset);
  }

  dispatch(pass: Handle, x: number, y = 1, z = 1): void {
    this.lib.wgpuComputePassEncoderDispatchWorkgroups(pass, x, y, z);
  }

  dispatchIndirect(pass: Handle, buffer: Handle, offset: number): void {
    this.lib.wgpuComputePassEncoderDispatchWorkgroupsIndirect(pass, buffer, offset);
  }

  endComputePass(pass: Handle): void {
    this.lib.wgpuComputePassEncoderEnd(pass);
    this.lib.wgpuComputePassEncoderRelease(pass);
  }

  copyBuffer(encoder: Handle, src: Handle, srcOffset: number, dst: Handle, dstOffset: number, size: number): void {
    this.lib.wgpuCommandEncoderCopyBufferToBuffer(encoder, src, srcOffset, dst, dstOffset, size);
  }

  clearBuffer(encoder: Handle, buffer: Handle, offset: number, size: number): void {
    this.lib.wgpuCommandEncoderClearBuffer(encoder, buffer, offset, size);
  }

  resolveQuerySet(encoder: Handle, querySet: Handle, first: number, count: number, dst: Handle, dstOffset: number): void {
    this.lib.wgpuCommandEncoderResolveQuerySet(encoder, querySet, first, count, dst, dstOffset);
  }

  /** Finishes the encoder and submits it. */
  submit(encoder: Handle): void {
    const commands = handle(this.lib.wgpuCommandEncoderFinish(encoder, null), "wgpuCommandEncoderFinish");
    this.lib.wgpuCommandEncoderRelease(encoder);
    this.lib.wgpuQueueSubmit(this.queue, 1, new BigUint64Array([BigInt(commands)]));
    this.lib.wgpuCommandBufferRelease(commands);
  }

  /** Blocks until all submitted work is done; throws errors the device reported meanwhile. */
  wait(): void {
    const c = this.completion();
    this.shim.shim_on_submitted_work_done(this.queue, c.bytes);
    this.poll(c);
    this.checkEvents();
    if (c.status !== StatusSuccess) throw new Error(`waiting for the GPU failed: ${c.message}`);
  }

  destroy(): void {
    this.lib.wgpuDeviceDestroy(this.device);
    this.lib.wgpuInstanceProcessEvents(this.instance);
    this.lib.wgpuQueueRelease(this.queue);
    this.lib.wgpuDeviceRelease(this.device);
    this.lib.wgpuAdapterRelease(this.adapter);
    this.lib.wgpuInstanceRelease(this.instance);
  }
}
