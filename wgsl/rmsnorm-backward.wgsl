// RMSNorm backward. With x̂ = x · rstd and g = dy · weight, per row:
//   dx = rstd · (g − x̂ · mean(g · x̂))      (the second term flows through rstd)
// and dweight = Σ_rows dy · x̂. The weight gradient is reduced deterministically: workgroup w
// handles the contiguous rows [w·rows_per_group, ...) and writes its column sums to
// partials[w, :]; sum_rows (elementwise.wgsl) then adds the partials in a fixed order.
// Thread t owns columns t, t + WG, ... of every row (as the forward), so its dweight sums stay
// in registers across rows; workgroup_sum comes from workgroup-sum.wgsl.
// Constants: D (row width), WG (threads, a power of two), ADD_TO_DX (add into dx, which already
// holds the residual stream's gradient, instead of overwriting it).

//#include "workgroup-sum.wgsl"

struct Params { rows: u32, rows_per_group: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> partials: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

const PER_THREAD = (D + WG - 1u) / WG;

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  var w: array<f32, PER_THREAD>;
  var dw: array<f32, PER_THREAD>;
  for (var k = 0u; k < PER_THREAD; k++) {
    let c = t + k * WG;
    if (c < D) { w[k] = weight[c]; }
  }
  let first = wid.x * p.rows_per_group;
  let end = min(p.rows, first + p.rows_per_group);
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
