// A linear layer over a few rows (extends rows-gemv.wgsl), optionally normalising its input first
// and adding into its output:  y[r, n] (+)= x̂[r] · W[n] (+ bias[n]),  W [N, K], y [ROWS, N].
// Serves a decoding step's out projection (the linear blocks' attention RMSNorm as the prologue)
// and proj3, each adding into the residual stream, and the output projection.
// One workgroup per COLS output columns. Constants: N, BIAS, ACCUMULATE (bools), and rows-gemv's.

//#include "rows-gemv.wgsl"

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> norm_weight: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<W_T>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

fn weight(column: u32, k: u32) -> f32 {
  return f32(w[column * K + k]);
}

@compute @workgroup_size(WG)
fn linear(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let first = wid.x * COLS;
  let column = first + t / LANES;
  for (var r0 = 0u; r0 < ROWS; r0 += RT) {
    gemv_tile(t, r0, column, column < N);
    let i = t / COLS;
    let n = first + t % COLS;
    if (i < RT && r0 + i < ROWS && n < N) {
      var v = tile_dot(i, t % COLS);
      if (BIAS) { v += bias[n]; }
      let at = (r0 + i) * N + n;
      if (ACCUMULATE) { v += y[at]; }
      y[at] = v;
    }
  }
}
