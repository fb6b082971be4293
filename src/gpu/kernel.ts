/**
 * A WGSL compute kernel: a file of wgsl/ (wgsl-files.ts) with its includes expanded, specialised
 * by constants and type aliases appended at the end of the module (WGSL allows use before
 * declaration at module scope), and its bindings read from the source. A line
 * `//#include "name.wgsl"` is replaced by that file (once per module); `SourceMap.locate` turns a
 * line of the expanded module back into the file and line it came from, so compile errors name
 * the right one. A kernel given an f16 type gets `enable f16;` in front of its first line.
 */
import type { SourceLocation } from "../../ffi/webgpu.ts";
import { WGSL_FILES } from "./wgsl-files.ts";

export type ConstValue = number | boolean | { u32: number } | { i32: number } | { f32: number };

export interface KernelSource {
  /** The file name: its source in wgsl/, and the name errors give (e.g. "matmul.wgsl"). */
  file: string;
  /** The source, when it is not a file of wgsl/ (tests). */
  code?: string;
}

/** Element types a kernel may be specialised to (`alias NAME = type;`). */
export type ScalarType = "f32" | "f16" | "i32" | "u32";
/** A binding's element type: a scalar, or a vector of 4 (loads of 4 neighbours at once). */
export type ElementType = ScalarType | `vec4<${ScalarType}>`;

export interface KernelSpec extends KernelSource {
  entry?: string;
  /** Module-scope constants the source uses but does not declare. */
  constants?: Record<string, ConstValue>;
  /** Type aliases the source uses but does not declare (e.g. storage element types). */
  types?: Record<string, ElementType>;
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

/** The expanded module and where each of its lines came from. */
export interface SourceMap {
  code: string;
  locate(line: number): SourceLocation;
}

const INCLUDE = /^\s*\/\/#include\s+"([^"]+)"\s*$/;

/**
 * `file`'s source (or `code`) with its includes expanded, recursively and each file once;
 * `files` resolves included names (default: wgsl/).
 */
export function loadWgsl(file: string, code?: string, files: Readonly<Record<string, string>> = WGSL_FILES): SourceMap {
  const lines: string[] = [];
  const origins: SourceLocation[] = [];
  const seen = new Set<string>();
  const expand = (name: string, text: string, from: string) => {
    seen.add(name);
    text.split("\n").forEach((line, i) => {
      const inc = INCLUDE.exec(line);
      if (!inc) {
        lines.push(line);
        origins.push({ file: name, line: i + 1, text: line });
        return;
      }
      const included = files[inc[1]];
      if (included === undefined) throw new Error(`${name}:${i + 1}: #include "${inc[1]}": no such file in wgsl/ (included from ${from})`);
      if (!seen.has(inc[1])) expand(inc[1], included, `${name}:${i + 1}`);
    });
  };
  const text = code ?? files[file];
  if (text === undefined) throw new Error(`${file}: no such file in wgsl/`);
  expand(file, text, file);
  return {
    code: lines.join("\n"),
    locate: (line) => origins[line - 1] ?? { file: `${file} (specialisation)`, line: line - origins.length, text: "" },
  };
}

/** The module to compile: the loaded source with the spec's constants and type aliases appended. */
export function specialise(spec: KernelSpec): SourceMap {
  const source = loadWgsl(spec.file, spec.code);
  const types = Object.entries(spec.types ?? {});
  const lines = [...Object.entries(spec.constants ?? {}).map(([k, v]) => wgslConst(k, v)), ...types.map(([k, t]) => `alias ${k} = ${t};`)];
  // Directives must precede every declaration; on the first line they keep line numbers.
  const needsF16 = types.some(([, t]) => t.includes("f16")) && !/^\s*enable[^;]*\bf16\b/m.test(source.code);
  const code = needsF16 ? `enable f16; ${source.code}` : source.code;
  return { ...source, code: lines.length ? `${code}\n// specialisation\n${lines.join("\n")}\n` : code };
}

export function cacheKey(spec: KernelSpec): string {
  return `${spec.file}#${spec.entry ?? "main"}#${JSON.stringify(spec.constants ?? {})}#${JSON.stringify(spec.types ?? {})}`;
}
