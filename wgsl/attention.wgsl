// Causal softmax attention forward, flash style (never an L×L buffer), per (batch, head):
//   s_iu = q_i·k_u / sqrt(HD) for keys u ≤ pos_i = q_offset + i (and u < lk),
//   o_i = Σ_u softmax_u(s_iu) v_u,   lse_i = log Σ_u exp(s_iu)   (natural log, for the backward).
// Queries can be the last lq positions of a longer key sequence (cached decoding): query i sits
// at position q_offset + i; keys and values may live in a cache with room for more rows.
//
// Layout (strides in vec4s): row i of q/o for head h of batch b starts at
// b·q_batch + i·q_stride + h·HD/4, key u at b·kv_batch + u·kv_stride + h·HD/4; lse [B, H, lq].
//
// One workgroup per (tile of WG·R queries, batch·head); each thread owns R consecutive query rows
// and keeps them (pre-scaled by log2(e)/sqrt(HD), so scores come out in log2 units for exp2),
// their output accumulators and running max / sum in registers. Keys and values stream through
// workgroup memory KT at a time; every thread of a subgroup reads the same key at once, which is
// a broadcast. Within a tile, KB keys at a time: their R×KB scores, one online-softmax rescale,
// then the R×KB×HD update. K is stored transposed (dimension-major) so that one vec4 read gives
// dimension d of 4 keys and the scores accumulate as vec4 FMAs with no horizontal sums.
// Constants: HD (head dim, a multiple of 4), WG (threads), R (rows per thread), KT (keys per
// tile), KB (keys per block, a multiple of 4 dividing KT), SCALE_LOG2E (f32).

//#include "attention-common.wgsl"

// Params and the bindings of q, k, v: attention-common.wgsl (included).
@group(0) @binding(3) var<storage, read_write> o: array<vec4<O_T>>;  // O_T: f32 or f16
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

const QT = WG * R;
const KT4 = KT / 4u + 1u; // row stride of the transposed K tile, padded against bank conflicts
const KB4 = KB / 4u;
// Masked scores: far below any real one, but finite so that max and subtraction stay defined.
const MASKED = -1e30;
const LN2 = 0.6931471805599453;

var<workgroup> k_tile: array<vec4f, HD * KT4>; // [d][key / 4]
var<workgroup> v_tile: array<vec4f, KT * V4>;  // [key][d / 4]

var<private> q_row: array<array<vec4f, V4>, R>;
var<private> acc: array<array<vec4f, V4>, R>;
var<private> row_max: array<f32, R>;
var<private> row_sum: array<f32, R>;

// Keys first_key .. first_key + KB − 1 (tile slots kb ..) against this thread's rows.
// `masked` blocks also drop keys past a row's position or past lk.
fn attend(kb: u32, first_key: u32, row0: u32, masked: bool) {
  var s: array<array<vec4f, KB4>, R>;
  for (var d = 0u; d < HD; d++) {
    for (var c = 0u; c < KB4; c++) {
      let kd = k_tile[d * KT4 + kb / 4u + c];
      for (var r = 0u; r < R; r++) { s[r][c] = fma(vec4f(q_row[r][d / 4u][d % 4u]), kd, s[r][c]); }
    }
  }
  for (var r = 0u; r < R; r++) {
    if (masked) {
      let last_key = min(p.q_offset + min(row0 + r, p.lq - 1u), p.lk - 1u);
      for (var c = 0u; c < KB4; c++) {
        let key = vec4u(first_key + 4u * c) + vec4u(0u, 1u, 2u, 3u);
        s[r][c] = select(s[r][c], vec4f(MASKED), key > vec4u(last_key));
      }
    }
    var m4 = vec4f(row_max[r]);
    for (var c = 0u; c < KB4; c++) { m4 = max(m4, s[r][c]); }
    let m = max(max(m4.x, m4.y), max(m4.z, m4.w));
    let alpha = exp2(row_max[r] - m);
    row_max[r] = m;
    var sum4 = vec4f(0.0);
    for (var c = 0u; c < KB4; c++) {
      s[r][c] = exp2(s[r][c] - m);
      sum4 += s[r][c];
    }
    row_sum[r] = row_sum[r] * alpha + (sum4.x + sum4.y) + (sum4.z + sum4.w);
    for (var j = 0u; j < V4; j++) { acc[r][j] *= alpha; }
  }
  for (var c = 0u; c < KB; c++) {
    for (var j = 0u; j < V4; j++) {
      let vj = v_tile[(kb + c) * V4 + j];
      for (var r = 0u; r < R; r++) { acc[r][j] = fma(vec4f(s[r][c / 4u][c % 4u]), vj, acc[r][j]); }
    }
  }
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let tiles = (p.lq + QT - 1u) / QT;
  let q0 = (tiles - 1u - wid.x) * QT; // the longest (latest) query tiles start first
  let b = wid.y / p.heads;
  let q_head = b * p.q_batch + (wid.y % p.heads) * V4;
  let kv_head = b * p.kv_batch + (wid.y % p.heads) * V4;
  let row0 = q0 + t * R;
  // Rows past lq redo the last row (so stay finite) and are not stored.
  for (var r = 0u; r < R; r++) {
    let row = min(row0 + r, p.lq - 1u);
    for (var j = 0u; j < V4; j++) {
      q_row[r][j] = vec4f(q[q_head + row * p.q_stride + j]) * SCALE_LOG2E;
      acc[r][j] = vec4f(0.0);
    }
    row_max[r] = MASKED;
    row_sum[r] = 0.0;
  }
  let tile_last_row = min(q0 + QT, p.lq) - 1u;
  let key_end = min(p.lk, p.q_offset + tile_last_row + 1u); // keys some row of the tile sees
  let open_end = min(p.lk, p.q_offset + q0 + 1u);           // keys every row of the tile sees
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
      for (var e = 0u; e < 4u; e++) { k_tile[slot + e * KT4][(i / V4) % 4u] = kv[e]; }
      v_tile[i] = vv;
    }
    workgroupBarrier();
    for (var kb = 0u; kb < KT; kb += KB) {
      let first = key0 + kb;
      if (first + KB <= open_end) {
        attend(kb, first, row0, false);
      } else if (first <= my_last_key && first < key_end) {
        attend(kb, first, row0, true);
      }
    }
  }
  for (var r = 0u; r < R; r++) {
    let row = row0 + r;
    if (row < p.lq) {
      let inv = 1.0 / row_sum[r];
      for (var j = 0u; j < V4; j++) { o[q_head + row * p.q_stride + j] = vec4<O_T>(acc[r][j] * inv); }
      lse[wid.y * p.lq + row] = (row_max[r] + log2(row_sum[r])) * LN2;
    }
  }
}
