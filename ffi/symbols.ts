/**
 * The webgpu.h entry points iflame calls, as bun:ffi signatures. Handles are pointers.
 * Entries typed `() => void` are never called from JS: their addresses go to the C shim,
 * which calls them with structs by value (see shim.c).
 */

const fn = <const A extends readonly string[], const R extends string = "void">(args: A, returns?: R) =>
  ({ args, returns: (returns ?? "void") as R }) as const;
const viaShim = fn([]);

export const webgpuSymbols = {
  wgpuCreateInstance: fn(["ptr"], "ptr"),
  wgpuInstanceProcessEvents: fn(["ptr"]),
  wgpuInstanceRelease: fn(["ptr"]),
  wgpuInstanceRequestAdapter: viaShim,

  wgpuAdapterGetInfo: fn(["ptr", "ptr"], "u32"),
  wgpuAdapterInfoFreeMembers: viaShim,
  wgpuAdapterGetFeatures: fn(["ptr", "ptr"]),
  wgpuSupportedFeaturesFreeMembers: viaShim,
  wgpuAdapterGetLimits: fn(["ptr", "ptr"], "u32"),
  wgpuAdapterRequestDevice: viaShim,
  wgpuAdapterRelease: fn(["ptr"]),

  wgpuDeviceGetQueue: fn(["ptr"], "ptr"),
  wgpuDeviceCreateBuffer: fn(["ptr", "ptr"], "ptr"),
  wgpuDeviceCreateShaderModule: fn(["ptr", "ptr"], "ptr"),
  wgpuDeviceCreateBindGroupLayout: fn(["ptr", "ptr"], "ptr"),
  wgpuDeviceCreatePipelineLayout: fn(["ptr", "ptr"], "ptr"),
  wgpuDeviceCreateComputePipeline: fn(["ptr", "ptr"], "ptr"),
  wgpuDeviceCreateBindGroup: fn(["ptr", "ptr"], "ptr"),
  wgpuDeviceCreateCommandEncoder: fn(["ptr", "ptr"], "ptr"),
  wgpuDeviceCreateQuerySet: fn(["ptr", "ptr"], "ptr"),
  wgpuDevicePushErrorScope: fn(["ptr", "u32"]),
  wgpuDevicePopErrorScope: viaShim,
  wgpuDeviceDestroy: fn(["ptr"]),
  wgpuDeviceRelease: fn(["ptr"]),

  wgpuBufferMapAsync: viaShim,
  wgpuBufferGetConstMappedRange: fn(["ptr", "u64", "u64"], "ptr"),
  wgpuBufferGetMappedRange: fn(["ptr", "u64", "u64"], "ptr"),
  wgpuBufferUnmap: fn(["ptr"]),
  wgpuBufferDestroy: fn(["ptr"]),
  wgpuBufferRelease: fn(["ptr"]),

  wgpuQueueSubmit: fn(["ptr", "u64", "ptr"]),
  wgpuQueueWriteBuffer: fn(["ptr", "ptr", "u64", "ptr", "u64"]),
  wgpuQueueOnSubmittedWorkDone: viaShim,
  wgpuQueueRelease: fn(["ptr"]),

  wgpuCommandEncoderBeginComputePass: fn(["ptr", "ptr"], "ptr"),
  wgpuCommandEncoderCopyBufferToBuffer: fn(["ptr", "ptr", "u64", "ptr", "u64", "u64"]),
  wgpuCommandEncoderClearBuffer: fn(["ptr", "ptr", "u64", "u64"]),
  wgpuCommandEncoderResolveQuerySet: fn(["ptr", "ptr", "u32", "u32", "ptr", "u64"]),
  wgpuCommandEncoderFinish: fn(["ptr", "ptr"], "ptr"),
  wgpuCommandEncoderRelease: fn(["ptr"]),
  wgpuCommandBufferRelease: fn(["ptr"]),

  wgpuComputePassEncoderSetPipeline: fn(["ptr", "ptr"]),
  wgpuComputePassEncoderSetBindGroup: fn(["ptr", "u32", "ptr", "u64", "ptr"]),
  wgpuComputePassEncoderDispatchWorkgroups: fn(["ptr", "u32", "u32", "u32"]),
  wgpuComputePassEncoderDispatchWorkgroupsIndirect: fn(["ptr", "ptr", "u64"]),
  wgpuComputePassEncoderEnd: fn(["ptr"]),
  wgpuComputePassEncoderRelease: fn(["ptr"]),

  wgpuShaderModuleRelease: fn(["ptr"]),
  wgpuBindGroupLayoutRelease: fn(["ptr"]),
  wgpuPipelineLayoutRelease: fn(["ptr"]),
  wgpuComputePipelineRelease: fn(["ptr"]),
  wgpuBindGroupRelease: fn(["ptr"]),
  wgpuQuerySetDestroy: fn(["ptr"]),
  wgpuQuerySetRelease: fn(["ptr"]),
} as const;
