// SwiGLU gate forward, elementwise over n values: h = silu(a) · b, silu(a) = a · σ(a).
// (a = proj1 x, b = proj2 x in the feed-forward.) Flat 1-D grid folded into x·y.

struct Params { n: u32, row: u32 }

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> h: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// σ(v) from exp(−|v|) ∈ (0, 1], which never overflows (1 / (1 + exp(−v)) would for v < −88).
fn sigmoid(v: f32) -> f32 {
  let e = exp(-abs(v));
  return select(e, 1.0, v >= 0.0) / (1.0 + e);
}

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x + g.y * p.row;
  if (i >= p.n) { return; }
  let av = a[i];
  h[i] = av * sigmoid(av) * b[i];
}
