// Embedding lookup: out[i, :] = table[tokens[i], :] for n tokens; table [V, D], out [n, D].
// One workgroup per output row: the token is read once (one address for the whole workgroup),
// then WG threads copy the row, coalesced. Constants: D (row width), WG (threads).

struct Params { n: u32, groups_x: u32 }

@group(0) @binding(0) var<storage, read> tokens: array<i32>;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * p.groups_x;
  if (row >= p.n) { return; }
  let src = u32(tokens[row]) * D;
  for (var c = t; c < D; c += WG) { out[row * D + c] = table[src + c]; }
}
