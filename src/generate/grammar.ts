/**
 * Grammar-safe decoding: which tokens may come at position n of a sequence, given the tokens
 * before it. This is the CPU reference of wgsl/grammar.wgsl (the GPU computes the same mask from
 * the sequence buffer each step) and the validity check of a generated stream.
 *
 * What a stream looks like (SPEC §1): a start row (9 × start), face rows of 9 coordinates (three
 * vertices, each stored z, x, y), an end token at a row boundary. The rules for position n:
 *   - n < 9: only `start`;
 *   - after an `end`: only `end` (a finished row stays finished: it fills its end row and stays
 *     inert while the rest of the batch decodes);
 *   - otherwise coordinates 0..128, and `end` too at a row boundary (n % 9 == 0) once at least one
 *     face is complete (n ≥ 18); never `pad` or `start`;
 *   - at the row boundary where only the end row still fits in the sequence buffer (n + 9 ≥
 *     capacity), only `end`: every sequence finishes, at most capacity / 9 − 2 faces long.
 * With `strictOrder`, also the orderings the tokenizer guarantees, as feasibility constraints on
 * the vertex key (y, x, z) — the tokenizer sorts vertices by y, then x, then z, and a vertex key is
 * y·129² + x·129 + z:
 *   - vertices 2 and 3 of a face are greater than vertex 1 (a face starts at its smallest vertex,
 *     and merged vertices are distinct);
 *   - vertex 1 of a face is ≥ vertex 1 of the previous face (faces are sorted by their sorted
 *     vertex triple, whose first element is vertex 1), and below the largest key, so that a
 *     greater vertex remains for the rest of the face.
 * Not enforced: the order of faces whose first vertices are equal, and vertex 2 ≠ vertex 3 (such
 * degenerate faces are dropped when writing the mesh).
 * A coordinate is allowed when some completion of its vertex satisfies the bounds. The vertex's
 * key is known only once its last coordinate (y, the most significant) is chosen, so each prefix
 * is checked for an attainable key: never a dead end, whatever is sampled.
 */
import { TOKENS } from "../tokenizer/index.ts";

export interface GrammarOptions {
  strictOrder: boolean;
}

const { levels: LEVELS, start: START, end: END, perFace: ROW, vocab: VOCAB } = TOKENS;
const PLANE = LEVELS * LEVELS;
/** The key of the vertex (128, 128, 128). */
const MAX_KEY = LEVELS * PLANE - 1;

/** The key of the vertex whose tokens (z, x, y) start at `at`. */
function vertexKey(tokens: ArrayLike<number>, at: number): number {
  return tokens[at] + LEVELS * tokens[at + 1] + PLANE * tokens[at + 2];
}

/**
 * Whether a vertex whose coordinates 0..c (z, then x, then y) are fixed and contribute `low` to
 * its key can still get a key in [lo, hi]: its keys are low + 129^(c+1)·m, m < 129^(2−c).
 */
function attainable(low: number, c: number, lo: number, hi: number): boolean {
  if (hi < low) return false;
  const unit = LEVELS ** (c + 1);
  const count = LEVELS ** (2 - c);
  const first = lo <= low ? 0 : Math.ceil((lo - low) / unit);
  const last = Math.min(count - 1, Math.floor((hi - low) / unit));
  return first <= last;
}

/** May coordinate q come at position n (inside a face row) under the strict order? */
function orderAllows(tokens: ArrayLike<number>, n: number, q: number): boolean {
  const k = n % ROW;
  const rowStart = n - k;
  const vertex = Math.floor(k / 3);
  const c = k % 3;
  let lo: number, hi: number;
  if (vertex === 0) {
    lo = rowStart >= 2 * ROW ? vertexKey(tokens, rowStart - ROW) : 0;
    hi = MAX_KEY - 1;
  } else {
    lo = vertexKey(tokens, rowStart) + 1;
    hi = MAX_KEY;
  }
  const vertexStart = rowStart + 3 * vertex;
  let low = q * LEVELS ** c;
  for (let i = 0; i < c; i++) low += tokens[vertexStart + i] * LEVELS ** i;
  return attainable(low, c, lo, hi);
}

/** May token q come at position n after tokens[0..n), in a sequence of `capacity` tokens? */
export function tokenAllowed(tokens: ArrayLike<number>, n: number, q: number, opts: GrammarOptions, capacity = Infinity): boolean {
  if (n < ROW) return q === START;
  if (tokens[n - 1] === END) return q === END;
  if (n % ROW === 0 && n + ROW >= capacity) return q === END;
  if (q === END) return n % ROW === 0 && n >= 2 * ROW;
  if (q >= LEVELS) return false;
  return !opts.strictOrder || orderAllows(tokens, n, q);
}

/** The mask for position n: [vocab], 1 = allowed. */
export function grammarMask(tokens: ArrayLike<number>, n: number, opts: GrammarOptions, capacity = Infinity): Uint8Array {
  const mask = new Uint8Array(VOCAB);
  for (let q = 0; q < VOCAB; q++) mask[q] = tokenAllowed(tokens, n, q, opts, capacity) ? 1 : 0;
  return mask;
}

export interface StreamCheck {
  /** Every token up to the first end obeys the grammar, and there is an end. */
  valid: boolean;
  /** Complete face rows before the end (or before the first violation). */
  faces: number;
  /** Why it is not valid. */
  problem?: string;
}

/** Checks a generated sequence (start row first) against the grammar up to its first end token. */
export function checkTokenStream(tokens: ArrayLike<number>, opts: GrammarOptions): StreamCheck {
  const faces = (n: number) => Math.max(0, Math.floor(n / ROW) - 1);
  for (let n = 0; n < tokens.length; n++) {
    const q = tokens[n];
    if (!tokenAllowed(tokens, n, q, opts)) return { valid: false, faces: faces(n), problem: `token ${q} not allowed at position ${n}` };
    if (q === END) return { valid: true, faces: faces(n) };
  }
  return { valid: false, faces: faces(tokens.length), problem: "no end token" };
}
