/**
 * Mesh files by extension: read OBJ, PLY, STL, OFF, GLB and glTF; write OBJ, PLY (binary LE),
 * STL (binary) and GLB. Parse errors name the file and the line or byte offset. Only regular
 * files are read, never more than MAX_MESH_FILE_BYTES, and a glTF buffer only from inside the
 * .gltf file's own folder.
 */
import { open, readdir, realpath, stat } from "node:fs/promises";
import { dirname, extname, isAbsolute, join, relative, sep } from "node:path";
import { encodeGlb, parseGlb, parseGltf, type ExternalReader } from "./formats/gltf.ts";
import { encodeObj, parseObj } from "./formats/obj.ts";
import { oneLine, quoted } from "../util/text.ts";
import { parseOff } from "./formats/off.ts";
import { encodePly, parsePly } from "./formats/ply.ts";
import { encodeStl, parseStl } from "./formats/stl.ts";
import { faceCount, type Mesh } from "./mesh.ts";

export const READABLE_EXTENSIONS = [".obj", ".ply", ".stl", ".off", ".glb", ".gltf"] as const;
export const WRITABLE_EXTENSIONS = [".obj", ".ply", ".stl", ".glb"] as const;

const extensionOf = (path: string) => extname(path).toLowerCase();

/** The largest mesh file (or glTF buffer) read: 512 MiB, well past any mesh the models take. */
export const MAX_MESH_FILE_BYTES = 512 << 20;

const cannotRead = (path: string, e: unknown) => new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);

/** Up to `limit` bytes of a regular file (never a device, FIFO or folder, which could be endless). */
async function readBytes(path: string, limit = MAX_MESH_FILE_BYTES): Promise<Uint8Array> {
  const info = await stat(path).catch((e) => { throw cannotRead(path, e); });
  if (!info.isFile()) throw new Error(`${path}: not a regular file`);
  if (info.size > MAX_MESH_FILE_BYTES) throw new Error(`${path}: ${info.size} bytes, over the ${MAX_MESH_FILE_BYTES}-byte limit for a mesh file`);
  const bytes = new Uint8Array(Math.min(info.size, limit));
  const fh = await open(path, "r").catch((e) => { throw cannotRead(path, e); });
  try {
    let at = 0;
    while (at < bytes.length) {
      const { bytesRead } = await fh.read(bytes, at, bytes.length - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return bytes.subarray(0, at);
  } finally {
    await fh.close();
  }
}

/**
 * glTF buffers with relative URIs live next to the .gltf file: a URI is followed only when it
 * resolves (symlinks included) to a regular file inside that folder, and only `byteLength`
 * bytes of it are read.
 */
const externalNextTo = (path: string): ExternalReader => async (uri, byteLength) => {
  const fail = (why: string) => new Error(`${path}: glTF buffer uri ${quoted(uri)} ${why}`);
  const outside = () => fail("leaves the folder of the .gltf file (only data: URIs and files beside it are read)");
  if (isAbsolute(uri) || /^[a-z][a-z0-9+.-]*:/i.test(uri) || uri.includes("\0")) throw outside();
  const folder = await realpath(dirname(path));
  const file = join(dirname(path), uri);
  const real = await realpath(file).catch((e: NodeJS.ErrnoException) => { throw fail(`cannot be read (${e.code ?? e.message})`); });
  const inside = relative(folder, real);
  if (inside === "" || inside === ".." || inside.startsWith(`..${sep}`) || isAbsolute(inside)) throw outside();
  if (!(await stat(real)).isFile()) throw fail("is not a regular file");
  return { bytes: await readBytes(real, byteLength), file };
};

export async function readMesh(path: string): Promise<Mesh> {
  const ext = extensionOf(path);
  if (!(READABLE_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new Error(`${path}: unknown mesh format '${ext || "(no extension)"}' (readable: ${READABLE_EXTENSIONS.join(" ")})`);
  }
  const bytes = await readBytes(path);
  try {
    switch (ext) {
      case ".obj": return parseObj(new TextDecoder().decode(bytes), path);
      case ".ply": return parsePly(bytes, path);
      case ".stl": return parseStl(bytes, path);
      case ".off": return parseOff(new TextDecoder().decode(bytes), path);
      case ".glb": return await parseGlb(bytes, path, externalNextTo(path));
      default: return await parseGltf(new TextDecoder().decode(bytes), path, externalNextTo(path));
    }
  } catch (e) {
    // Messages quote the file (a line, a key, a parser's complaint): keep them one line.
    throw new Error(oneLine((e as Error).message), { cause: e });
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
