// The elementwise parts of Muon's quintic Newton–Schulz iteration over a batch of matrices
// (the products run on the matmul kernels, see src/kernels/optim.ts):
//   ns_normalize: X ← X · inv_norm[matrix]   (inv_norm = 1/(‖X‖_F + 1e-7) from reduce.wgsl)
//   ns_poly:      P = a·I + b·A + c·A²        (A = X·Xᵀ, A² = A·A; then X ← P·X)
// Folding a·X into P·X as a·I saves a pass over X per iteration.

struct Params {
  n: u32,    // elements over the whole batch
  row: u32,  // threads per grid row (grid1d folding)
  size: u32, // elements per matrix (ns_normalize) or the Gram order r (ns_poly: r×r matrices)
  a: f32,
  b: f32,
  c: f32,
}

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> inv_norm: array<f32>;
@group(0) @binding(2) var<storage, read> gram: array<f32>;
@group(0) @binding(3) var<storage, read> gram_sq: array<f32>;
@group(0) @binding(4) var<storage, read_write> poly: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(256)
fn ns_normalize(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * p.row;
  if (i >= p.n) { return; }
  x[i] *= inv_norm[i / p.size];
}

@compute @workgroup_size(256)
fn ns_poly(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * p.row;
  if (i >= p.n) { return; }
  let within = i % (p.size * p.size);
  let diagonal = within / p.size == within % p.size;
  poly[i] = select(0.0, p.a, diagonal) + p.b * gram[i] + p.c * gram_sq[i];
}
