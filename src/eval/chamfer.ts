/**
 * The Chamfer distance of every pair of a list of point clouds on the GPU: one directional term
 * per ordered pair (src/kernels/chamfer.ts), dispatched a band of rows at a time so that no single
 * submission runs for long, then D + Dᵀ on the host. For 1000 generated and 1000 reference meshes
 * that is 2000² pairs of 2048² point distances each.
 */
import type { Gpu } from "../gpu/runtime.ts";
import { directionalChamfer } from "../kernels/chamfer.ts";

/** Point distances per submission (about 10–50 ms on a large GPU; one sync each). */
const DISTANCES_PER_SUBMIT = 2 ** 36;

export interface ChamferProgress {
  rowsDone: number;
  rows: number;
}

/**
 * Clouds of `points` points each (x y z interleaved); returns the symmetric [n, n] row-major
 * matrix of Chamfer distances (the diagonal 0).
 */
export function pairwiseChamfer(gpu: Gpu, clouds: readonly Float32Array[], points: number, onProgress?: (p: ChamferProgress) => void): Float64Array {
  const n = clouds.length;
  for (const [i, c] of clouds.entries()) if (c.length !== 3 * points) throw new Error(`pairwiseChamfer: cloud ${i} has ${c.length / 3} points, expected ${points}`);
  const bytes = n * points * 16;
  if (bytes > gpu.limits.maxStorageBufferBindingSize) {
    throw new Error(`${n} clouds of ${points} points need a ${bytes} byte buffer; the device binds at most ${gpu.limits.maxStorageBufferBindingSize} (use fewer --points or meshes)`);
  }
  const packed = new Float32Array(n * points * 4);
  for (const [i, c] of clouds.entries()) {
    for (let p = 0; p < points; p++) packed.set(c.subarray(3 * p, 3 * p + 3), 4 * (i * points + p));
  }
  const cloudsTensor = gpu.upload(packed, [n, points, 4], "clouds");
  const directional = gpu.tensor([n, n], "f32", "directional chamfer");
  const band = Math.max(1, Math.min(65535, Math.floor(DISTANCES_PER_SUBMIT / (n * points * points))));
  try {
    for (let rowStart = 0; rowStart < n; rowStart += band) {
      const rows = Math.min(band, n - rowStart);
      gpu.record((r) => directionalChamfer(r, cloudsTensor, cloudsTensor, directional, { points, aClouds: n, bClouds: n, rowStart, rows }));
      gpu.sync();
      onProgress?.({ rowsDone: rowStart + rows, rows: n });
    }
    const d = gpu.read(directional) as Float32Array;
    const out = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) out[i * n + j] = out[j * n + i] = d[i * n + j] + d[j * n + i];
    }
    return out;
  } finally {
    gpu.destroy(cloudsTensor);
    gpu.destroy(directional);
  }
}
