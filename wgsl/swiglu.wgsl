// SwiGLU gate, elementwise over n values, and its backward (flat 1-D grids folded into x·y):
//   forward   h = silu(a) · b,  silu(a) = a · σ(a)   (a = proj1 x, b = proj2 x in the feed-forward)
//   backward  with s = σ(a):  da = dh · b · s · (1 + a · (1 − s)),  db = dh · a · s.
// Each entry point binds only the variables it uses (h and dh share binding 3).

struct Params { n: u32, row: u32 }

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read_write> h: array<f32>;
@group(0) @binding(3) var<storage, read> dh: array<f32>;
@group(0) @binding(4) var<storage, read_write> da: array<f32>;
@group(0) @binding(5) var<storage, read_write> db: array<f32>;

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

@compute @workgroup_size(256)
fn backward(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x + g.y * p.row;
  if (i >= p.n) { return; }
  let av = a[i];
  let s = sigmoid(av);
  let d = dh[i];
  da[i] = d * b[i] * s * (1.0 + av * (1.0 - s));
  db[i] = d * av * s;
}
