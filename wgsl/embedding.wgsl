// Embedding lookup: out[i, :] = table[tokens[i], :] for n tokens; table [V, D], out [n, D].
// One thread per output value (coalesced writes; table rows are small and stay in cache).

struct Params { n: u32, D: u32, row: u32 }

@group(0) @binding(0) var<storage, read> tokens: array<i32>;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x + g.y * p.row;
  if (i >= p.n * p.D) { return; }
  let token = u32(tokens[i / p.D]);
  out[i] = table[token * p.D + i % p.D];
}
