/**
 * What `iflame eval` reports: the schema of eval.json (the viewer reads it back through this
 * schema) and the table printed on stdout. Metrics are stored as reported: MMD ×10³ (a mean
 * squared distance of normalised meshes), COV and 1-NNA in %, JSD ×10²; null when the generated
 * set has no usable mesh.
 */
import { z } from "zod";

const SetSummarySchema = z.object({
  folder: z.string(),
  /** Mesh files found, and those that parsed. */
  files: z.number(),
  parsed: z.number(),
  /** Meshes in the point metrics (parsed, with surface area to sample). */
  used: z.number(),
  unusable: z.array(z.object({ file: z.string(), reason: z.string() })),
  /** Generated token streams that passed generate's grammar check (null for plain files). */
  validStreams: z.object({ valid: z.number(), total: z.number() }).nullable(),
  /** Shares of the parsed meshes, in %. */
  watertight: z.number(),
  manifold: z.number(),
  faces: z.number(),
  degenerateFaces: z.number(),
  duplicateFaces: z.number(),
  /** Mean triangles per parsed mesh (an n-gon counts n − 2). */
  meanTriangles: z.number(),
});

export const EvalReportSchema = z.object({
  settings: z.object({ points: z.number(), seed: z.number(), jsdResolution: z.number() }),
  units: z.object({ mmd: z.string(), cov: z.string(), nna: z.string(), jsd: z.string() }),
  counts: z.object({ generated: z.number(), reference: z.number() }),
  mmd: z.number().nullable(),
  cov: z.number().nullable(),
  nna: z.number().nullable(),
  jsd: z.number().nullable(),
  /** MMD from the generated side (PointFlow's lgan_mmd_smp), and 1-NNA within each set. */
  mmdGenerated: z.number().nullable(),
  nnaGenerated: z.number().nullable(),
  nnaReference: z.number().nullable(),
  generated: SetSummarySchema,
  reference: SetSummarySchema,
  /** Triangles per mesh; bin b counts [edges[b], edges[b + 1]). */
  faceHistogram: z.object({ edges: z.array(z.number()), generated: z.array(z.number()), reference: z.array(z.number()) }),
  seconds: z.object({ read: z.number(), sample: z.number(), chamfer: z.number(), metrics: z.number() }),
});

export type EvalReport = z.infer<typeof EvalReportSchema>;
export type SetSummary = z.infer<typeof SetSummarySchema>;

export const EVAL_UNITS: EvalReport["units"] = { mmd: "×10³, Chamfer (squared distance)", cov: "%", nna: "%, 50 is ideal", jsd: "×10²" };

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

export function formatEvalTable(r: EvalReport): string {
  const h = r.faceHistogram;
  return [
    `${r.counts.generated} generated (${r.generated.folder}) against ${r.counts.reference} reference (${r.reference.folder}) meshes, ` +
      `${r.settings.points} points each, seed ${r.settings.seed}`,
    ...table(metricRows(r)),
    "",
    ...table([["validity", "generated", "reference"], ...validityRows(r)]),
    "",
    ...table([["triangles", "generated", "reference"], ...h.generated.map((g, b) => [`${h.edges[b]}–${h.edges[b + 1] - 1}`, `${g}`, `${h.reference[b]}`])]),
  ].join("\n");
}
