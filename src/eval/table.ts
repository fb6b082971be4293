/**
 * The eval report as rows of a table: printed by `iflame eval` and `generate --eval-against`, and
 * drawn by the viewer's page (this module imports no runtime code, so the page bundle stays small).
 */
import type { EvalReport, SetSummary } from "./report.ts";

/** The metric rows of the table: [label, value] (the viewer shows the same rows). */
export function metricRows(r: EvalReport): [string, string][] {
  const f = (v: number | null, digits: number) => (v === null ? "–" : v.toFixed(digits));
  return [
    ["MMD-CD (×10³, lower is better)", f(r.mmd, 3)],
    ["COV-CD (%, higher is better)", f(r.cov, 1)],
    ["1-NNA-CD (%, 50 is ideal)", f(r.nna, 1)],
    ["  of generated / of reference", `${f(r.nnaGenerated, 1)} / ${f(r.nnaReference, 1)}`],
    ["JSD (×10², lower is better)", f(r.jsd, 3)],
  ];
}

/** Validity rows: [label, generated, reference]. */
export function validityRows(r: EvalReport): [string, string, string][] {
  const share = (part: number, whole: number) => `${part}/${whole}${whole ? ` (${((100 * part) / whole).toFixed(1)}%)` : ""}`;
  const side = (s: SetSummary): string[] => [
    share(s.parsed, s.files),
    s.validStreams ? share(s.validStreams.valid, s.validStreams.total) : "–",
    `${s.used}`,
    `${s.watertight.toFixed(1)}%`,
    `${s.manifold.toFixed(1)}%`,
    share(s.degenerateFaces, s.faces),
    share(s.duplicateFaces, s.faces),
    s.meanTriangles.toFixed(1),
  ];
  const labels = ["files that parse", "valid token streams", "meshes in the metrics", "watertight", "manifold", "degenerate faces", "duplicate faces", "triangles per mesh (mean)"];
  const [g, ref] = [side(r.generated), side(r.reference)];
  return labels.map((label, i) => [label, g[i], ref[i]]);
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) => `  ${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("   ")}`.trimEnd());
}

/** Face-count histogram rows: [bin, generated, reference]. */
export function faceHistogramRows(r: EvalReport): [string, string, string][] {
  const h = r.faceHistogram;
  return h.generated.map((g, b) => [`${h.edges[b]}–${h.edges[b + 1] - 1}`, `${g}`, `${h.reference[b]}`]);
}

export function formatEvalTable(r: EvalReport): string {
  return [
    `${r.counts.generated} generated (${r.generated.folder}) against ${r.counts.reference} reference (${r.reference.folder}) meshes, ` +
      `${r.settings.points} points each, seed ${r.settings.seed}`,
    ...table(metricRows(r)),
    "",
    ...table([["validity", "generated", "reference"], ...validityRows(r)]),
    "",
    ...table([["triangles", "generated", "reference"], ...faceHistogramRows(r)]),
  ].join("\n");
}
