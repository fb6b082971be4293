// Backward of out = w · shift2(upsample3(x)) + skip (hourglass-upsample.wgsl) given dout:
//   S[b, i, :] = Σ_{r<3, t = 3i+2+r < L} dout[b, t, :]    (the rows that coarse row i fed)
//   dx = w · S,   dw = Σ x · S   (= Σ dout · shift2(upsample3(x))),   dskip = dout (not written).
// dw is reduced deterministically: each workgroup writes the sum over its ELEMS·256 values to
// partials[group]; sum_rows (elementwise.wgsl) adds the partials in order into dweights[w_index].
// Thread t of a workgroup handles values first + t + k·256, k < ELEMS (coalesced).

//#include "workgroup-sum.wgsl"

struct Params { n: u32, Lc: u32, D: u32, w_index: u32, groups_x: u32 }

@group(0) @binding(0) var<storage, read> dout: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

const WG: u32 = 256u;

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let group = wid.x + wid.y * p.groups_x;
  let w = weights[p.w_index];
  let L = 3u * p.Lc;
  var dw = 0.0;
  for (var k = 0u; k < ELEMS; k++) {
    let i = (group * ELEMS + k) * 256u + t;
    if (i < p.n) {
      let d = i % p.D;
      let row = i / p.D;
      let fine = 3u * (row % p.Lc) + SHIFT;    // first fine position fed by coarse row i
      let fine_row = 3u * (row - row % p.Lc) + fine;
      var s = 0.0;
      for (var r = 0u; r < 3u; r++) {
        if (fine + r < L) { s += dout[(fine_row + r) * p.D + d]; }
      }
      dx[i] = w * s;
      dw += x[i] * s;
    }
  }
  let total = workgroup_sum(dw, t); // workgroup-sum.wgsl, included
  if (t == 0u && group * ELEMS * 256u < p.n) { partials[group] = total; }
}
