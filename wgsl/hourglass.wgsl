// Average pooling by 3 along L (kernel 3, stride 3) over x [B, L, D] → y [B, L/3, D], and its
// backward. Since L = 3·Lc, row j of the pooled [B·Lc, D] view averages rows 3j..3j+2 of the
// [B·L, D] view, so neither kernel needs B or L. One thread per written value.
//   pool_forward:   dst[j, d] = (src[3j, d] + src[3j+1, d] + src[3j+2, d]) / 3
//   pool_backward:  dst[t, d] (+)= src[t/3, d] / 3     (src = dy [B, Lc, D], dst = dx [B, L, D])
// Constant: ACCUMULATE (the backward adds into dst: the pooled activation also feeds a skip).

struct Params { n: u32, D: u32, row: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn pool_forward(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x + g.y * p.row;
  if (i >= p.n) { return; }
  let d = i % p.D;
  let first = 3u * (i - d) + d;
  dst[i] = (src[first] + src[first + p.D] + src[first + 2u * p.D]) / 3.0;
}

@compute @workgroup_size(256)
fn pool_backward(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x + g.y * p.row;
  if (i >= p.n) { return; }
  let d = i % p.D;
  let grad = src[(i / p.D) / 3u * p.D + d] / 3.0;
  if (ACCUMULATE) { dst[i] += grad; } else { dst[i] = grad; }
}
