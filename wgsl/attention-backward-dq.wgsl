// Causal attention backward, part 1 of 2: delta and dq (see attention.wgsl for the forward,
// attention-backward-dkdv.wgsl for part 2). Recomputes the probabilities from lse:
//   p_iu = exp(s_iu − lse_i),  dp_iu = dout_i·v_u,  ds_iu = p_iu (dp_iu − delta_i),
//   delta_i = dout_i·o_i,      dq_i = (1/sqrt(HD)) Σ_{u ≤ pos_i} ds_iu k_u.
// delta is written here for part 2. Same layouts, grid and causal blocking as the forward: each
// thread owns R query rows (q pre-scaled into log2 units, dout, dq in registers); keys and values
// stream through workgroup memory, K both transposed (for the scores) and row-major (for dq), V
// transposed (for dp), so every product is a broadcast vec4 FMA.
// Constants: HD, WG, R, KT, KB as in attention.wgsl; SCALE (f32, 1/sqrt(HD)), SCALE_LOG2E (f32).

//#include "attention-common.wgsl"

// Params and the bindings of q, k, v: attention-common.wgsl (included).
@group(0) @binding(3) var<storage, read> o: array<vec4<O_T>>;  // the forward's output type
@group(0) @binding(4) var<storage, read> d_out: array<vec4f>;
@group(0) @binding(5) var<storage, read> lse: array<f32>;
@group(0) @binding(6) var<storage, read_write> delta: array<f32>;
@group(0) @binding(7) var<storage, read_write> dq: array<vec4f>;
@group(0) @binding(8) var<uniform> p: Params;

const QT = WG * R;
const KT4 = KT / 4u + 1u;
const KB4 = KB / 4u;

var<workgroup> k_tile_t: array<vec4f, HD * KT4>; // [d][key / 4]
var<workgroup> v_tile_t: array<vec4f, HD * KT4>; // [d][key / 4]
var<workgroup> k_tile: array<vec4f, KT * V4>;    // [key][d / 4]

var<private> q_row: array<array<vec4f, V4>, R>;
var<private> dout_row: array<array<vec4f, V4>, R>;
var<private> dq_acc: array<array<vec4f, V4>, R>;
var<private> row_lse2: array<f32, R>;
var<private> row_delta: array<f32, R>;

fn accumulate_dq(kb: u32, first_key: u32, row0: u32, masked: bool) {
  var s: array<array<vec4f, KB4>, R>;
  var dp: array<array<vec4f, KB4>, R>;
  for (var d = 0u; d < HD; d++) {
    for (var c = 0u; c < KB4; c++) {
      let kd = k_tile_t[d * KT4 + kb / 4u + c];
      let vd = v_tile_t[d * KT4 + kb / 4u + c];
      for (var r = 0u; r < R; r++) {
        s[r][c] = fma(vec4f(q_row[r][d / 4u][d % 4u]), kd, s[r][c]);
        dp[r][c] = fma(vec4f(dout_row[r][d / 4u][d % 4u]), vd, dp[r][c]);
      }
    }
  }
  for (var r = 0u; r < R; r++) {
    let last_key = min(p.q_offset + min(row0 + r, p.lq - 1u), p.lk - 1u);
    for (var c = 0u; c < KB4; c++) {
      var pr = exp2(s[r][c] - row_lse2[r]);
      if (masked) {
        let key = vec4u(first_key + 4u * c) + vec4u(0u, 1u, 2u, 3u);
        pr = select(pr, vec4f(0.0), key > vec4u(last_key));
      }
      s[r][c] = pr * (dp[r][c] - row_delta[r]); // now ds
    }
  }
  for (var c = 0u; c < KB; c++) {
    for (var j = 0u; j < V4; j++) {
      let kj = k_tile[(kb + c) * V4 + j];
      for (var r = 0u; r < R; r++) { dq_acc[r][j] = fma(vec4f(s[r][c / 4u][c % 4u]), kj, dq_acc[r][j]); }
    }
  }
}

@compute @workgroup_size(WG)
fn backward_dq(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let tiles = (p.lq + QT - 1u) / QT;
  let q0 = (tiles - 1u - wid.x) * QT;
  let b = wid.y / p.heads;
  let q_head = b * p.q_batch + (wid.y % p.heads) * V4;
  let kv_head = b * p.kv_batch + (wid.y % p.heads) * V4;
  let row0 = q0 + t * R;
  for (var r = 0u; r < R; r++) {
    let row = min(row0 + r, p.lq - 1u);
    let at = q_head + row * p.q_stride;
    var dot4 = vec4f(0.0);
    for (var j = 0u; j < V4; j++) {
      q_row[r][j] = vec4f(q[at + j]) * SCALE_LOG2E;
      dout_row[r][j] = d_out[at + j];
      dot4 = fma(dout_row[r][j], vec4f(o[at + j]), dot4);
      dq_acc[r][j] = vec4f(0.0);
    }
    row_delta[r] = (dot4.x + dot4.y) + (dot4.z + dot4.w);
    row_lse2[r] = lse[wid.y * p.lq + row] * LOG2E;
  }
  let tile_last_row = min(q0 + QT, p.lq) - 1u;
  let key_end = min(p.lk, p.q_offset + tile_last_row + 1u);
  let open_end = min(p.lk, p.q_offset + q0 + 1u);
  let my_last_key = p.q_offset + min(row0 + R - 1u, p.lq - 1u);
  for (var key0 = 0u; key0 < key_end; key0 += KT) {
    workgroupBarrier();
    for (var i = t; i < KT * V4; i += WG) {
      let key = key0 + i / V4;
      var kv = vec4f(0.0);
      var vv = vec4f(0.0);
      if (key < key_end) {
        let at = kv_head + key * p.kv_stride + i % V4;
        kv = vec4f(k[at]);
        vv = vec4f(v[at]);
      }
      let slot = 4u * (i % V4) * KT4 + (i / V4) / 4u;
      for (var e = 0u; e < 4u; e++) {
        k_tile_t[slot + e * KT4][(i / V4) % 4u] = kv[e];
        v_tile_t[slot + e * KT4][(i / V4) % 4u] = vv[e];
      }
      k_tile[i] = kv;
    }
    workgroupBarrier();
    for (var kb = 0u; kb < KT; kb += KB) {
      let first = key0 + kb;
      if (first + KB <= open_end) {
        accumulate_dq(kb, first, row0, false);
      } else if (first <= my_last_key && first < key_end) {
        accumulate_dq(kb, first, row0, true);
      }
    }
  }
  for (var r = 0u; r < R; r++) {
    let row = row0 + r;
    if (row < p.lq) {
      for (var j = 0u; j < V4; j++) { dq[q_head + row * p.q_stride + j] = dq_acc[r][j] * SCALE; }
      delta[wid.y * p.lq + row] = row_delta[r];
    }
  }
}
