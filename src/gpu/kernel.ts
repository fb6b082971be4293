/**
 * A WGSL compute kernel: source text (imported from wgsl/*.wgsl), specialised by constants
 * appended at the end of the module (WGSL allows use before declaration at module scope, so
 * error line numbers still match the file), and its bindings read from the source.
 */
import type { BindingType } from "../../ffi/webgpu.ts";

export type ConstValue = number | boolean | { u32: number } | { i32: number } | { f32: number };

export interface KernelSource {
  /** The file name, for error messages (e.g. "matmul.wgsl"). */
  file: string;
  code: string;
}

export interface KernelSpec extends KernelSource {
  entry?: string;
  /** Module-scope constants the source uses but does not declare. */
  constants?: Record<string, ConstValue>;
}

function wgslConst(name: string, v: ConstValue): string {
  if (typeof v === "boolean") return `const ${name}: bool = ${v};`;
  if (typeof v === "number") {
    if (!Number.isInteger(v) || v < 0) throw new Error(`constant ${name}=${v}: use {i32} or {f32} for non-u32 values`);
    return `const ${name}: u32 = ${v}u;`;
  }
  if ("u32" in v) return `const ${name}: u32 = ${v.u32}u;`;
  if ("i32" in v) return `const ${name}: i32 = ${v.i32}i;`;
  return `const ${name}: f32 = ${Number.isInteger(v.f32) ? v.f32.toFixed(1) : v.f32};`;
}

export function specialise(spec: KernelSpec): string {
  const consts = Object.entries(spec.constants ?? {}).map(([k, v]) => wgslConst(k, v));
  return consts.length ? `${spec.code}\n// specialisation\n${consts.join("\n")}\n` : spec.code;
}

export function cacheKey(spec: KernelSpec): string {
  return `${spec.file}#${spec.entry ?? "main"}#${JSON.stringify(spec.constants ?? {})}`;
}

/**
 * The bindings of group 0, in binding order, from the declarations in the source.
 * Bindings must be numbered 0..n-1 without gaps.
 */
export function parseBindings(file: string, code: string): BindingType[] {
  const found = new Map<number, BindingType>();
  const re = /@group\(0\)\s*@binding\((\d+)\)\s*var<\s*(storage|uniform)\s*(?:,\s*(read|read_write))?\s*>/g;
  for (const m of code.matchAll(re)) {
    const type: BindingType = m[2] === "uniform" ? "uniform" : m[3] === "read_write" ? "storage" : "read-only-storage";
    found.set(Number(m[1]), type);
  }
  const bindings: BindingType[] = [];
  for (let i = 0; i < found.size; i++) {
    const t = found.get(i);
    if (!t) throw new Error(`${file}: bindings must be numbered 0..${found.size - 1} in group 0; binding ${i} is missing`);
    bindings.push(t);
  }
  return bindings;
}
