// The attention input of a decoding step (extends rows-gemv.wgsl): for a few rows x [ROWS, D],
//   h = RMSNorm(x);  q = RoPE(h·Wqᵀ),  k = RoPE(h·Wkᵀ),  v = h·Wvᵀ   (Wq, Wk, Wv [D, D], no bias),
// q into q_out [ROWS, D]; k and v straight to their place: row r at r·kv_stride + kv_offset of
// k_out and v_out (a K/V cache [B, capacity, H, HD] at the step's position, or plain [ROWS, D]).
// RoPE (rope.wgsl) turns pair j of a head, (dim j, dim HD/2 + j), by the angle of the step's
// position, whose cos and sin come in the params (from the CPU's table, like rope.wgsl's). The
// output columns of q | k | v are ordered so that a pair's two dims are neighbours, hence in one
// workgroup (COLS is even) and turned together after the sums.
// Constants: D (= K), HD (head dim, a multiple of 8), and rows-gemv's (NORM true).

//#include "rows-gemv.wgsl"

struct Params {
  kv_stride: u32,
  kv_offset: u32,
  // cos of pairs 0..HD/2−1, then their sin (aligned at byte 16: the host sends two padding words)
  rope: array<vec4f, HD / 4u>,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> norm_weight: array<f32>;
@group(0) @binding(2) var<storage, read> wq: array<W_T>;
@group(0) @binding(3) var<storage, read> wk: array<W_T>;
@group(0) @binding(4) var<storage, read> wv: array<W_T>;
@group(0) @binding(5) var<storage, read_write> q_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> k_out: array<f32>;
@group(0) @binding(7) var<storage, read_write> v_out: array<f32>;
@group(0) @binding(8) var<uniform> p: Params;

const HALF = HD / 2u;

// The output dim of column c of q | k | v: in each head the columns run j, HALF + j for j = 0, 1, …
fn dim_of(column: u32) -> u32 {
  let d = column % D;
  let j = d % HD;
  return d - j + j / 2u + (j % 2u) * HALF;
}

fn weight(column: u32, k: u32) -> f32 {
  let at = dim_of(column) * D + k;
  switch (column / D) {
    case 0u: { return f32(wq[at]); }
    case 1u: { return f32(wk[at]); }
    default: { return f32(wv[at]); }
  }
}

fn rope_value(i: u32) -> f32 {
  return p.rope[i / 4u][i % 4u];
}

@compute @workgroup_size(WG)
fn qkv(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let first = wid.x * COLS;
  let pairs = COLS / 2u;
  for (var r0 = 0u; r0 < ROWS; r0 += RT) {
    gemv_tile(t, r0, first + t / LANES, true);
    let i = t / pairs;
    let c = 2u * (t % pairs);
    let r = r0 + i;
    if (i < RT && r < ROWS) {
      let which = (first + c) / D; // 0 q, 1 k, 2 v
      let d = dim_of(first + c); // the pair's first dim; its second is d + HALF
      var y1 = tile_dot(i, c);
      var y2 = tile_dot(i, c + 1u);
      if (which < 2u) {
        let j = d % HD;
        let cs = rope_value(j);
        let sn = rope_value(HALF + j);
        let x1 = y1;
        y1 = x1 * cs + y2 * sn;
        y2 = y2 * cs - x1 * sn;
      }
      if (which == 0u) {
        q_out[r * D + d] = y1;
        q_out[r * D + d + HALF] = y2;
      } else {
        let at = r * p.kv_stride + p.kv_offset + d;
        if (which == 1u) {
          k_out[at] = y1;
          k_out[at + HALF] = y2;
        } else {
          v_out[at] = y1;
          v_out[at + HALF] = y2;
        }
      }
    }
  }
}
