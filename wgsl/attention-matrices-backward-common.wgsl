// Included by both tensor-core attention backward kernels (attention-matrices-dq-body.wgsl,
// attention-matrices-dkdv-body.wgsl), which declare the d_out binding: the common pieces
// (attention-matrices-common.wgsl) and dout's staging.

//#include "attention-matrices-common.wgsl"

// dout's rows first .. first + BQ − 1 (zeros from lq on), rounded to f16, into matrix_tiles at at.
fn stage_dout(t: u32, q_head: u32, first: u32, at: u32) {
  for (var e = t; e < BQ * V4; e += WG) {
    var x = vec4f(0.0);
    if (first + e / V4 < p.lq) { x = d_out[q_head + (first + e / V4) * p.q_stride + e % V4]; }
    put4(at, e / V4, e % V4, x);
  }
}
