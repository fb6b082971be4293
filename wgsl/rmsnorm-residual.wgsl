// Appended to rmsnorm.wgsl (compiled as one module): the residual add fused with the norm that
// follows it in every block, so the new residual stream is written once and never re-read:
//   x_next = x + delta,   y = RMSNorm(x_next) (y, rstd as in rmsnorm.wgsl).

@group(0) @binding(5) var<storage, read> delta: array<f32>;
@group(0) @binding(6) var<storage, read_write> x_next: array<f32>;

@compute @workgroup_size(WG)
fn forward_residual(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * p.groups_x;
  if (row >= p.rows) { return; }
  var v: array<f32, PER_THREAD>;
  for (var k = 0u; k < PER_THREAD; k++) {
    let c = t + k * WG;
    if (c < D) {
      v[k] = x[row * D + c] + delta[row * D + c];
      x_next[row * D + c] = v[k];
    }
  }
  normalise_row(v, row, t);
}
