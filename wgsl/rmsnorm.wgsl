// RMSNorm over rows of width D, forward and backward. Thread t of a workgroup owns columns
// t, t + WG, ... of a row (coalesced across threads) and keeps them in registers; D and WG are
// specialisation constants. workgroup_sum comes from workgroup-sum.wgsl.
//
// Forward:  rstd = 1 / sqrt(mean(x²) + EPS),  y = x · rstd · weight; one workgroup per row, x
// read once (between the sum of squares and the scaling it stays in registers).
//
// Backward: with x̂ = x · rstd and g = dy · weight, per row
//   dx = rstd · (g − x̂ · mean(g · x̂))      (the second term flows through rstd)
// and dweight = Σ_rows dy · x̂. The weight gradient is reduced deterministically: workgroup w
// handles the contiguous rows [w·rows_per_group, ...) and writes its column sums to
// partials[w, :]; sum_rows (elementwise.wgsl) then adds the partials in a fixed order.
//
// Constants: D (row width), WG (threads, a power of two), EPS (f32), ADD_TO_DX (backward: add into
// dx, which already holds the residual stream's gradient, instead of overwriting it). Each entry
// point binds only what it uses: the two uniform blocks share binding 2, and the forward's
// outputs share bindings 3 and 4 with the backward's inputs.

//#include "workgroup-sum.wgsl"

struct ForwardParams { rows: u32, groups_x: u32 }
struct BackwardParams { rows: u32, rows_per_group: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<uniform> p: ForwardParams;
@group(0) @binding(2) var<uniform> pb: BackwardParams;
// forward
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> rstd_out: array<f32>;
// backward
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;

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
  if (t == 0u) { rstd_out[row] = r; }
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

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  var w: array<f32, PER_THREAD>;
  var dw: array<f32, PER_THREAD>;
  for (var k = 0u; k < PER_THREAD; k++) {
    let c = t + k * WG;
    if (c < D) { w[k] = weight[c]; }
  }
  let first = wid.x * pb.rows_per_group;
  let end = min(pb.rows, first + pb.rows_per_group);
  for (var row = first; row < end; row++) {
    let base = row * D;
    let r = rstd[row];
    var xhat: array<f32, PER_THREAD>;
    var g: array<f32, PER_THREAD>;
    var g_dot_xhat = 0.0;
    for (var k = 0u; k < PER_THREAD; k++) {
      let c = t + k * WG;
      var d = 0.0;
      if (c < D) {
        d = dy[base + c];
        xhat[k] = x[base + c] * r;
      }
      g[k] = d * w[k];
      g_dot_xhat += g[k] * xhat[k];
      dw[k] += d * xhat[k];
    }
    let mean_g_xhat = workgroup_sum(g_dot_xhat, t) / f32(D);
    for (var k = 0u; k < PER_THREAD; k++) {
      let c = t + k * WG;
      if (c < D) {
        let grad = r * (g[k] - xhat[k] * mean_g_xhat);
        if (ADD_TO_DX) { dx[base + c] += grad; } else { dx[base + c] = grad; }
      }
    }
  }
  for (var k = 0u; k < PER_THREAD; k++) {
    let c = t + k * WG;
    if (c < D) { partials[wid.x * D + c] = dw[k]; }
  }
}
