/**
 * A WGSL compute kernel: source text (imported from wgsl/*.wgsl), specialised by constants and
 * type aliases appended at the end of the module (WGSL allows use before declaration at module
 * scope, so error line numbers still match the file), and its bindings read from the source.
 * A kernel given an f16 type gets `enable f16;` put in front of its first line.
 */
import type { BindingType } from "../../ffi/webgpu.ts";

export type ConstValue = number | boolean | { u32: number } | { i32: number } | { f32: number };

export interface KernelSource {
  /** The file name, for error messages (e.g. "matmul.wgsl"). */
  file: string;
  code: string;
}

/** Element types a kernel may be specialised to (`alias NAME = type;`). */
export type ScalarType = "f32" | "f16" | "i32" | "u32";

export interface KernelSpec extends KernelSource {
  entry?: string;
  /** Module-scope constants the source uses but does not declare. */
  constants?: Record<string, ConstValue>;
  /** Type aliases the source uses but does not declare (e.g. storage element types). */
  types?: Record<string, ScalarType>;
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
  const types = Object.entries(spec.types ?? {});
  const lines = [...Object.entries(spec.constants ?? {}).map(([k, v]) => wgslConst(k, v)), ...types.map(([k, t]) => `alias ${k} = ${t};`)];
  // Directives must precede every declaration; on the first line they keep line numbers.
  const needsF16 = types.some(([, t]) => t === "f16") && !/^\s*enable[^;]*\bf16\b/m.test(spec.code);
  const code = needsF16 ? `enable f16; ${spec.code}` : spec.code;
  return lines.length ? `${code}\n// specialisation\n${lines.join("\n")}\n` : code;
}

export function cacheKey(spec: KernelSpec): string {
  return `${spec.file}#${spec.entry ?? "main"}#${JSON.stringify(spec.constants ?? {})}#${JSON.stringify(spec.types ?? {})}`;
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
