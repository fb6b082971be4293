/**
 * Compiles shim.c with bun:ffi's built-in TinyCC and hands it the library's entry points.
 * The C source is imported as a file so `bun build --compile` embeds it; TinyCC reads from
 * the real file system, so an embedded copy is written to a temp file first.
 */
import { cc, FFIType as T, ptr } from "bun:ffi";
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import shimSource from "./shim.c" with { type: "file" };
import type { OpenedLibrary } from "./library.ts";

const shimSymbols = {
  shim_bind: { args: [T.ptr], returns: T.void },
  shim_request_adapter: { args: [T.ptr, T.ptr, T.ptr], returns: T.void },
  shim_request_device: { args: [T.ptr, T.ptr, T.ptr], returns: T.void },
  shim_map_async: { args: [T.ptr, T.u64, T.u64, T.u64, T.ptr], returns: T.void },
  shim_on_submitted_work_done: { args: [T.ptr, T.ptr], returns: T.void },
  shim_pop_error_scope: { args: [T.ptr, T.ptr], returns: T.void },
  shim_adapter_info_free_members: { args: [T.ptr], returns: T.void },
  shim_supported_features_free_members: { args: [T.ptr], returns: T.void },
  shim_subgroup_matrix_configs_free_members: { args: [T.ptr], returns: T.void },
  shim_fill_device_callbacks: { args: [T.ptr, T.ptr], returns: T.void },
  shim_events_written: { args: [], returns: T.u32 },
  shim_event: { args: [T.u32], returns: T.ptr },
  shim_sizeof_completion: { args: [], returns: T.u32 },
  shim_enumerate_adapters: { args: [T.ptr, T.ptr, T.ptr, T.ptr, T.u32], returns: T.u32 },
  shim_redirect_stderr: { args: [T.i32], returns: T.i32 },
  shim_restore_stderr: { args: [T.i32], returns: T.void },
} as const;

/** Order matters: shim_bind reads this table by index; the optional Dawn extension comes last. */
const SHIM_ENTRY_POINTS = [
  "wgpuInstanceRequestAdapter",
  "wgpuAdapterRequestDevice",
  "wgpuBufferMapAsync",
  "wgpuQueueOnSubmittedWorkDone",
  "wgpuDevicePopErrorScope",
  "wgpuAdapterInfoFreeMembers",
  "wgpuSupportedFeaturesFreeMembers",
] as const;

export type Shim = ReturnType<typeof cc<typeof shimSymbols>>["symbols"];

function sourcePath(): string {
  const path = shimSource;
  if (!path.startsWith("/$bunfs/") && !/^[A-Z]:\\~BUN\\/.test(path)) return path;
  const dir = mkdtempSync(join(tmpdir(), "iflame-shim-"));
  const copy = join(dir, "shim.c");
  writeFileSync(copy, readFileSync(path));
  return copy;
}

export function compileShim(opened: OpenedLibrary): Shim {
  let compiled;
  try {
    compiled = cc({ source: sourcePath(), symbols: shimSymbols });
  } catch (e) {
    throw new Error(`could not compile the WebGPU C shim (ffi/shim.c) with bun:ffi cc: ${(e as Error).message}`);
  }
  const table = new BigUint64Array(SHIM_ENTRY_POINTS.length + 1);
  SHIM_ENTRY_POINTS.forEach((name, i) => {
    table[i] = BigInt((opened.lib.symbols[name] as unknown as { ptr: number }).ptr);
  });
  table[SHIM_ENTRY_POINTS.length] = BigInt(opened.subgroupMatrixConfigsFreeMembers ?? 0);
  compiled.symbols.shim_bind(ptr(table));
  return compiled.symbols;
}

/**
 * Dawn's adapter discovery writes driver notes straight to the process's stderr, not through
 * a callback: on lavapipe two lines about clamped dynamic-buffer limits at every start. Runs
 * `discover` with stderr pointed at an unlinked temp file, then passes on every line but those.
 */
const CLAMPED_LIMIT_NOTE = /^Warning: maxDynamic\w+PerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

export function withStderrFiltered(shim: Shim, discover: () => void): void {
  if (process.platform === "win32") return discover(); // an open file cannot be unlinked there
  const path = join(tmpdir(), `iflame-stderr-${process.pid}-${Date.now()}`);
  const fd = openSync(path, "w+");
  unlinkSync(path);
  const saved = shim.shim_redirect_stderr(fd);
  try {
    discover();
  } finally {
    shim.shim_restore_stderr(saved);
    const text = Buffer.alloc(fstatSync(fd).size);
    readSync(fd, text, 0, text.length, 0);
    closeSync(fd);
    const kept = text.toString().split("\n").filter((line) => line && !CLAMPED_LIMIT_NOTE.test(line));
    if (kept.length) process.stderr.write(`${kept.join("\n")}\n`);
  }
}
