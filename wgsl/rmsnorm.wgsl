// RMSNorm forward over rows of width D:  rstd = 1 / sqrt(mean(x²) + EPS),  y = x · rstd · weight.
// One workgroup of WG threads per row. D and WG are specialisation constants, so each thread's
// slice of the row (columns t, t + WG, ..., coalesced across threads) stays in registers between
// the sum of squares and the scaling: x is read once. workgroup-sum.wgsl is included.
// Constants: D (row width), WG (threads, a power of two), EPS (f32).

//#include "workgroup-sum.wgsl"

struct Params { rows: u32, groups_x: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const PER_THREAD = (D + WG - 1u) / WG;

// Normalises the row whose columns t + k·WG this thread holds in v; writes y and rstd.
fn normalise_row(v: array<f32, PER_THREAD>, row: u32, t: u32) {
  var sum_sq = 0.0;
  for (var k = 0u; k < PER_THREAD; k++) { sum_sq += v[k] * v[k]; }
  let r = inverseSqrt(workgroup_sum(sum_sq, t) / f32(D) + EPS);
  for (var k = 0u; k < PER_THREAD; k++) {
    let c = t + k * WG;
    if (c < D) { y[row * D + c] = v[k] * r * weight[c]; }
  }
  if (t == 0u) { rstd[row] = r; }
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * p.groups_x;
  if (row >= p.rows) { return; }
  var v: array<f32, PER_THREAD>;
  for (var k = 0u; k < PER_THREAD; k++) {
    let c = t + k * WG;
    if (c < D) { v[k] = x[row * D + c]; }
  }
  normalise_row(v, row, t);
}
