/**
 * What an adapter offers, read through webgpu.h: its info, its optional features (whose
 * numbers depend on the library's WGPUFeatureName numbering), Dawn's subgroup-matrix
 * configurations, and the Dawn toggles chained into the instance, adapter and device.
 */
import { ptr, toArrayBuffer } from "bun:ffi";
import type { FeatureNumbering, WebGPULibrary } from "./library.ts";
import type { Shim } from "./shim.ts";
import { readString, Struct, type Handle } from "./struct.ts";

const StatusSuccess = 1;

// -- Dawn toggles ---------------------------------------------------------------------------

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

const NVIDIA = 0x10de;

/**
 * Toggles iflame turns on by default for an adapter's vendor. On NVIDIA's Vulkan driver Dawn
 * offers shader-f16 only from driver 615.71 on, or with vulkan_enable_f16_on_nvidia; its
 * subgroup matrices (VK_KHR_cooperative_matrix, the tensor cores) need allow_unsafe_apis.
 */
export function vendorToggles(vendorID: number): string[] {
  return vendorID === NVIDIA ? ["vulkan_enable_f16_on_nvidia", "allow_unsafe_apis"] : [];
}

/** `defaults` added to the user's toggles, except those the user names (on or, with -name, off). */
export function withDefaultToggles(user: DawnToggles, defaults: readonly string[]): DawnToggles {
  const named = new Set([...user.enable, ...user.disable]);
  return { enable: [...user.enable, ...defaults.filter((n) => !named.has(n))], disable: [...user.disable] };
}

/** A chained WGPUDawnTogglesDescriptor, or null when there is nothing to toggle. */
export function togglesChain(t: DawnToggles): Struct | null {
  if (t.enable.length === 0 && t.disable.length === 0) return null;
  return new Struct(48).u32(8, DAWN_TOGGLES_STYPE).u64(16, t.enable.length).cStrings(24, t.enable).u64(32, t.disable.length).cStrings(40, t.disable);
}

// -- features -------------------------------------------------------------------------------

/** The optional features iflame asks for, by their webgpu.h value in each numbering. */
export type Feature = "timestamp-query" | "shader-f16" | "subgroups" | "subgroup-matrix";

const featureValues: Record<FeatureNumbering, Partial<Record<Feature, number>>> = {
  // bun-webgpu 0.1.x's Dawn: its subgroup matrices are out of reach (issue 15).
  "2025-early": { "timestamp-query": 0x03, "shader-f16": 0x0a, subgroups: 0x11 },
  // Dawn extensions are 0x0005xxxx: ChromiumExperimentalSubgroupMatrix.
  current: { "timestamp-query": 0x09, "shader-f16": 0x0b, subgroups: 0x12, "subgroup-matrix": 0x50034 },
};

/** iflame's features among the adapter's raw values, with each one's raw value. */
export function knownFeatures(numbering: FeatureNumbering, available: ReadonlySet<number>): Map<Feature, number> {
  return new Map(
    (Object.entries(featureValues[numbering]) as [Feature, number][]).filter(([, value]) => available.has(value)),
  );
}

/** What the device was created with, for kernels to choose their variant. */
export interface DeviceFeatures {
  timestampQuery: boolean;
  f16: boolean;
  subgroups: boolean;
  /** The subgroup-matrix shapes the device can multiply, or null without the feature. */
  subgroupMatrix: SubgroupMatrixConfig[] | null;
}

/** The webgpu.h names of the features in use, for reports. */
export function featureNames(f: DeviceFeatures): string[] {
  const names: [string, boolean][] = [
    ["timestamp-query", f.timestampQuery],
    ["shader-f16", f.f16],
    ["subgroups", f.subgroups],
    ["subgroup-matrix", f.subgroupMatrix !== null],
  ];
  return names.filter(([, on]) => on).map(([name]) => name);
}

export function readAdapterFeatures(lib: WebGPULibrary["symbols"], shim: Shim, adapter: Handle): Set<number> {
  const s = new BigUint64Array(2);
  lib.wgpuAdapterGetFeatures(adapter, ptr(s));
  const count = Number(s[0]);
  const list = count ? new Uint32Array(toArrayBuffer(Number(s[1]), 0, count * 4)) : new Uint32Array();
  const set = new Set(list);
  shim.shim_supported_features_free_members(s);
  return set;
}

// -- adapter info ---------------------------------------------------------------------------

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
  vendorID: number;
  deviceID: number;
  subgroupMinSize: number;
  subgroupMaxSize: number;
}

/** WGPUAdapterInfo (96 bytes); `chain` is put in its nextInChain. */
function getInfo(lib: WebGPULibrary["symbols"], adapter: Handle, chain: Struct | null): Struct {
  const s = new Struct(96).pointer(0, chain);
  if (lib.wgpuAdapterGetInfo(adapter, s.address) !== StatusSuccess) throw new Error("wgpuAdapterGetInfo failed");
  return s;
}

export function readAdapterInfo(lib: WebGPULibrary["symbols"], shim: Shim, adapter: Handle): AdapterInfo {
  const s = getInfo(lib, adapter, null);
  const v = s.dataView;
  const info: AdapterInfo = {
    vendor: readString(v, 8),
    architecture: readString(v, 24),
    device: readString(v, 40),
    description: readString(v, 56),
    backend: backendNames[v.getUint32(72, true)] ?? "unknown",
    adapterType: adapterTypes[v.getUint32(76, true)] ?? "unknown",
    vendorID: v.getUint32(80, true),
    deviceID: v.getUint32(84, true),
    subgroupMinSize: v.getUint32(88, true),
    subgroupMaxSize: v.getUint32(92, true),
  };
  shim.shim_adapter_info_free_members(s.bytes);
  return info;
}

// -- limits ---------------------------------------------------------------------------------

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

/** The adapter's WGPULimits (kept whole: the device is asked for all of them) and what iflame reads of them. */
export function readAdapterLimits(lib: WebGPULibrary["symbols"], adapter: Handle): { all: Struct; limits: Limits } {
  const all = new Struct(512);
  if (lib.wgpuAdapterGetLimits(adapter, all.address) !== StatusSuccess) throw new Error("wgpuAdapterGetLimits failed");
  const v = all.dataView;
  return {
    all,
    limits: {
      maxStorageBuffersPerShaderStage: v.getUint32(52, true),
      maxStorageBufferBindingSize: Number(v.getBigUint64(72, true)),
      minUniformBufferOffsetAlignment: v.getUint32(80, true),
      minStorageBufferOffsetAlignment: v.getUint32(84, true),
      maxBufferSize: Number(v.getBigUint64(96, true)),
      maxComputeWorkgroupStorageSize: v.getUint32(124, true),
      maxComputeInvocationsPerWorkgroup: v.getUint32(128, true),
      maxComputeWorkgroupSizeX: v.getUint32(132, true),
      maxComputeWorkgroupsPerDimension: v.getUint32(144, true),
    },
  };
}

// -- subgroup matrices ----------------------------------------------------------------------

/** sType of Dawn's WGPUAdapterPropertiesSubgroupMatrixConfigs {chain, configCount, configs}. */
const SUBGROUP_MATRIX_CONFIGS_STYPE = 0x0005003b;
const componentTypes = { 1: "f32", 2: "f16", 3: "u32", 4: "i32", 5: "u8", 6: "i8" } as const;
export type ComponentType = (typeof componentTypes)[keyof typeof componentTypes];

/** One shape the hardware multiplies: an M×K `component` matrix by a K×N one into an M×N `result`. */
export interface SubgroupMatrixConfig {
  component: ComponentType;
  result: ComponentType;
  M: number;
  N: number;
  K: number;
}

/**
 * Bytes per WGPUSubgroupMatrixConfig, newest layout first. webgpu.h declares five u32 fields
 * {componentType, resultComponentType, M, N, K} (20 bytes), but the Dawn in webgpu@0.6.2 lays
 * its configs out 28 bytes apart: two more u32 follow K (both equal to the adapter's subgroup
 * size on NVIDIA and on lavapipe). Read 20 bytes apart, its list decodes to nonsense after the
 * first entry (seen on an H200: "type 32 × type 32 → type 32, M 2 N 2 K 16").
 */
const CONFIG_STRIDES = [28, 20];

const isShape = (n: number) => Number.isInteger(Math.log2(n)) && n >= 1 && n <= 64;

/**
 * `count` configs from the array that `words(bytes)` exposes: the first stride of CONFIG_STRIDES
 * under which every entry has known component types and power-of-two shapes (the layout is not
 * versioned, so it is recognised). An array no stride explains is an error naming what was read.
 */
export function parseSubgroupMatrixConfigs(count: number, words: (bytes: number) => Uint32Array): SubgroupMatrixConfig[] {
  for (const stride of CONFIG_STRIDES) {
    const w = words(count * stride);
    const list: SubgroupMatrixConfig[] = [];
    for (let i = 0; i < count; i++) {
      const [component, result, M, N, K] = w.subarray((i * stride) / 4, (i * stride) / 4 + 5);
      const c = componentTypes[component as keyof typeof componentTypes];
      const r = componentTypes[result as keyof typeof componentTypes];
      if (!c || !r || ![M!, N!, K!].every(isShape)) break;
      list.push({ component: c, result: r, M: M!, N: N!, K: K! });
    }
    if (list.length === count) return list;
  }
  const raw = Array.from(words(count * 20).subarray(0, 10)).join(",");
  throw new Error(`Dawn's subgroup-matrix configurations are in a layout iflame does not know (${count} configs; first words ${raw})`);
}

/**
 * The adapter's subgroup-matrix configurations. Only valid when the adapter has the feature:
 * otherwise Dawn fails the whole wgpuAdapterGetInfo call.
 */
export function readSubgroupMatrixConfigs(lib: WebGPULibrary["symbols"], shim: Shim, adapter: Handle): SubgroupMatrixConfig[] {
  const configs = new Struct(32).u32(8, SUBGROUP_MATRIX_CONFIGS_STYPE);
  const info = getInfo(lib, adapter, configs);
  const count = Number(configs.dataView.getBigUint64(16, true));
  const at = Number(configs.dataView.getBigUint64(24, true));
  const list = count && at ? parseSubgroupMatrixConfigs(count, (bytes) => new Uint32Array(toArrayBuffer(at, 0, bytes))) : [];
  shim.shim_subgroup_matrix_configs_free_members(configs.bytes);
  shim.shim_adapter_info_free_members(info.bytes);
  return list;
}

export function noAdapterError(message: string): Error {
  return new Error(
    `No WebGPU adapter found${message ? ` (${message})` : ""}. iflame needs a Vulkan, Metal or D3D12 driver: ` +
      "install your GPU vendor's driver, or on a machine without a GPU install Mesa's CPU driver lavapipe " +
      "(Debian/Ubuntu: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1 — Mesa ≥ 24; `bash scripts/ensure-vulkan.sh` does it).",
  );
}
