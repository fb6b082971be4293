// The normalised embedding of the token before the cursor, for each of B sequences:
//   out[b, :] = RMSNorm(table[tokens[b·S + cursor[0] − 1], :])   (weight norm_weight, as rmsnorm.wgsl)
// tokens [B, S] i32 (the sequence buffer), cursor u32 [1] (the position the sampler writes next),
// table [V, D], out [B, D]. Reading the position from GPU memory lets many decoding steps be
// recorded at once: the step embeds whatever token the previous step sampled. One workgroup a row;
// the row's sum of squares is added in a fixed tree (workgroup-sum.wgsl, included).
// Constants: D, EPS (f32).

//#include "workgroup-sum.wgsl"

struct Params { S: u32 }

@group(0) @binding(0) var<storage, read> tokens: array<i32>;
@group(0) @binding(1) var<storage, read> cursor: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read> norm_weight: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn embed(@builtin(workgroup_id) w: vec3u, @builtin(local_invocation_index) t: u32) {
  let b = w.x;
  let source = u32(tokens[b * p.S + cursor[0] - 1u]) * D;
  var sum_sq = 0.0;
  for (var c = t; c < D; c += WG) { sum_sq = fma(table[source + c], table[source + c], sum_sq); }
  let r = inverseSqrt(workgroup_sum(sum_sq, t) / f32(D) + EPS);
  for (var c = t; c < D; c += WG) { out[b * D + c] = table[source + c] * r * norm_weight[c]; }
}
