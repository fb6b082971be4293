/**
 * `iflame eval` end to end: read both folders, sample every mesh's point cloud, the Chamfer
 * distances of all pairs of the union on the GPU, then MMD, COV, 1-NNA and JSD (PointFlow's
 * definitions, docs/EVAL.md) and the validity figures of both sets.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { Gpu } from "../gpu/runtime.ts";
import { type FolderScan, readMesh, scanMeshFolder } from "../mesh/io.ts";
import { pairwiseChamfer } from "./chamfer.ts";
import { JSD_RESOLUTION, jsdBetweenSets } from "./jsd.ts";
import { mmdCov, oneNearestNeighbourAccuracy } from "./metrics.ts";
import { cloudSeed, samplePoints } from "./points.ts";
import { EVAL_UNITS, type EvalReport, type SetSummary } from "./report.ts";
import { faceCountHistogram, meshValidity } from "./validity.ts";

/** Points sampled per mesh unless told otherwise. */
export const DEFAULT_EVAL_POINTS = 2048;

/** A folder the metrics can read, or an error naming the flag. */
export function checkMeshFolder(flag: string, path: string): void {
  if (!existsSync(path) || !statSync(path).isDirectory()) throw new Error(`--${flag} ${path}: no such folder`);
}

export interface EvalOptions {
  generated: string;
  reference: string;
  /** Only these files of the generated folder (what generate just wrote), instead of every mesh in it. */
  generatedFiles?: readonly string[];
  points: number;
  seed: number;
  /** Token streams that passed generate's grammar check; by default read from the generated folder's samples.json when there is one. */
  validStreams?: { valid: number; total: number };
  log?: (line: string) => void;
}

/** The part of generate's samples.json that says which streams were valid. */
const SamplesIndexSchema = z.object({ samples: z.array(z.object({ valid: z.boolean() })) });

async function validStreamsOf(folder: string): Promise<{ valid: number; total: number } | null> {
  const file = Bun.file(join(folder, "samples.json"));
  if (!(await file.exists())) return null;
  const index = SamplesIndexSchema.safeParse(await file.json().catch(() => null));
  if (!index.success) return null;
  return { valid: index.data.samples.filter((s) => s.valid).length, total: index.data.samples.length };
}

interface ReadSet {
  summary: SetSummary;
  clouds: Float32Array[];
  triangles: number[];
}

/** The listed files of `folder`, or every mesh file under it; files that do not parse are skipped. */
async function readMeshes(folder: string, files?: readonly string[]): Promise<FolderScan> {
  if (!files) return scanMeshFolder(folder, { onSkip: () => {} });
  const scan: FolderScan = { meshes: [], skipped: [] };
  for (const path of files) {
    try {
      scan.meshes.push({ path, mesh: await readMesh(join(folder, path)) });
    } catch (e) {
      scan.skipped.push({ path, reason: (e as Error).message });
    }
  }
  return scan;
}

async function readSet(folder: string, o: EvalOptions, validStreams: SetSummary["validStreams"], files?: readonly string[]): Promise<ReadSet> {
  const scan = await readMeshes(folder, files);
  const unusable = scan.skipped.map(({ path, reason }) => ({ file: path, reason }));
  const clouds: Float32Array[] = [];
  const triangles: number[] = [];
  let watertight = 0, manifold = 0, faces = 0, degenerateFaces = 0, duplicateFaces = 0;
  for (const { path, mesh } of scan.meshes) {
    const v = meshValidity(mesh);
    triangles.push(v.triangles);
    watertight += Number(v.watertight);
    manifold += Number(v.manifold);
    faces += v.faces;
    degenerateFaces += v.degenerateFaces;
    duplicateFaces += v.duplicateFaces;
    try {
      clouds.push(samplePoints(mesh, o.points, cloudSeed(o.seed, clouds.length)));
    } catch (e) {
      unusable.push({ file: path, reason: (e as Error).message });
    }
  }
  const parsed = scan.meshes.length;
  const percent = (n: number) => (parsed ? (100 * n) / parsed : 0);
  const summary: SetSummary = {
    folder, files: parsed + scan.skipped.length, parsed, used: clouds.length, unusable, validStreams,
    watertight: percent(watertight), manifold: percent(manifold), faces, degenerateFaces, duplicateFaces,
    meanTriangles: parsed ? triangles.reduce((a, b) => a + b, 0) / parsed : 0,
  };
  return { summary, clouds, triangles };
}

export async function evaluateFolders(o: EvalOptions): Promise<EvalReport> {
  const log = o.log ?? (() => {});
  const seconds = { read: 0, chamfer: 0, metrics: 0 };
  let started = performance.now();
  const lap = (stage: keyof typeof seconds) => {
    seconds[stage] = (performance.now() - started) / 1000;
    started = performance.now();
  };
  const generated = await readSet(o.generated, o, o.validStreams ?? (await validStreamsOf(o.generated)), o.generatedFiles);
  const reference = await readSet(o.reference, o, null);
  lap("read");
  if (reference.clouds.length === 0) throw new Error(`${o.reference}: no usable reference mesh (${reference.summary.files} mesh files, ${reference.summary.unusable.length} unusable)`);
  const G = generated.clouds.length, R = reference.clouds.length;
  log(`eval: ${G} generated and ${R} reference meshes, ${o.points} points each`);

  const metrics = { mmd: null, cov: null, nna: null, jsd: null, mmdGenerated: null, nnaGenerated: null, nnaReference: null } as Pick<
    EvalReport, "mmd" | "cov" | "nna" | "jsd" | "mmdGenerated" | "nnaGenerated" | "nnaReference"
  >;
  if (G > 0) {
    const union = { data: pairwiseChamfer(Gpu.get(), [...reference.clouds, ...generated.clouds], o.points), references: R, generated: G };
    lap("chamfer");
    const mc = mmdCov(union);
    Object.assign(metrics, { mmd: 1e3 * mc.mmd, cov: 100 * mc.cov, mmdGenerated: 1e3 * mc.mmdGenerated });
    if (G + R >= 3) {
      const nna = oneNearestNeighbourAccuracy(union);
      Object.assign(metrics, { nna: 100 * nna.accuracy, nnaGenerated: 100 * nna.generated, nnaReference: 100 * nna.references });
    }
    metrics.jsd = 100 * jsdBetweenSets(generated.clouds, reference.clouds, JSD_RESOLUTION);
    lap("metrics");
  } else {
    log(`eval: no usable generated mesh in ${o.generated}: validity figures only`);
  }
  return {
    settings: { points: o.points, seed: o.seed, jsdResolution: JSD_RESOLUTION },
    units: EVAL_UNITS,
    counts: { generated: G, reference: R },
    ...metrics,
    generated: generated.summary,
    reference: reference.summary,
    faceHistogram: faceCountHistogram(generated.triangles, reference.triangles),
    seconds,
  };
}
