/**
 * The folder the viewer shows: its mesh files (counts cached by file version, so a poll re-reads
 * only new or rewritten files), and, when it is a training run, its metrics.jsonl and latest
 * checkpoint. Only files found by a scan can be fetched, so no path can reach outside it.
 */
import { existsSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { extname, join, relative } from "node:path";
import { z } from "zod";
import { EvalReportSchema, type EvalReport } from "../eval/report.ts";
import { READABLE_EXTENSIONS, readMesh } from "../mesh/io.ts";
import { faceCount, vertexCount } from "../mesh/mesh.ts";
import type { MeshEntry, MetricRow, MetricsChunk, RunInfo } from "./protocol.ts";

/** The most metrics bytes one request returns; the page asks again for the rest. */
const METRICS_CHUNK_BYTES = 4 << 20;
/** Where `iflame eval --json` or `generate --eval-against` left a report: the folder, or a run's samples. */
const EVAL_REPORTS = ["eval.json", "samples/eval.json"];
/** Checkpoints hold weights, never meshes: not worth walking. */
const SKIPPED_FOLDERS = new Set(["checkpoints", "node_modules", ".git"]);

const LatestSchema = z.object({ checkpoint: z.string(), step: z.number() });
const StateSchema = z.object({ totalSteps: z.number(), config: z.object({ name: z.string() }).partial().nullish() });

interface FileVersion {
  path: string;
  version: string;
  mtimeMs: number;
}

export class ViewedFolder {
  private readonly entries = new Map<string, MeshEntry>();
  private known = new Set<string>();

  constructor(
    readonly dir: string,
    /** The most meshes listed. */
    private readonly limit: number,
  ) {}

  get isRun(): boolean {
    return existsSync(join(this.dir, "metrics.jsonl")) || existsSync(join(this.dir, "latest.json"));
  }

  /** Newest first for a run (its latest samples), path order for a plain folder. */
  async meshes(): Promise<{ meshes: MeshEntry[]; total: number }> {
    const files = await this.scan();
    this.known = new Set(files.map((f) => f.path));
    if (this.isRun) files.sort((a, b) => b.mtimeMs - a.mtimeMs || a.path.localeCompare(b.path));
    const shown = files.slice(0, this.limit);
    const meshes = await Promise.all(shown.map((f) => this.entry(f)));
    for (const path of this.entries.keys()) if (!this.known.has(path)) this.entries.delete(path);
    return { meshes, total: files.length };
  }

  private async scan(): Promise<FileVersion[]> {
    const files: FileVersion[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const full = join(dir, e.name);
        if (e.isDirectory() && !SKIPPED_FOLDERS.has(e.name)) await walk(full);
        if (!e.isFile() || !(READABLE_EXTENSIONS as readonly string[]).includes(extname(e.name).toLowerCase())) continue;
        const s = await stat(full).catch(() => null);
        if (s) files.push({ path: relative(this.dir, full).split("\\").join("/"), version: `${s.mtimeMs}-${s.size}`, mtimeMs: s.mtimeMs });
      }
    };
    await walk(this.dir);
    return files.sort((a, b) => a.path.localeCompare(b.path));
  }

  private async entry(file: FileVersion): Promise<MeshEntry> {
    const cached = this.entries.get(file.path);
    if (cached?.version === file.version) return cached;
    let entry: MeshEntry;
    try {
      const mesh = await readMesh(join(this.dir, file.path));
      entry = { path: file.path, version: file.version, faces: faceCount(mesh), vertices: vertexCount(mesh) };
    } catch (e) {
      // A sample being written right now reads as truncated; the next poll sees its new version.
      entry = { path: file.path, version: file.version, faces: 0, vertices: 0, error: (e as Error).message };
    }
    this.entries.set(file.path, entry);
    return entry;
  }

  /** The mesh file at `path` (relative), or null when no scan has listed it. */
  async readListedMesh(path: string) {
    if (!this.known.has(path)) return null;
    return readMesh(join(this.dir, path));
  }

  async run(): Promise<RunInfo | null> {
    if (!this.isRun) return null;
    const info: RunInfo = { checkpoint: null, step: null, totalSteps: null, config: null };
    const latest = LatestSchema.safeParse(await readJson(join(this.dir, "latest.json")));
    if (!latest.success) return info;
    info.checkpoint = latest.data.checkpoint;
    info.step = latest.data.step;
    const state = StateSchema.safeParse(await readJson(join(this.dir, latest.data.checkpoint, "state.json")));
    if (state.success) {
      info.totalSteps = state.data.totalSteps;
      info.config = state.data.config?.name ?? null;
    }
    return info;
  }

  /** The first eval report found (EVAL_REPORTS) that matches the schema; null when there is none. */
  async evaluation(): Promise<EvalReport | null> {
    for (const file of EVAL_REPORTS) {
      const report = EvalReportSchema.safeParse(await readJson(join(this.dir, file)));
      if (report.success) return report.data;
    }
    return null;
  }

  /** Whole metrics.jsonl lines after byte `from`; a line still being written waits for the next call. */
  async metrics(from: number): Promise<MetricsChunk> {
    const file = Bun.file(join(this.dir, "metrics.jsonl"));
    const size = (await file.exists()) ? file.size : 0;
    if (from > size) return { ...(await this.metrics(0)), reset: true };
    const bytes = new Uint8Array(await file.slice(from, Math.min(size, from + METRICS_CHUNK_BYTES)).arrayBuffer());
    const end = bytes.lastIndexOf(0x0a) + 1;
    const rows: MetricRow[] = [];
    for (const line of new TextDecoder().decode(bytes.subarray(0, end)).split("\n")) {
      if (!line.trim()) continue;
      try {
        rows.push(JSON.parse(line) as MetricRow);
      } catch {
        // A malformed line (a crash mid-write) is skipped, not fatal to the charts.
      }
    }
    return { rows, next: from + end, reset: false };
  }
}

async function readJson(path: string): Promise<unknown> {
  try {
    return await Bun.file(path).json();
  } catch {
    return null;
  }
}
