/**
 * Opens webgpu's dawn.node (a Node-API addon that embeds a current Dawn) as a plain webgpu.h
 * library. Its wgpu* functions are hidden: they are not exported, so dlopen cannot name them,
 * but the full symbol table still lists them. They are dawn_proc trampolines that forward
 * through a process-wide proc table, which must first be filled with
 * dawnProcSetProcs(dawn::native::GetProcs()).
 *
 * Addresses: the symbol table gives link-time addresses; the exported
 * napi_register_module_v1 gives the load bias (its runtime address minus its table value),
 * which is the same for every symbol of the image.
 */
import { dlopen, FFIType as T, linkSymbols, type Pointer } from "bun:ffi";
import { readFileSync } from "node:fs";
import { findSymbols, SymbolTableError, type Arch } from "./symtab.ts";
import { webgpuSymbols } from "./symbols.ts";
import type { WebGPULibrary } from "./library.ts";

const ANCHOR = "napi_register_module_v1";
const SET_PROCS = "dawnProcSetProcs";
const GET_PROCS = "_ZN4dawn6native8GetProcsEv"; // dawn::native::GetProcs()

export interface ProcTable {
  lib: WebGPULibrary;
  /** Addresses of the optional names that the library has. */
  optional: Map<string, Pointer>;
}

/** Raised when the file lacks the symbols this route needs; the message is one line. */
export class ProcTableUnavailable extends Error {}

function hostArch(): Arch {
  if (process.arch === "x64" || process.arch === "arm64") return process.arch;
  throw new ProcTableUnavailable(`no symbol-table reader for ${process.arch}`);
}

/** Kept open for the life of the process: the functions linked below point into it. */
const anchors: unknown[] = [];

export function openDawnNode(path: string, optionalNames: readonly string[]): ProcTable {
  const required = [ANCHOR, SET_PROCS, GET_PROCS, ...Object.keys(webgpuSymbols)];
  let table;
  try {
    table = findSymbols(readFileSync(path), [...required, ...optionalNames], hostArch());
  } catch (e) {
    if (e instanceof SymbolTableError) throw new ProcTableUnavailable(`cannot read its symbol table: ${e.message}`);
    throw e;
  }
  const missing = required.filter((n) => !table.has(n));
  if (missing.length) {
    throw new ProcTableUnavailable(`its symbol table lacks ${missing.length} of the ${required.length} symbols the proc-table route needs (${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ", …" : ""})`);
  }
  const anchor = dlopen(path, { [ANCHOR]: { args: [], returns: T.void } });
  anchors.push(anchor);
  const bias = BigInt((anchor.symbols[ANCHOR] as unknown as { ptr: number }).ptr) - table.get(ANCHOR)!;
  const at = (name: string) => Number(bias + table.get(name)!) as Pointer;
  const procs = linkSymbols({
    [SET_PROCS]: { ptr: at(SET_PROCS), args: [T.ptr], returns: T.void },
    [GET_PROCS]: { ptr: at(GET_PROCS), args: [], returns: T.ptr },
  }).symbols;
  procs[SET_PROCS]!(procs[GET_PROCS]!());
  const linked = Object.fromEntries(Object.entries(webgpuSymbols).map(([name, signature]) => [name, { ...signature, ptr: at(name) }]));
  const lib = linkSymbols(linked) as unknown as WebGPULibrary;
  const optional = new Map(optionalNames.filter((n) => table.has(n)).map((n) => [n, at(n)]));
  return { lib, optional };
}
