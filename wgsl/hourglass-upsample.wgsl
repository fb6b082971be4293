// The hourglass's way back up a level, fused:  out = w · shift2(upsample3(x)) + skip, i.e.
//   out[b, t, :] = w · x[b, (t − 2) / 3, :] + skip[b, t, :]   for t ≥ 2,   skip[b, t, :] for t < 2,
// with x [B, Lc, D], skip and out [B, L, D], L = 3·Lc, and w = weights[w_index] (skip_weights2).
// The shift by 2 is what keeps the hourglass causal. One thread per output value.

struct Params { n: u32, L: u32, D: u32, w_index: u32, row: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> skip: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x + g.y * p.row;
  if (i >= p.n) { return; }
  let d = i % p.D;
  let row = i / p.D;
  let t = row % p.L;
  var up = 0.0;
  if (t >= SHIFT) { up = x[((row - t) / 3u + (t - SHIFT) / 3u) * p.D + d]; }
  out[i] = weights[p.w_index] * up + skip[i];
}
