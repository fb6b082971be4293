// Σ over the WG threads of a workgroup of one value each, added by a fixed tree (so the result
// is deterministic). Included by the kernels that use it; they define WG (a power of two).
// Call in uniform control flow; every thread gets the sum.

var<workgroup> lane_sum: array<f32, WG>;

fn workgroup_sum(v: f32, t: u32) -> f32 {
  lane_sum[t] = v;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (t < s) { lane_sum[t] += lane_sum[t + s]; }
  }
  return workgroupUniformLoad(&lane_sum[0]);
}
