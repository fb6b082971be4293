/**
 * Mesh files by extension: read OBJ, PLY, STL, GLB and glTF; write OBJ, PLY (binary LE),
 * STL (binary) and GLB. Parse errors name the file and the line or byte offset.
 */
import { readdir } from "node:fs/promises";
import { dirname, extname, join, relative } from "node:path";
import { encodeGlb, parseGlb, parseGltf, type ExternalReader } from "./formats/gltf.ts";
import { encodeObj, parseObj } from "./formats/obj.ts";
import { encodePly, parsePly } from "./formats/ply.ts";
import { encodeStl, parseStl } from "./formats/stl.ts";
import { faceCount, type Mesh } from "./mesh.ts";

export const READABLE_EXTENSIONS = [".obj", ".ply", ".stl", ".glb", ".gltf"] as const;
export const WRITABLE_EXTENSIONS = [".obj", ".ply", ".stl", ".glb"] as const;

const extensionOf = (path: string) => extname(path).toLowerCase();

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await Bun.file(path).arrayBuffer());
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** glTF buffers with relative URIs live next to the .gltf file. */
const externalNextTo = (path: string): ExternalReader => async (uri) => {
  const file = join(dirname(path), uri);
  return { bytes: await readBytes(file), file };
};

export async function readMesh(path: string): Promise<Mesh> {
  const ext = extensionOf(path);
  if (!(READABLE_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new Error(`${path}: unknown mesh format '${ext || "(no extension)"}' (readable: ${READABLE_EXTENSIONS.join(" ")})`);
  }
  const bytes = await readBytes(path);
  switch (ext) {
    case ".obj": return parseObj(new TextDecoder().decode(bytes), path);
    case ".ply": return parsePly(bytes, path);
    case ".stl": return parseStl(bytes, path);
    case ".glb": return parseGlb(bytes, path, externalNextTo(path));
    default: return parseGltf(new TextDecoder().decode(bytes), path, externalNextTo(path));
  }
}

export async function writeMesh(path: string, mesh: Mesh): Promise<void> {
  const ext = extensionOf(path);
  const encode = { ".obj": encodeObj, ".ply": encodePly, ".stl": encodeStl, ".glb": encodeGlb }[ext];
  if (!encode) throw new Error(`${path}: cannot write mesh format '${ext || "(no extension)"}' (writable: ${WRITABLE_EXTENSIONS.join(" ")})`);
  await Bun.write(path, encode(mesh));
}

export interface ScannedMesh {
  /** Path relative to the scanned folder. */
  path: string;
  mesh: Mesh;
}

export interface FolderScan {
  meshes: ScannedMesh[];
  skipped: { path: string; reason: string }[];
}

export interface ScanOptions {
  /** Skip meshes with more polygons than this (raw count, before tokenization). */
  maxFaces?: number;
  /** Told about each skipped file; defaults to a console warning. */
  onSkip?: (path: string, reason: string) => void;
}

/**
 * Reads every mesh file under `dir` (recursively, in sorted path order). A file that fails to
 * parse or is too large is skipped and reported, never fatal: one bad file in ten thousand must
 * not stop a data run. Files of other types (textures, .mtl, .bin) are ignored silently.
 */
export async function scanMeshFolder(dir: string, opts: ScanOptions = {}): Promise<FolderScan> {
  const onSkip = opts.onSkip ?? ((path, reason) => console.warn(`skipping ${path}: ${reason}`));
  const entries = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && (READABLE_EXTENSIONS as readonly string[]).includes(extensionOf(e.name)))
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
  const scan: FolderScan = { meshes: [], skipped: [] };
  for (const path of entries) {
    let reason: string;
    try {
      const mesh = await readMesh(join(dir, path));
      if (opts.maxFaces === undefined || faceCount(mesh) <= opts.maxFaces) {
        scan.meshes.push({ path, mesh });
        continue;
      }
      reason = `${faceCount(mesh)} faces > maxFaces ${opts.maxFaces}`;
    } catch (e) {
      reason = (e as Error).message;
    }
    scan.skipped.push({ path, reason });
    onSkip(path, reason);
  }
  return scan;
}
