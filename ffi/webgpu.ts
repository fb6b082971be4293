/**
 * A compute-only binding to the standard webgpu.h over bun:ffi: instance → adapter → device,
 * buffers, shader modules, explicit bind-group layouts, compute pipelines, command encoding,
 * submission, waiting, mapping, timestamp queries, and device-lost / uncaptured-error events.
 * Descriptors are written into JS memory with the header's C layout (64-bit); calls that take
 * structs by value go through the C shim. Handles are raw pointers (numbers).
 */
import { ptr, toArrayBuffer, type Pointer } from "bun:ffi";
import { openWebGPULibrary, type FeatureNumbering, type WebGPULibrary } from "./library.ts";
import { compileShim, type Shim } from "./shim.ts";

export type Handle = Pointer;
type Bytes = Uint8Array | Uint32Array | BigUint64Array | Float32Array | Int32Array;

// webgpu.h enum and flag values (webgpu-native/webgpu-headers).
export const BufferUsage = {
  MapRead: 0x1,
  MapWrite: 0x2,
  CopySrc: 0x4,
  CopyDst: 0x8,
  Uniform: 0x40,
  Storage: 0x80,
  Indirect: 0x100,
  QueryResolve: 0x200,
} as const;
const MapModeRead = 1;
const ShaderStageCompute = 4;
const SType_ShaderSourceWGSL = 2;
const PowerPreferenceHighPerformance = 2;
const QueryTypeTimestamp = 2;
const ErrorFilterValidation = 1;
const ErrorFilterOutOfMemory = 2;
const StatusSuccess = 1;
const WHOLE_SIZE = 0xffffffffffffffffn;
export type BindingType = "storage" | "read-only-storage" | "uniform";
const bindingTypeValue: Record<BindingType, number> = { uniform: 2, storage: 3, "read-only-storage": 4 };

/** The optional features iflame asks for, by their webgpu.h value in each numbering. */
const featureValues: Record<FeatureNumbering, Record<Feature, number>> = {
  "2025-early": { "timestamp-query": 0x03, "shader-f16": 0x0a, subgroups: 0x11 },
  current: { "timestamp-query": 0x09, "shader-f16": 0x0b, subgroups: 0x12 },
};
export type Feature = "timestamp-query" | "shader-f16" | "subgroups";

const backendNames: Record<number, string> = {
  1: "Null", 2: "WebGPU", 3: "D3D11", 4: "D3D12", 5: "Metal", 6: "Vulkan", 7: "OpenGL", 8: "OpenGLES",
};
const adapterTypes: Record<number, string> = { 1: "discrete GPU", 2: "integrated GPU", 3: "CPU", 4: "unknown" };

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
  adapterType: string;
  subgroupMinSize: number;
  subgroupMaxSize: number;
}

/** The limits iflame reads; the device is created with every limit the adapter allows. */
export interface Limits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBuffersPerShaderStage: number;
  minStorageBufferOffsetAlignment: number;
  minUniformBufferOffsetAlignment: number;
}

// ---------------------------------------------------------------------------------------
// Descriptor memory. Every pointer written into a descriptor must stay reachable until the
// call returns, so each descriptor is built by a Struct that keeps what it points at.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

class Struct {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly keep: Bytes[] = [];
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  u32(offset: number, value: number): this {
    this.view.setUint32(offset, value, true);
    return this;
  }
  u64(offset: number, value: number | bigint): this {
    this.view.setBigUint64(offset, BigInt(value), true);
    return this;
  }
  pointer(offset: number, target: Handle | Bytes | Struct | null): this {
    if (target instanceof Struct) return this.pointer(offset, target.bytes);
    if (target === null || target === 0) return this.u64(offset, 0);
    if (typeof target === "number") return this.u64(offset, target);
    this.keep.push(target);
    return this.u64(offset, ptr(target));
  }
  /** A WGPUStringView {data, length}. */
  string(offset: number, text: string | undefined): this {
    if (text === undefined) return this.u64(offset, 0).u64(offset + 8, WHOLE_SIZE);
    const utf8 = encoder.encode(text);
    if (utf8.length === 0) return this.u64(offset, 0).u64(offset + 8, 0);
    return this.pointer(offset, utf8).u64(offset + 8, utf8.length);
  }
  /** A pointer to an array of NUL-terminated C strings. */
  cStrings(offset: number, list: readonly string[]): this {
    const pointers = new BigUint64Array(Math.max(1, list.length));
    list.forEach((text, i) => {
      const c = encoder.encode(`${text}\0`);
      this.keep.push(c);
      pointers[i] = BigInt(ptr(c));
    });
    return this.pointer(offset, pointers);
  }
  get address(): Pointer {
    return ptr(this.bytes);
  }
}

/** sType of Dawn's WGPUDawnTogglesDescriptor {chain, enabledCount, enabled, disabledCount, disabled}. */
const DAWN_TOGGLES_STYPE = 0x0005000a;

/** Dawn toggles (named in Dawn's src/dawn/native/Toggles.cpp) to turn on and off. */
export interface DawnToggles {
  enable: string[];
  disable: string[];
}

/**
 * Toggles from a comma-separated list, `-name` to turn one off; e.g. IFLAME_DAWN_TOGGLES=
 * "allow_unsafe_apis,-timestamp_quantization". Only Dawn reads them.
 */
export function parseDawnToggles(list: string | undefined): DawnToggles {
  const toggles: DawnToggles = { enable: [], disable: [] };
  for (const item of (list ?? "").split(",").map((s) => s.trim()).filter(Boolean)) {
    const name = item.replace(/^-/, "");
    if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`Dawn toggle "${item}": expected a name like allow_unsafe_apis, or -name to turn one off`);
    (item.startsWith("-") ? toggles.disable : toggles.enable).push(name);
  }
  return toggles;
}

/** A chained WGPUDawnTogglesDescriptor, or null when there is nothing to toggle. */
function togglesChain(t: DawnToggles): Struct | null {
  if (t.enable.length === 0 && t.disable.length === 0) return null;
  return new Struct(48).u32(8, DAWN_TOGGLES_STYPE).u64(16, t.enable.length).cStrings(24, t.enable).u64(32, t.disable.length).cStrings(40, t.disable);
}

/** A handle returned by a create call; null means the library refused. */
function handle(value: unknown, what: string): Handle {
  if (!value) throw new Error(`${what} returned null`);
  return value as Handle;
}

function readString(view: DataView, offset: number): string {
  const data = Number(view.getBigUint64(offset, true));
  const length = Number(view.getBigUint64(offset + 8, true));
  if (!data || !length) return "";
  return decoder.decode(new Uint8Array(toArrayBuffer(data, 0, length)));
}

/** Mirrors `Completion` in shim.c. */
class Completion {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  static at(address: number, size: number): Completion {
    return new Completion(new Uint8Array(toArrayBuffer(address, 0, size)));
  }
  get done() { return this.view.getUint32(0, true) !== 0; }
  get status() { return this.view.getUint32(4, true); }
  get kind() { return this.view.getUint32(8, true); }
  get handle(): Handle { return Number(this.view.getBigUint64(16, true)) as Handle; }
  get message() { return decoder.decode(this.bytes.subarray(24, 24 + this.view.getUint32(12, true))); }
}

// ---------------------------------------------------------------------------------------

export class WGSLCompileError extends Error {}
export class GPUOutOfMemoryError extends Error {}

export interface BindGroupEntry {
  binding: number;
  buffer: Handle;
  offset?: number;
  size: number;
}

export interface TimestampWrites {
  querySet: Handle;
  beginIndex: number;
  endIndex: number;
}

export interface DeviceOptions {
  /** Adapter index or case-insensitive name substring; default $IFLAME_ADAPTER, else the first. */
  adapter?: string;
  /** Dawn toggles for the instance, adapter and device; default from $IFLAME_DAWN_TOGGLES. */
  toggles?: DawnToggles;
  /** More features to ask for, by raw webgpu.h value (probes of experimental features). */
  extraFeatureValues?: readonly number[];
}

/**
 * One WebGPU device and everything needed to drive it. Methods throw JS errors that carry
 * the cause; uncaptured validation errors and device loss surface at the next wait().
 */
export class WebGPUDevice {
  readonly library: { path: string; origin: string };
  readonly info: AdapterInfo;
  readonly features: ReadonlySet<Feature>;
  /** Every feature the adapter reports, as raw webgpu.h values (for reports: numbering varies). */
  readonly adapterFeatureValues: readonly number[];
  readonly toggles: DawnToggles;
  readonly limits: Limits;
  private readonly lib: WebGPULibrary["symbols"];
  private readonly shim: Shim;
  private readonly instance: Handle;
  private readonly adapter: Handle;
  readonly device: Handle;
  readonly queue: Handle;
  private readonly completionSize: number;
  private readonly featureValue: Record<Feature, number>;
  /** The toggles descriptor chained into the instance, adapter and device descriptors, kept alive with them. */
  private readonly togglesStruct: Struct | null;
  private eventsSeen = 0;
  private lost: string | null = null;

  private constructor(opts: DeviceOptions) {
    const opened = openWebGPULibrary();
    this.library = { path: opened.path, origin: opened.origin };
    this.lib = opened.lib.symbols;
    this.shim = compileShim(opened.lib);
    this.completionSize = this.shim.shim_sizeof_completion();
    this.toggles = opts.toggles ?? parseDawnToggles(process.env.IFLAME_DAWN_TOGGLES);
    // Chained only when asked for: other implementations reject Dawn's sType.
    this.togglesStruct = togglesChain(this.toggles);
    // The descriptor stays referenced until the call returns (its bytes must not be collected).
    const instanceDesc = this.togglesStruct ? new Struct(64).pointer(0, this.togglesStruct) : null;
    this.instance = handle(this.lib.wgpuCreateInstance(instanceDesc?.address ?? null), `${opened.path}: wgpuCreateInstance`);
    this.adapter = this.requestAdapter(opts.adapter ?? process.env.IFLAME_ADAPTER);
    this.info = this.readAdapterInfo();
    const available = this.readAdapterFeatures();
    this.adapterFeatureValues = [...available].sort((a, b) => a - b);
    this.featureValue = featureValues[opened.featureNumbering];
    this.features = new Set((Object.keys(this.featureValue) as Feature[]).filter((f) => available.has(this.featureValue[f])));
    const limits = new Struct(512);
    if (this.lib.wgpuAdapterGetLimits(this.adapter, limits.address) !== StatusSuccess) throw new Error("wgpuAdapterGetLimits failed");
    this.limits = readLimits(limits);
    this.device = this.requestDevice(limits, opts.extraFeatureValues ?? []);
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

  private requestAdapter(choice: string | undefined): Handle {
    const options = new Struct(32).pointer(0, this.togglesStruct).u32(12, PowerPreferenceHighPerformance);
    const c = this.completion();
    this.shim.shim_request_adapter(this.instance, options.address, c.bytes);
    this.poll(c);
    if (c.status !== StatusSuccess || !c.handle) throw noAdapterError(c.message);
    if (choice === undefined || choice === "" || choice === "0") return c.handle;
    // webgpu.h offers one adapter per request; a different one is picked by backend/type.
    const info = this.readAdapterInfoOf(c.handle);
    const name = `${info.vendor} ${info.device} ${info.description} ${info.backend}`.toLowerCase();
    if (name.includes(choice.toLowerCase())) return c.handle;
    const fallback = new Struct(32).pointer(0, this.togglesStruct).u32(12, 1).u32(16, 1); // low-power, force fallback adapter
    const c2 = this.completion();
    this.shim.shim_request_adapter(this.instance, fallback.address, c2.bytes);
    this.poll(c2);
    if (c2.status === StatusSuccess && c2.handle) {
      const other = this.readAdapterInfoOf(c2.handle);
      const otherName = `${other.vendor} ${other.device} ${other.description} ${other.backend}`.toLowerCase();
      if (choice === "1" || otherName.includes(choice.toLowerCase())) return c2.handle;
    }
    throw new Error(`IFLAME_ADAPTER=${choice}: no adapter matches; available: ${info.vendor} ${info.device} (${info.backend})`);
  }

  private readAdapterInfo(): AdapterInfo {
    return this.readAdapterInfoOf(this.adapter);
  }

  private readAdapterInfoOf(adapter: Handle): AdapterInfo {
    const s = new Struct(96);
    if (this.lib.wgpuAdapterGetInfo(adapter, s.address) !== StatusSuccess) throw new Error("wgpuAdapterGetInfo failed");
    const v = new DataView(s.bytes.buffer);
    const info: AdapterInfo = {
      vendor: readString(v, 8),
      architecture: readString(v, 24),
      device: readString(v, 40),
      description: readString(v, 56),
      backend: backendNames[v.getUint32(72, true)] ?? "unknown",
      adapterType: adapterTypes[v.getUint32(76, true)] ?? "unknown",
      subgroupMinSize: v.getUint32(88, true),
      subgroupMaxSize: v.getUint32(92, true),
    };
    this.shim.shim_adapter_info_free_members(s.bytes);
    return info;
  }

  private readAdapterFeatures(): Set<number> {
    const s = new BigUint64Array(2);
    this.lib.wgpuAdapterGetFeatures(this.adapter, ptr(s));
    const count = Number(s[0]);
    const list = count ? new Uint32Array(toArrayBuffer(Number(s[1]), 0, count * 4)) : new Uint32Array();
    const set = new Set(list);
    this.shim.shim_supported_features_free_members(s);
    return set;
  }

  private requestDevice(limits: Struct, extra: readonly number[]): Handle {
    const wanted = [...new Set([...[...this.features].map((f) => this.featureValue[f]), ...extra])];
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
    const c = this.completion();
    this.shim.shim_map_async(buffer, MapModeRead, offset, size, c.bytes);
    this.poll(c);
    if (c.status !== StatusSuccess) {
      this.checkEvents();
      throw new Error(`mapping a buffer for reading failed: ${c.message}`);
    }
    const range = this.lib.wgpuBufferGetConstMappedRange(buffer, offset, size);
    if (!range) throw new Error("wgpuBufferGetConstMappedRange returned null");
    const copy = toArrayBuffer(range, 0, size).slice(0);
    this.lib.wgpuBufferUnmap(buffer);
    return copy;
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
    if (!this.features.has("timestamp-query")) throw new Error(`timestamp queries are not supported on ${this.info.device}`);
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

function readLimits(s: Struct): Limits {
  const v = new DataView(s.bytes.buffer);
  return {
    maxStorageBuffersPerShaderStage: v.getUint32(52, true),
    maxStorageBufferBindingSize: Number(v.getBigUint64(72, true)),
    minUniformBufferOffsetAlignment: v.getUint32(80, true),
    minStorageBufferOffsetAlignment: v.getUint32(84, true),
    maxBufferSize: Number(v.getBigUint64(96, true)),
    maxComputeWorkgroupStorageSize: v.getUint32(124, true),
    maxComputeInvocationsPerWorkgroup: v.getUint32(128, true),
    maxComputeWorkgroupSizeX: v.getUint32(132, true),
    maxComputeWorkgroupsPerDimension: v.getUint32(144, true),
  };
}

function noAdapterError(message: string): Error {
  return new Error(
    `No WebGPU adapter found${message ? ` (${message})` : ""}. iflame needs a Vulkan, Metal or D3D12 driver: ` +
      "install your GPU vendor's driver, or on a machine without a GPU install Mesa's CPU driver lavapipe " +
      "(Debian/Ubuntu: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1 — Mesa ≥ 24; `bash scripts/ensure-vulkan.sh` does it).",
  );
}

/** Turns Dawn's "…:LINE:COL error: …" messages into "file:LINE:COL: message" plus the source line. */
/** Where a line of a compiled module came from. */
export interface SourceLocation {
  file: string;
  line: number;
  text: string;
}

export function formatWGSLError(message: string, file: string, code: string, locate?: (line: number) => SourceLocation): string {
  const at = /:(\d+):(\d+)\s+error:\s*([^\n]*)/.exec(message);
  if (!at) return `${file}: WGSL compile error: ${message}`;
  const [line, col, text] = [Number(at[1]), Number(at[2]), at[3]];
  const where = locate?.(line) ?? { file, line, text: code.split("\n")[line - 1] ?? "" };
  return `${where.file}:${where.line}:${col}: WGSL error: ${text}\n    ${where.text}\n    ${" ".repeat(Math.max(0, col - 1))}^\n${message}`;
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}
