/** webgpu.h's enum and flag values (webgpu-native/webgpu-headers) and the descriptor shapes WebGPUDevice takes. */
import type { DawnToggles } from "./adapter.ts";
import type { Completion, Handle } from "./struct.ts";

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
export const MapModeRead = 1;
export const ShaderStageCompute = 4;
export const SType_ShaderSourceWGSL = 2;
export const PowerPreferenceHighPerformance = 2;
export const QueryTypeTimestamp = 2;
export const ErrorFilterValidation = 1;
export const ErrorFilterOutOfMemory = 2;
export const StatusSuccess = 1;
export type BindingType = "storage" | "read-only-storage" | "uniform";
export const bindingTypeValue: Record<BindingType, number> = { uniform: 2, storage: 3, "read-only-storage": 4 };

export interface BindGroupEntry {
  binding: number;
  buffer: Handle;
  offset?: number;
  size: number;
}

/** A map started by mapReadAsync: `completion.done` once processEvents has delivered it. */
export interface PendingMap {
  readonly buffer: Handle;
  readonly offset: number;
  readonly size: number;
  readonly completion: Completion;
}

export interface TimestampWrites {
  querySet: Handle;
  beginIndex: number;
  endIndex: number;
}

export interface DeviceOptions {
  /** Adapter index (in `adapters`) or case-insensitive name substring; default $IFLAME_ADAPTER. */
  adapter?: string;
  /** A data-parallel rank's index on its host: without a choice it takes that discrete GPU (ffi/adapter-choice.ts). */
  localRank?: number;
  /** Dawn toggles for the instance, adapter and device; default from $IFLAME_DAWN_TOGGLES. */
  toggles?: DawnToggles;
  /** More features to ask for, by raw webgpu.h value (probes of experimental features). */
  extraFeatureValues?: readonly number[];
}
