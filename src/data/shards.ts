/**
 * The tokenized shard cache: one file per dataset split, so epochs never re-read or re-tokenize
 * source meshes. Augmentation runs per sample before quantization (SPEC §1 step 2), so each
 * record keeps the normalized source mesh (to re-tokenize with an augmentation seed) as well as
 * its unaugmented face tokens (used as-is when augmentation is off).
 *
 * Layout (little endian; every section starts 4-byte aligned, so it is read in place as typed
 * array views, from one read or from Bun.mmap):
 *   0   8 bytes  magic "IFLSHARD"
 *   8   u32      layout version (1)
 *   12  u32      H = byte length of the header JSON
 *   16  H bytes  header JSON (UTF-8, see ShardHeaderSchema), zero-padded to a multiple of 4
 *   …   u32 × 4N index, per record: vertexCount V, faceCount F, faceIndexCount K, tokenFaces T
 *   …   N records, each: f32 vertices[3V] (normalized), u32 faceStarts[F+1], u32 faceIndices[K],
 *       u8 faceTokens[9T] (coordinate tokens 0..128) zero-padded to a multiple of 4
 */
import { createHash } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";
import { z } from "zod";
import { faceCount, type Mesh } from "../mesh/mesh.ts";
import { normalizeMesh } from "../mesh/normalize.ts";
import { TOKENIZER_WASM_BYTES, TOKENS, tokenizeMesh } from "../tokenizer/index.ts";
import type { NamedMesh } from "./dataset.ts";

const MAGIC = "IFLSHARD";
const LAYOUT_VERSION = 1;
const INDEX_FIELDS = 4;

/** What a cache was built from; a cache whose config differs from the one asked for is rebuilt. */
export const ShardConfigSchema = z.object({
  /** Longest tokenized mesh kept, in faces. */
  maxFaces: z.number().int().positive(),
  /** Describes the source (dataset spec, split); compared as JSON. */
  source: z.unknown(),
  /** Hash of the tokenizer WASM the tokens came from. */
  tokenizer: z.string(),
});
export type ShardConfig = z.infer<typeof ShardConfigSchema>;

const ShardHeaderSchema = z.object({
  config: ShardConfigSchema,
  names: z.array(z.string()),
  /** Source meshes left out: more than maxFaces faces, or nothing left after tokenization / no extent. */
  dropped: z.object({ tooLong: z.number().int().nonnegative(), unusable: z.number().int().nonnegative() }),
});
export type ShardHeader = z.infer<typeof ShardHeaderSchema>;

/** Identifies the tokenizer build, so a changed tokenizer invalidates caches. */
export function tokenizerVersion(): string {
  return createHash("sha256").update(TOKENIZER_WASM_BYTES).digest("hex").slice(0, 16);
}

/** The config with this tokenizer's version, keys in schema order (headers are compared as JSON). */
const fullConfig = (config: Omit<ShardConfig, "tokenizer">): ShardConfig => ({ maxFaces: config.maxFaces, source: config.source, tokenizer: tokenizerVersion() });

interface ShardRecord {
  name: string;
  mesh: Mesh;
  tokens: Uint8Array;
}

const pad4 = (n: number) => (n + 3) & ~3;

/** Normalizes and tokenizes each mesh; drops those over maxFaces or unusable. */
function toRecords(meshes: NamedMesh[], maxFaces: number, onDrop: (name: string, reason: string) => void): { records: ShardRecord[]; dropped: ShardHeader["dropped"] } {
  const records: ShardRecord[] = [];
  const dropped = { tooLong: 0, unusable: 0 };
  for (const { name, mesh } of meshes) {
    let normalized: Mesh;
    let faceTokens: Int32Array;
    try {
      normalized = normalizeMesh(mesh);
      faceTokens = tokenizeMesh(normalized).faceTokens;
    } catch (e) {
      dropped.unusable++;
      onDrop(name, (e as Error).message);
      continue;
    }
    const faces = faceTokens.length / TOKENS.perFace;
    if (faces === 0 || faces > maxFaces) {
      if (faces) dropped.tooLong++;
      else dropped.unusable++;
      onDrop(name, faces ? `${faces} faces after tokenization > maxFaces ${maxFaces}` : "no faces left after tokenization");
      continue;
    }
    records.push({ name, mesh: normalized, tokens: Uint8Array.from(faceTokens) });
  }
  return { records, dropped };
}

/**
 * Tokenizes `meshes` and writes the cache to `path` (through a temp file and a rename, so a crash
 * never leaves a half-written cache under the real name).
 */
export async function writeShardCache(
  path: string, meshes: NamedMesh[], config: Omit<ShardConfig, "tokenizer">, onDrop: (name: string, reason: string) => void = () => {},
): Promise<ShardHeader> {
  const { records, dropped } = toRecords(meshes, config.maxFaces, onDrop);
  const header: ShardHeader = { config: fullConfig(config), names: records.map((r) => r.name), dropped };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const prefix = new Uint8Array(16 + pad4(json.length) + 4 * INDEX_FIELDS * records.length);
  const view = new DataView(prefix.buffer);
  prefix.set(new TextEncoder().encode(MAGIC));
  view.setUint32(8, LAYOUT_VERSION, true);
  view.setUint32(12, json.length, true);
  prefix.set(json, 16);
  const index = new Uint32Array(prefix.buffer, 16 + pad4(json.length));
  records.forEach((r, i) => index.set([r.mesh.vertices.length / 3, faceCount(r.mesh), r.mesh.faceIndices.length, r.tokens.length / TOKENS.perFace], INDEX_FIELDS * i));

  const temp = `${path}.tmp-${process.pid}`;
  const file = await open(temp, "w");
  try {
    await file.write(prefix);
    for (const r of records) {
      const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      for (const part of [r.mesh.vertices, r.mesh.faceStarts, r.mesh.faceIndices, r.tokens]) await file.write(bytes(part));
      await file.write(new Uint8Array(pad4(r.tokens.length) - r.tokens.length));
    }
    await file.sync();
  } catch (e) {
    await file.close();
    await unlink(temp).catch(() => {});
    throw e;
  }
  await file.close();
  await rename(temp, path);
  return header;
}

/** One split's records, read in place from the cache bytes. */
export class ShardDataset {
  /** Byte offset of each record, plus the end (doubles: exact past 4 GiB). */
  private readonly offsets: Float64Array;
  private readonly index: Uint32Array;

  private constructor(private readonly bytes: Uint8Array, readonly header: ShardHeader, indexAt: number, readonly path: string) {
    const n = header.names.length;
    this.index = new Uint32Array(bytes.buffer, bytes.byteOffset + indexAt, INDEX_FIELDS * n);
    this.offsets = new Float64Array(n + 1);
    let at = indexAt + 4 * INDEX_FIELDS * n;
    for (let i = 0; i < n; i++) {
      this.offsets[i] = at;
      const [V, F, K, T] = this.index.subarray(INDEX_FIELDS * i, INDEX_FIELDS * (i + 1));
      at += 12 * V + 4 * (F + 1) + 4 * K + pad4(TOKENS.perFace * T);
    }
    this.offsets[n] = at;
    if (at !== bytes.length) throw new Error(`${path}: shard cache is ${bytes.length} bytes but its index describes ${at}; rebuild it`);
  }

  /** Reads a cache; `mmap` maps it instead of reading it (large caches: pages load on demand). */
  static async open(path: string, opts: { mmap?: boolean } = {}): Promise<ShardDataset> {
    // Typed-array views below assume a little-endian host (every platform Bun runs on).
    const bytes = opts.mmap ? Bun.mmap(path) : new Uint8Array(await Bun.file(path).arrayBuffer());
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const fail = (offset: number, message: string) => new Error(`${path}: byte ${offset}: ${message}`);
    if (bytes.length < 16 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw fail(0, `not an iflame shard cache (magic '${MAGIC}' missing)`);
    if (view.getUint32(8, true) !== LAYOUT_VERSION) throw fail(8, `shard layout version ${view.getUint32(8, true)}, this build reads ${LAYOUT_VERSION}; rebuild the cache`);
    const length = view.getUint32(12, true);
    if (16 + length > bytes.length) throw fail(12, "header runs past the end of the file");
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + length)));
    } catch (e) {
      throw fail(16, `header JSON does not parse: ${(e as Error).message}`);
    }
    const header = ShardHeaderSchema.safeParse(json);
    if (!header.success) throw fail(16, `header ${header.error.issues[0].path.join(".")}: ${header.error.issues[0].message}`);
    const indexAt = 16 + pad4(length);
    if (indexAt + 4 * INDEX_FIELDS * header.data.names.length > bytes.length) throw fail(indexAt, "index runs past the end of the file");
    return new ShardDataset(bytes, header.data, indexAt, path);
  }

  get size(): number {
    return this.header.names.length;
  }

  get maxFaces(): number {
    return this.header.config.maxFaces;
  }

  name(i: number): string {
    return this.header.names[i];
  }

  /** Face rows of record i without augmentation (what the batcher filters and buckets on). */
  faceCount(i: number): number {
    return this.index[INDEX_FIELDS * i + 3];
  }

  /** The stored normalized mesh, as views into the cache bytes. */
  mesh(i: number): Mesh {
    const [V, F, K] = this.index.subarray(INDEX_FIELDS * i, INDEX_FIELDS * i + 3);
    const at = this.bytes.byteOffset + this.offsets[i];
    const buffer = this.bytes.buffer;
    return {
      vertices: new Float32Array(buffer, at, 3 * V),
      faceStarts: new Uint32Array(buffer, at + 12 * V, F + 1),
      faceIndices: new Uint32Array(buffer, at + 12 * V + 4 * (F + 1), K),
    };
  }

  /**
   * Face tokens of record i: the stored ones, or with `augmentSeed` the stored mesh re-tokenized
   * with that augmentation. Augmentation can merge or split quantized vertices differently; if
   * that pushes the mesh past maxFaces, the unaugmented tokens are used so the sample still fits.
   */
  faceTokens(i: number, augmentSeed?: number): Int32Array {
    if (augmentSeed !== undefined) {
      const augmented = tokenizeMesh(this.mesh(i), { augment: { seed: augmentSeed } });
      if (augmented.faceCount <= this.maxFaces && augmented.faceCount > 0) return augmented.faceTokens;
    }
    const [V, F, K, T] = this.index.subarray(INDEX_FIELDS * i, INDEX_FIELDS * (i + 1));
    const at = this.bytes.byteOffset + this.offsets[i] + 12 * V + 4 * (F + 1) + 4 * K;
    return Int32Array.from(new Uint8Array(this.bytes.buffer, at, TOKENS.perFace * T));
  }
}

/**
 * Opens the cache at `path` if it was built with `config` by this tokenizer, else builds it from
 * `meshes()` (called only when needed: reading and tokenizing sources is the slow part).
 */
export async function openOrBuildShards(
  path: string, config: Omit<ShardConfig, "tokenizer">, meshes: () => Promise<NamedMesh[]>,
  opts: { mmap?: boolean; log?: (line: string) => void } = {},
): Promise<ShardDataset> {
  const wanted = JSON.stringify(fullConfig(config));
  const existing = await ShardDataset.open(path, opts).catch(() => null);
  if (existing && JSON.stringify(existing.header.config) === wanted) return existing;
  // Name every mesh left out and why, not just how many: the user must be able to find them.
  const header = await writeShardCache(path, await meshes(), config, (name, reason) => opts.log?.(`skipping ${name}: ${reason}`));
  const { tooLong, unusable } = header.dropped;
  opts.log?.(`${path}: cached ${header.names.length} meshes${tooLong + unusable ? ` (left out ${tooLong} over ${config.maxFaces} faces, ${unusable} unusable)` : ""}`);
  return ShardDataset.open(path, opts);
}
