/**
 * SPEC §1 step 1: centre the bounding box at the origin and divide by its largest extent, so the
 * mesh fits [-0.5, 0.5]^3. The tokenizer does this again (idempotently) before augmenting; the
 * shard cache stores meshes already normalized so they are small, bounded float32 data.
 */
import type { Mesh } from "./mesh.ts";

export function normalizeMesh(mesh: Mesh): Mesh {
  const v = mesh.vertices;
  const min = [Infinity, Infinity, Infinity], max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < v.length; i++) {
    min[i % 3] = Math.min(min[i % 3], v[i]);
    max[i % 3] = Math.max(max[i % 3], v[i]);
  }
  const extent = Math.max(max[0] - min[0], max[1] - min[1], max[2] - min[2]);
  if (!(extent > 0 && Number.isFinite(extent))) throw new Error(`cannot normalize a mesh whose largest extent is ${extent}`);
  const vertices = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) vertices[i] = (v[i] - (min[i % 3] + max[i % 3]) / 2) / extent;
  return { ...mesh, vertices };
}
