// The token mask of grammar-safe decoding for the position n = cursor[0] of each of B sequences:
// mask[b, q] = 1 when token q may come at n after tokens[b, 0..n), else 0. The rules and the
// strict vertex order are those of src/generate/grammar.ts (the CPU reference; read it for why):
//   n < 9: start only;  after an end: end only;  at the row boundary where only the end row still
//   fits in S tokens: end only;  else coordinates, and end at a row boundary once a face is
//   complete; with STRICT, coordinate q only if its vertex can still get a key
//   (y·129² + x·129 + z) in [lo, hi]: vertex 1 of a face in [vertex 1 of the previous face,
//   largest − 1], vertices 2 and 3 in [vertex 1 + 1, largest].
// tokens [B, S] i32, cursor u32 [1], mask [B, V] u32. Grid (ceil(V / 64), B), a thread a token.
// Constants: V, STRICT.

struct Params { S: u32 }

@group(0) @binding(0) var<storage, read> tokens: array<i32>;
@group(0) @binding(1) var<storage, read> cursor: array<u32>;
@group(0) @binding(2) var<storage, read_write> mask: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;

const LEVELS: u32 = 129u;
const PLANE: u32 = LEVELS * LEVELS;
const MAX_KEY: u32 = LEVELS * PLANE - 1u;
const START: u32 = 130u;
const END: u32 = 131u;
const ROW: u32 = 9u;

fn token(base: u32, at: u32) -> u32 {
  return u32(tokens[base + at]);
}

fn vertex_key(base: u32, at: u32) -> u32 {
  return token(base, at) + LEVELS * token(base, at + 1u) + PLANE * token(base, at + 2u);
}

// Keys of the vertex are low + unit·m for m < count (coordinates 0..c fixed): is one in [lo, hi]?
fn attainable(low: u32, c: u32, lo: u32, hi: u32) -> bool {
  if (hi < low) { return false; }
  var unit = LEVELS;
  var count = PLANE;
  if (c == 1u) { unit = PLANE; count = LEVELS; }
  if (c == 2u) { unit = PLANE * LEVELS; count = 1u; }
  var first = 0u;
  if (lo > low) { first = (lo - low + unit - 1u) / unit; }
  let last = min(count - 1u, (hi - low) / unit);
  return first <= last;
}

fn order_allows(base: u32, n: u32, q: u32) -> bool {
  let k = n % ROW;
  let row_start = n - k;
  let vertex = k / 3u;
  let c = k % 3u;
  var lo = 0u;
  var hi = MAX_KEY - 1u;
  if (vertex == 0u) {
    if (row_start >= 2u * ROW) { lo = vertex_key(base, row_start - ROW); }
  } else {
    lo = vertex_key(base, row_start) + 1u;
    hi = MAX_KEY;
  }
  let vertex_start = row_start + 3u * vertex;
  var low = 0u; // the fixed coordinates' part of the key, the candidate q included
  var scale = 1u;
  for (var i = 0u; i < c; i++) {
    low += token(base, vertex_start + i) * scale;
    scale *= LEVELS;
  }
  low += q * scale;
  return attainable(low, c, lo, hi);
}

fn allowed(base: u32, n: u32, q: u32) -> bool {
  if (n < ROW) { return q == START; }
  if (token(base, n - 1u) == END) { return q == END; }
  if (n % ROW == 0u && n + ROW >= p.S) { return q == END; }
  if (q == END) { return n % ROW == 0u && n >= 2u * ROW; }
  if (q >= LEVELS) { return false; }
  return !STRICT || order_allows(base, n, q);
}

@compute @workgroup_size(64)
fn token_mask(@builtin(global_invocation_id) g: vec3u) {
  let q = g.x;
  let b = g.y;
  let n = cursor[0];
  if (q >= V || n >= p.S) { return; }
  mask[b * V + q] = select(0u, 1u, allowed(b * p.S, n, q));
}
