/** A folder of mesh files (any readable format, any depth) as a dataset; bad files are skipped. */
import { scanMeshFolder, type ScanOptions } from "../mesh/io.ts";
import type { NamedMesh } from "./dataset.ts";

/** Meshes named by their path relative to `dir`; `maxFaces` filters on raw polygon count. */
export async function readMeshFolder(dir: string, opts: ScanOptions = {}): Promise<NamedMesh[]> {
  const scan = await scanMeshFolder(dir, opts);
  if (!scan.meshes.length) throw new Error(`${dir}: no usable mesh files (${scan.skipped.length} skipped)`);
  return scan.meshes.map(({ path, mesh }) => ({ name: path, mesh }));
}
