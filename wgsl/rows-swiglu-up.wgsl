// The first half of a decoding step's feed-forward (extends rows-gemv.wgsl): for a few rows
// x [ROWS, K],  h = RMSNorm(x),  g = silu(h·W1ᵀ + b1) · (h·W2ᵀ + b2)  (W1, W2 [HIDDEN, K]),
// g [ROWS, HIDDEN]: proj1, proj2 and the SwiGLU gate (swiglu.wgsl) in one pass. A workgroup owns
// UNITS = COLS/2 hidden units; its columns c < UNITS are their proj1 rows, the others their proj2 rows.
// Constants: HIDDEN, and rows-gemv's (NORM true).

//#include "rows-gemv.wgsl"

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> norm_weight: array<f32>;
@group(0) @binding(2) var<storage, read> w1: array<W_T>;
@group(0) @binding(3) var<storage, read> b1: array<f32>;
@group(0) @binding(4) var<storage, read> w2: array<W_T>;
@group(0) @binding(5) var<storage, read> b2: array<f32>;
@group(0) @binding(6) var<storage, read_write> g: array<f32>;

const UNITS = COLS / 2u;

// Column c of workgroup w is unit w·UNITS + c % UNITS of proj1 (c < UNITS) or proj2.
fn weight(column: u32, k: u32) -> f32 {
  let c = column % COLS;
  let at = ((column / COLS) * UNITS + c % UNITS) * K + k;
  if (c < UNITS) { return f32(w1[at]); }
  return f32(w2[at]);
}

// σ(v) from exp(−|v|) ∈ (0, 1], which never overflows (as swiglu.wgsl).
fn sigmoid(v: f32) -> f32 {
  let e = exp(-abs(v));
  return select(e, 1.0, v >= 0.0) / (1.0 + e);
}

@compute @workgroup_size(WG)
fn swiglu_up(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let first = wid.x * UNITS;
  let c = t / LANES;
  for (var r0 = 0u; r0 < ROWS; r0 += RT) {
    gemv_tile(t, r0, wid.x * COLS + c, first + c % UNITS < HIDDEN);
    let i = t / UNITS;
    let u = t % UNITS;
    let unit = first + u;
    if (i < RT && r0 + i < ROWS && unit < HIDDEN) {
      let a = tile_dot(i, u) + b1[unit];
      let b = tile_dot(i, u + UNITS) + b2[unit];
      g[(r0 + i) * HIDDEN + unit] = a * sigmoid(a) * b;
    }
  }
}
