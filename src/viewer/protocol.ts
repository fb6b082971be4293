/**
 * What the viewer's server and page say to each other (types only; shared by both sides).
 *   GET /api/state                 → ViewerState
 *   GET /api/metrics?from=<offset> → MetricsChunk (metrics.jsonl rows after a byte offset)
 *   GET /api/mesh?path=<relative>  → a mesh as binary (see encodeMeshPayload)
 */
import type { EvalReport } from "../eval/report.ts";
import { fanTriangles } from "../mesh/formats/triangulate.ts";
import type { Mesh } from "../mesh/mesh.ts";

export interface MeshEntry {
  /** Path relative to the viewed folder; the key for /api/mesh. */
  path: string;
  /** Polygons and vertices as stored in the file. */
  faces: number;
  vertices: number;
  /** Changes when the file is rewritten, so the page knows to reload it. */
  version: string;
  /** Set instead of the counts when the file could not be read. */
  error?: string;
}

export interface RunInfo {
  /** From latest.json: the newest complete checkpoint. */
  checkpoint: string | null;
  step: number | null;
  /** From the checkpoint's state.json. */
  totalSteps: number | null;
  config: string | null;
}

export interface ViewerState {
  /** The folder as given on the command line. */
  title: string;
  /** Present when the folder is a training run (metrics.jsonl or latest.json). */
  run: RunInfo | null;
  /** The folder's eval.json (or its samples/eval.json), when there is one. */
  eval: EvalReport | null;
  /** Newest first for a run, in path order for a folder; at most the viewer's limit. */
  meshes: MeshEntry[];
  /** Mesh files in the folder, including those past the limit. */
  totalMeshes: number;
  /** How often the page asks again, in milliseconds. */
  pollMs: number;
}

/** One metrics.jsonl row as the trainer writes it. */
export type MetricRow =
  | { kind: "train"; step: number; loss: number; acc: number; lr: number; gradNorm: number; tokensPerSecond: number }
  | { kind: "val"; step: number; loss: number; acc: number; perplexity: number };

export interface MetricsChunk {
  rows: MetricRow[];
  /** The offset to ask from next time. */
  next: number;
  /** True when the file is shorter than the offset asked for (a new run replaced it): start over. */
  reset: boolean;
}

/**
 * /api/mesh body, little endian: u32 vertex count V, u32 triangle count T, f32 positions[3V],
 * u32 indices[3T]. Polygons go as fans (the viewer draws triangles).
 */
export function encodeMeshPayload(mesh: Mesh): Uint8Array<ArrayBuffer> {
  const triangles = fanTriangles(mesh);
  const out = new Uint8Array(8 + 4 * mesh.vertices.length + 4 * triangles.length);
  new Uint32Array(out.buffer, 0, 2).set([mesh.vertices.length / 3, triangles.length / 3]);
  new Float32Array(out.buffer, 8, mesh.vertices.length).set(mesh.vertices);
  new Uint32Array(out.buffer, 8 + 4 * mesh.vertices.length, triangles.length).set(triangles);
  return out;
}

export function decodeMeshPayload(buffer: ArrayBuffer): { positions: Float32Array; indices: Uint32Array } {
  const [vertices, triangles] = new Uint32Array(buffer, 0, 2);
  const positions = new Float32Array(buffer, 8, 3 * vertices);
  const indices = new Uint32Array(buffer, 8 + 12 * vertices, 3 * triangles);
  return { positions, indices };
}
