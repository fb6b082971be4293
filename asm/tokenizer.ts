// Mesh ⇄ tokens, SPEC §1 (the ShapeNet setting: 128 quantization steps, 129 levels).
//
// Host protocol: `reset()`, `alloc()` the inputs and copy them in, call `tokenize` or
// `detokenize`, then read `resultPointer()` (and `resultVertexCount()`) before the next
// reset. Memory may grow during a call, so the host re-creates its views afterwards.
// Errors come back as negative return values (the ERROR_* constants).

import { alloc, allocZeroed } from "./arena";
import { beginTriangles, endTriangles, preparePolygons, splitPolygon, splitTriangle } from "./faces";

export { alloc, reset } from "./arena";

const STEPS: f64 = 128; // q = round(clip(v + 0.5, 0, 1) · STEPS)
const LEVELS: u32 = 129;
const PLANE: u32 = LEVELS * LEVELS;
const START: i32 = 130;
const TOKENS_PER_FACE: i32 = 9;

export const ERROR_FACE_STARTS: i32 = -1;
export const ERROR_INDEX: i32 = -2;
export const ERROR_NON_FINITE: i32 = -3;

let resultPtr: usize = 0;
let resultVertices: i32 = 0;

/** Where the last call's output starts (tokens as i32, or vertices as f32 x y z). */
export function resultPointer(): usize {
  return resultPtr;
}

/** Vertices the last `tokenize` kept (referenced by at least one face). */
export function resultVertexCount(): i32 {
  return resultVertices;
}

@inline function u32At(base: usize, i: u32): u32 {
  return load<u32>(base + (<usize>i << 2));
}
@inline function u32Put(base: usize, i: u32, v: u32): void {
  store<u32>(base + (<usize>i << 2), v);
}

// ---- PRNG: splitmix64 --------------------------------------------------------------------
// State = seed; each draw adds the golden-ratio increment and mixes (Steele, Lea & Flood
// 2014). A uniform in [0, 1) is the top 53 bits · 2^-53; U(lo, hi) is lo + (hi − lo)·u, the
// form of numpy's uniform.

let rngState: u64 = 0;

function nextU64(): u64 {
  rngState += 0x9e3779b97f4a7c15;
  let z = rngState;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

function uniform(lo: f64, hi: f64): f64 {
  return lo + (hi - lo) * (<f64>(nextU64() >> 11) * 1.1102230246251565e-16);
}

// ---- geometry (f64, x y z interleaved) ---------------------------------------------------

let minX: f64 = 0, minY: f64 = 0, minZ: f64 = 0;
let maxX: f64 = 0, maxY: f64 = 0, maxZ: f64 = 0;

/** Bounding box into the min and max globals; f64.min and f64.max propagate NaN, so a NaN input shows up here. */
function measure(pos: usize, n: i32): void {
  minX = Infinity; minY = Infinity; minZ = Infinity;
  maxX = -Infinity; maxY = -Infinity; maxZ = -Infinity;
  for (let p = pos, end = pos + <usize>n * 24; p < end; p += 24) {
    const x = load<f64>(p), y = load<f64>(p, 8), z = load<f64>(p, 16);
    minX = min(minX, x); minY = min(minY, y); minZ = min(minZ, z);
    maxX = max(maxX, x); maxY = max(maxY, y); maxZ = max(maxZ, z);
  }
}

/**
 * Centres the bounding box and divides by its largest extent, in the reference's order of
 * operations: v − (lo + hi)/2, then / extent. A mesh with zero extent (one point) is only
 * centred. Returns false when a coordinate is not finite.
 */
function normalize(pos: usize, n: i32): bool {
  measure(pos, n);
  const cx = (minX + maxX) / 2, cy = (minY + maxY) / 2, cz = (minZ + maxZ) / 2;
  const extent = max(max(maxX - minX, maxY - minY), maxZ - minZ);
  if (!isFinite(extent)) return false;
  const scale = extent > 0 ? extent : 1;
  for (let p = pos, end = pos + <usize>n * 24; p < end; p += 24) {
    store<f64>(p, (load<f64>(p) - cx) / scale);
    store<f64>(p, (load<f64>(p, 8) - cy) / scale, 8);
    store<f64>(p, (load<f64>(p, 16) - cz) / scale, 16);
  }
  return true;
}

/** Per-axis scale by U(0.75, 1.25), drawn x, y, z. */
function scaleRandomly(pos: usize, n: i32): void {
  const sx = uniform(0.75, 1.25), sy = uniform(0.75, 1.25), sz = uniform(0.75, 1.25);
  for (let p = pos, end = pos + <usize>n * 24; p < end; p += 24) {
    store<f64>(p, load<f64>(p) * sx);
    store<f64>(p, load<f64>(p, 8) * sy, 8);
    store<f64>(p, load<f64>(p, 16) * sz, 16);
  }
}

/** Shift x, y by U(−0.1, 0.1) and z by U(−0.075, 0.075), each clamped to keep [−0.5, 0.5]. */
function shiftRandomly(pos: usize, n: i32): void {
  let tx = uniform(-0.1, 0.1), ty = uniform(-0.1, 0.1), tz = uniform(-0.075, 0.075);
  measure(pos, n);
  tx = max(min(tx, 0.5 - maxX), -0.5 - minX);
  ty = max(min(ty, 0.5 - maxY), -0.5 - minY);
  tz = max(min(tz, 0.5 - maxZ), -0.5 - minZ);
  for (let p = pos, end = pos + <usize>n * 24; p < end; p += 24) {
    store<f64>(p, load<f64>(p) + tx);
    store<f64>(p, load<f64>(p, 8) + ty, 8);
    store<f64>(p, load<f64>(p, 16) + tz, 16);
  }
}

/** numpy's round (half to even, like f64.nearest) of clip(v + 0.5, 0, 1) · 128. */
@inline function quantize(v: f64): u32 {
  return <u32>nearest(min(max(v + 0.5, 0.0), 1.0) * STEPS);
}

/**
 * One u32 per vertex, (y·129 + x)·129 + z of its quantized coordinates: equal keys are
 * duplicate vertices, and ascending keys are the reference's vertex order (y, then x, then z).
 */
function vertexKeys(pos: usize, n: i32): usize {
  const keys = alloc(<usize>n << 2);
  for (let i = 0; i < n; i++) {
    const p = pos + <usize>i * 24;
    const x = quantize(load<f64>(p)), y = quantize(load<f64>(p, 8)), z = quantize(load<f64>(p, 16));
    u32Put(keys, i, y * PLANE + x * LEVELS + z);
  }
  return keys;
}

// ---- vertex merge: stable LSD radix sort of the keys (< 129³ < 2²², two 11-bit digits) ----

const DIGIT_BITS: u32 = 11;
const DIGIT_MASK: u32 = (1 << DIGIT_BITS) - 1;

function radixPass(keys: usize, src: usize, dst: usize, n: i32, shift: u32, count: usize): void {
  memory.fill(count, 0, (DIGIT_MASK + 1) << 2);
  for (let i = 0; i < n; i++) {
    const d = (u32At(keys, u32At(src, i)) >> shift) & DIGIT_MASK;
    u32Put(count, d, u32At(count, d) + 1);
  }
  let sum: u32 = 0;
  for (let d: u32 = 0; d <= DIGIT_MASK; d++) {
    const c = u32At(count, d);
    u32Put(count, d, sum);
    sum += c;
  }
  for (let i = 0; i < n; i++) {
    const v = u32At(src, i);
    const d = (u32At(keys, v) >> shift) & DIGIT_MASK;
    const at = u32At(count, d);
    u32Put(count, d, at + 1);
    u32Put(dst, at, v);
  }
}

let mergedKeys: usize = 0; // u32 per merged vertex, ascending

/** Fills `toMerged` (merged id per input vertex) and `mergedKeys`; returns the merged count. */
function mergeVertices(keys: usize, n: i32, toMerged: usize): i32 {
  const order = alloc(<usize>n << 2);
  const scratch = alloc(<usize>n << 2);
  const count = alloc((DIGIT_MASK + 1) << 2);
  for (let i = 0; i < n; i++) u32Put(scratch, i, i);
  radixPass(keys, scratch, order, n, 0, count);
  radixPass(keys, order, scratch, n, DIGIT_BITS, count);
  mergedKeys = order; // reused: merged count ≤ n, and `order` is no longer needed
  let merged: i32 = -1;
  let last: u32 = 0xffffffff;
  for (let i = 0; i < n; i++) {
    const v = u32At(scratch, i);
    const key = u32At(keys, v);
    if (key != last) {
      merged++;
      u32Put(mergedKeys, merged, key);
      last = key;
    }
    u32Put(toMerged, v, merged);
  }
  return merged + 1;
}

// ---- faces -------------------------------------------------------------------------------

/** Checks the CSR arrays; returns the largest face size, or an ERROR_* code. */
function checkFaces(indices: usize, indexCount: i32, starts: usize, faceCount: i32, vertexCount: i32): i32 {
  if (faceCount < 0 || u32At(starts, 0) != 0 || u32At(starts, faceCount) != <u32>indexCount) return ERROR_FACE_STARTS;
  let largest: u32 = 0;
  for (let f = 0; f < faceCount; f++) {
    const s = u32At(starts, f), e = u32At(starts, f + 1);
    if (e < s) return ERROR_FACE_STARTS;
    largest = max(largest, e - s);
  }
  for (let i = 0; i < indexCount; i++) if (u32At(indices, i) >= <u32>vertexCount) return ERROR_INDEX;
  return <i32>largest;
}

/** Splits every face into triangles of merged ids, appended to the open triangle region. */
function splitFaces(indices: usize, starts: usize, faceCount: i32, toMerged: usize): void {
  for (let f = 0; f < faceCount; f++) {
    const s = u32At(starts, f);
    const n = <i32>(u32At(starts, f + 1) - s);
    const face = indices + (<usize>s << 2);
    if (n == 3) {
      splitTriangle(u32At(toMerged, load<u32>(face)), u32At(toMerged, load<u32>(face, 4)), u32At(toMerged, load<u32>(face, 8)));
    } else if (n > 3) {
      splitPolygon(face, n, toMerged);
    } // fewer than 3 corners: no cycle of 3+ vertices
  }
}

/**
 * Stable order of the triangles by their sorted id triple (s0 ≤ s1 ≤ s2): counting-sort
 * passes on s2, then s1, then s0, each over `merged` buckets.
 */
function sortTriangles(tris: usize, count: i32, merged: i32): usize {
  const sorted = alloc(<usize>count * 12);
  for (let t = 0; t < count; t++) {
    const p = tris + <usize>t * 12;
    const a = load<u32>(p), b = load<u32>(p, 4), c = load<u32>(p, 8);
    const lo = min(a, min(b, c)), hi = max(a, max(b, c));
    const q = sorted + <usize>t * 12;
    store<u32>(q, lo);
    store<u32>(q, a + b + c - lo - hi, 4);
    store<u32>(q, hi, 8);
  }
  let src = alloc(<usize>count << 2);
  let dst = alloc(<usize>count << 2);
  const buckets = alloc(<usize>merged << 2);
  for (let t = 0; t < count; t++) u32Put(src, t, t);
  for (let component = 2; component >= 0; component--) {
    memory.fill(buckets, 0, <usize>merged << 2);
    const offset = <usize>component << 2;
    for (let t = 0; t < count; t++) {
      const k = load<u32>(sorted + <usize>t * 12 + offset);
      u32Put(buckets, k, u32At(buckets, k) + 1);
    }
    let sum: u32 = 0;
    for (let k = 0; k < merged; k++) {
      const c = u32At(buckets, k);
      u32Put(buckets, k, sum);
      sum += c;
    }
    for (let i = 0; i < count; i++) {
      const t = u32At(src, i);
      const k = load<u32>(sorted + <usize>t * 12 + offset);
      const at = u32At(buckets, k);
      u32Put(buckets, k, at + 1);
      u32Put(dst, at, t);
    }
    const swap = src;
    src = dst;
    dst = swap;
  }
  return src;
}

/** Writes 9 tokens per triangle, (z, x, y) per corner; returns how many vertices are used. */
function serialize(tris: usize, order: usize, count: i32, merged: i32, out: usize): i32 {
  const referenced = allocZeroed(<usize>merged);
  let used = 0;
  let o = out;
  for (let i = 0; i < count; i++) {
    const p = tris + <usize>u32At(order, i) * 12;
    for (let corner: usize = 0; corner < 12; corner += 4) {
      const v = load<u32>(p + corner);
      const key = u32At(mergedKeys, v);
      const xz = key % PLANE;
      store<i32>(o, xz % LEVELS); // z
      store<i32>(o, xz / LEVELS, 4); // x
      store<i32>(o, key / PLANE, 8); // y
      o += 12;
      if (load<u8>(referenced + v) == 0) {
        store<u8>(referenced + v, 1);
        used++;
      }
    }
  }
  return used;
}

/**
 * Tokenizes one mesh: `positions` f32 x y z (vertexCount of them), faces in CSR form
 * (`faceIndices` u32 × indexCount, `faceStarts` u32 × (faceCount + 1)). Augments with
 * `seed` when `augment` is set. Returns the face count F; the F·9 tokens start at
 * `resultPointer()`.
 */
export function tokenize(
  positions: usize, vertexCount: i32, faceIndices: usize, indexCount: i32, faceStarts: usize, faceCount: i32,
  augment: bool, seed: u64,
): i32 {
  const largest = checkFaces(faceIndices, indexCount, faceStarts, faceCount, vertexCount);
  if (largest < 0) return largest;
  resultVertices = 0;
  resultPtr = 0;
  if (vertexCount == 0) return 0;

  const pos = alloc(<usize>vertexCount * 24);
  for (let i = 0; i < vertexCount * 3; i++) {
    store<f64>(pos + (<usize>i << 3), <f64>load<f32>(positions + (<usize>i << 2)));
  }
  // The reference normalizes, scales, normalizes again (with or without augmentation), shifts.
  if (!normalize(pos, vertexCount)) return ERROR_NON_FINITE;
  rngState = seed;
  if (augment) scaleRandomly(pos, vertexCount);
  normalize(pos, vertexCount);
  if (augment) shiftRandomly(pos, vertexCount);

  const keys = vertexKeys(pos, vertexCount);
  const toMerged = alloc(<usize>vertexCount << 2);
  const merged = mergeVertices(keys, vertexCount, toMerged);
  if (largest > 3) preparePolygons(largest, merged);
  const triangles = beginTriangles();
  splitFaces(faceIndices, faceStarts, faceCount, toMerged);
  const count = endTriangles();
  const order = sortTriangles(triangles, count, merged);
  resultPtr = alloc(<usize>count * 36);
  resultVertices = serialize(triangles, order, count, merged, resultPtr);
  return count;
}

/**
 * Tokens → triangle soup. Skips the leading start tokens, stops at the first token that is
 * not a coordinate (the end token; a pad or stray start token too) and drops a trailing
 * partial face. Returns the face count F; F·9 f32 (x y z per corner, q/128 − 0.5) start at
 * `resultPointer()`.
 *
 * Corners are written in the order 0, 2, 1: tokenizing reversed each face (see faces.ts), so
 * this restores the source mesh's winding, and tokenizing the soup again gives back the same
 * tokens. (The reference writes its OBJs in token order, i.e. with the winding flipped.)
 */
export function detokenize(tokens: usize, n: i32): i32 {
  let first = 0;
  while (first < n && load<i32>(tokens + (<usize>first << 2)) == START) first++;
  let end = first;
  while (end < n && <u32>load<i32>(tokens + (<usize>end << 2)) < LEVELS) end++;
  const faces = (end - first) / TOKENS_PER_FACE;
  resultPtr = alloc(<usize>faces * TOKENS_PER_FACE * 4);
  for (let f = 0; f < faces; f++) {
    const face = tokens + (<usize>(first + f * TOKENS_PER_FACE) << 2);
    const out = resultPtr + <usize>f * 36;
    writeCorner(face, out);
    writeCorner(face + 24, out + 12);
    writeCorner(face + 12, out + 24);
  }
  return faces;
}

/** Tokens (z, x, y) at `src` → f32 (x, y, z) at `dst`. */
@inline function writeCorner(src: usize, dst: usize): void {
  store<f32>(dst, <f32>(<f64>load<i32>(src, 4) / STEPS - 0.5));
  store<f32>(dst, <f32>(<f64>load<i32>(src, 8) / STEPS - 0.5), 4);
  store<f32>(dst, <f32>(<f64>load<i32>(src) / STEPS - 0.5), 8);
}
