// Utility kernels: fill a buffer with a value, or with its own indices (iota).
// Used by tests and benchmarks; flat 1-D over `n` elements, any number of workgroups in x·y.

struct Params { n: u32, row: u32, value: f32, _pad: u32 }

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;

fn index(g: vec3u) -> u32 { return g.x + g.y * p.row; }

@compute @workgroup_size(256)
fn fill(@builtin(global_invocation_id) g: vec3u) {
  let i = index(g);
  if (i < p.n) { out[i] = p.value; }
}

@compute @workgroup_size(256)
fn iota(@builtin(global_invocation_id) g: vec3u) {
  let i = index(g);
  if (i < p.n) { out[i] = f32(i); }
}
