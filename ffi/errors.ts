/** Errors the binding raises, and the formatting of their messages. */

export class WGSLCompileError extends Error {}
export class GPUOutOfMemoryError extends Error {}

/** Where a line of a compiled module came from. */
export interface SourceLocation {
  file: string;
  line: number;
  text: string;
}

/**
 * Turns Dawn's "…:LINE:COL error: …" messages into "file:LINE:COL: message" plus the source line;
 * `locate` maps a line of a module assembled from several files back to its file and line.
 */
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
