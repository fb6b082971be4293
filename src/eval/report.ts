/**
 * What `iflame eval` reports: the schema of eval.json (the viewer reads it back through this
 * schema; src/eval/table.ts lays it out). Metrics are stored as reported: MMD ×10³ (a mean
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
  /** Wall time: reading, validity and point sampling; the GPU distances; MMD, COV, 1-NNA and JSD. */
  seconds: z.object({ read: z.number(), chamfer: z.number(), metrics: z.number() }),
});

export type EvalReport = z.infer<typeof EvalReportSchema>;
export type SetSummary = z.infer<typeof SetSummarySchema>;

export const EVAL_UNITS: EvalReport["units"] = { mmd: "×10³, Chamfer (squared distance)", cov: "%", nna: "%, 50 is ideal", jsd: "×10²" };
