/**
 * Mesh ⇄ tokens (SPEC §1), backed by the WASM module built from asm/tokenizer.ts.
 * The module is compiled and instantiated synchronously when this file is imported.
 */
import { readFileSync } from "node:fs";
// Imported as a file so that `bun build --compile` embeds it (then the path is in the binary's
// $bunfs, which readFileSync reads). From source it is build/tokenizer.wasm, made by
// `bun scripts/build-wasm.ts`; until then this import fails with "Cannot find module".
import tokenizerWasmPath from "../../build/tokenizer.wasm" with { type: "file" };
import { type Mesh, faceCount, triangleMesh, vertexCount } from "../mesh/mesh.ts";
import { TOKENS } from "./tokens.ts";

export { TOKENS } from "./tokens.ts";

export interface TokenizeOptions {
  /** Training augmentation (SPEC §1 step 2), reproducible from an integer seed; none when absent. */
  augment?: { seed: number };
}

export interface Tokenized {
  /** F·9 tokens: face rows only, no start/end/pad rows. */
  faceTokens: Int32Array;
  faceCount: number;
  /** Vertices after merging duplicates and dropping unreferenced ones. */
  vertexCount: number;
  inputFaces: number;
  inputVertices: number;
}

interface TokenizerExports {
  memory: WebAssembly.Memory;
  reset(): void;
  alloc(bytes: number): number;
  tokenize(
    positions: number, vertexCount: number, faceIndices: number, indexCount: number, faceStarts: number,
    faceCount: number, augment: boolean, seed: bigint,
  ): number;
  detokenize(tokens: number, count: number): number;
  resultPointer(): number;
  resultVertexCount(): number;
  ERROR_FACE_STARTS: WebAssembly.Global;
  ERROR_INDEX: WebAssembly.Global;
  ERROR_NON_FINITE: WebAssembly.Global;
}

/** The tokenizer module's bytes; src/data/shards.ts hashes them to key its caches. */
export const TOKENIZER_WASM_BYTES: Uint8Array<ArrayBuffer> = readFileSync(tokenizerWasmPath);

function instantiate(): TokenizerExports {
  const module = new WebAssembly.Module(TOKENIZER_WASM_BYTES);
  return new WebAssembly.Instance(module, {}).exports as unknown as TokenizerExports;
}

const wasm = instantiate();

const ERROR_MESSAGES = new Map<number, string>([
  [wasm.ERROR_FACE_STARTS.value, "faceStarts must start at 0, never decrease and end at faceIndices.length"],
  [wasm.ERROR_INDEX.value, "a face index is out of range"],
  [wasm.ERROR_NON_FINITE.value, "a vertex coordinate is not finite"],
]);

/** Copies `data` into a fresh arena allocation; returns its address. */
function copyIn(data: Float32Array | Uint32Array | Int32Array): number {
  const ptr = wasm.alloc(data.byteLength);
  new Uint8Array(wasm.memory.buffer, ptr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return ptr;
}

function seedBits(seed: number): bigint {
  if (!Number.isSafeInteger(seed)) throw new Error(`augmentation seed must be a safe integer, got ${seed}`);
  return BigInt.asUintN(64, BigInt(seed));
}

export function tokenizeMesh(mesh: Mesh, opts: TokenizeOptions = {}): Tokenized {
  const seed = opts.augment ? seedBits(opts.augment.seed) : 0n;
  wasm.reset();
  const positions = copyIn(mesh.vertices);
  const indices = copyIn(mesh.faceIndices);
  const starts = copyIn(mesh.faceStarts);
  const faces = wasm.tokenize(
    positions, vertexCount(mesh), indices, mesh.faceIndices.length, starts, faceCount(mesh), opts.augment !== undefined, seed,
  );
  if (faces < 0) throw new Error(`tokenizeMesh: ${ERROR_MESSAGES.get(faces) ?? `error ${faces}`}`);
  const faceTokens = new Int32Array(wasm.memory.buffer, wasm.resultPointer(), faces * TOKENS.perFace).slice();
  return {
    faceTokens,
    faceCount: faces,
    vertexCount: wasm.resultVertexCount(),
    inputFaces: faceCount(mesh),
    inputVertices: vertexCount(mesh),
  };
}

/** One training sequence: start row, face rows, end row, pad rows up to `maxFaces + 2` rows. */
export function sequenceFromFaceTokens(faceTokens: Int32Array, maxFaces: number): Int32Array {
  const { perFace } = TOKENS;
  if (faceTokens.length % perFace !== 0) throw new Error(`face tokens must be whole rows of ${perFace}, got ${faceTokens.length}`);
  const faces = faceTokens.length / perFace;
  if (faces > maxFaces) throw new Error(`mesh has ${faces} faces, more than the ${maxFaces} a sequence holds`);
  const sequence = new Int32Array((maxFaces + 2) * perFace).fill(TOKENS.pad);
  sequence.fill(TOKENS.start, 0, perFace);
  sequence.set(faceTokens, perFace);
  sequence.fill(TOKENS.end, (faces + 1) * perFace, (faces + 2) * perFace);
  return sequence;
}

/** Tokens → triangle soup (3 unshared vertices a face, x y z). See asm/tokenizer.ts `detokenize`. */
export function detokenize(tokens: Int32Array): Mesh {
  wasm.reset();
  const faces = wasm.detokenize(copyIn(tokens), tokens.length);
  const vertices = new Float32Array(wasm.memory.buffer, wasm.resultPointer(), faces * TOKENS.perFace).slice();
  const corners = new Uint32Array(faces * 3);
  for (let i = 0; i < corners.length; i++) corners[i] = i;
  return triangleMesh(vertices, corners);
}
