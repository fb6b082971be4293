// Half-truncated rotary embedding of x[rows, heads, HD] (rows = B·L, position of row i = position
// + i % seq_len). Pair j of a head vector is (x[j], x[HD/2 + j]); it turns by θ = t·f_j:
//   y1 = x1·cos θ + x2·sin θ,   y2 = −x1·sin θ + x2·cos θ.
// direction = −1 turns by −θ, the transpose: that is the backward (dx from dy).
// cos θ and sin θ come from a table made on the CPU (f32 cos of angles like 36000·f lose digits),
// one row per position: HD/2 cosines then HD/2 sines. Each thread turns 4 pairs (two vec4s).
// Constants: HD (head dim, a multiple of 8).

struct Params { n: u32, seq_len: u32, heads: u32, position: u32, row: u32, direction: f32 }

@group(0) @binding(0) var<storage, read> x: array<vec4f>;
@group(0) @binding(1) var<storage, read> table: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4f>;
@group(0) @binding(3) var<uniform> p: Params;

const HALF4 = HD / 8u; // vec4s per half head vector

@compute @workgroup_size(256)
fn rotate(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x + g.y * p.row;
  if (i >= p.n) { return; }
  let quad = i % HALF4;
  let head_row = i / HALF4; // (b·L + l)·heads + h
  let t = p.position + (head_row / p.heads) % p.seq_len;
  let at = head_row * 2u * HALF4 + quad;
  let c = table[t * 2u * HALF4 + quad];
  let s = p.direction * table[t * 2u * HALF4 + HALF4 + quad];
  let x1 = x[at];
  let x2 = x[at + HALF4];
  y[at] = x1 * c + x2 * s;
  y[at + HALF4] = x2 * c - x1 * s;
}
