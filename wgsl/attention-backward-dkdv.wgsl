// Causal attention backward, part 2 of 2: dk and dv (part 1, attention-backward-dq.wgsl, wrote
// delta). With p, dp, ds as there:
//   dv_u = Σ_{i: pos_i ≥ u} p_iu dout_i,   dk_u = (1/sqrt(HD)) Σ_{i: pos_i ≥ u} ds_iu q_i.
// Transposed roles: one workgroup per (tile of WG·R keys, batch·head); each thread owns R keys
// (k pre-scaled into log2 units, v, dk, dv in registers) and the queries that see them stream
// through workgroup memory, QT at a time, QB per block: q and dout both transposed (for the
// scores and dp) and row-major (for dk and dv), plus lse·log2(e) and delta.
// No atomics: every dk/dv row has one owner, so the result is deterministic.
// Same layouts as attention.wgsl; R and WG may differ from the forward's.
// Constants: HD, WG, R (keys per thread), QT (queries per tile), QB (queries per block, a
// multiple of 4 dividing QT), SCALE (f32), SCALE_LOG2E (f32).

//#include "attention-common.wgsl"

// Params and the bindings of q, k, v: attention-common.wgsl (included).
@group(0) @binding(3) var<storage, read> d_out: array<vec4f>;
@group(0) @binding(4) var<storage, read> lse: array<f32>;
@group(0) @binding(5) var<storage, read> delta: array<f32>;
@group(0) @binding(6) var<storage, read_write> dk: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> dv: array<vec4f>;
@group(0) @binding(8) var<uniform> p: Params;

const KTILE = WG * R;
const QT4 = QT / 4u + 1u;
const QB4 = QB / 4u;

var<workgroup> q_tile_t: array<vec4f, HD * QT4>;    // [d][query / 4]
var<workgroup> dout_tile_t: array<vec4f, HD * QT4>; // [d][query / 4]
var<workgroup> q_tile: array<vec4f, QT * V4>;       // [query][d / 4]
var<workgroup> dout_tile: array<vec4f, QT * V4>;    // [query][d / 4]
var<workgroup> lse2_tile: array<vec4f, QT / 4u>;
var<workgroup> delta_tile: array<vec4f, QT / 4u>;

var<private> k_row: array<array<vec4f, V4>, R>;
var<private> v_row: array<array<vec4f, V4>, R>;
var<private> dk_acc: array<array<vec4f, V4>, R>;
var<private> dv_acc: array<array<vec4f, V4>, R>;

// Queries first_query .. + QB − 1 (tile slots qb ..) against this thread's keys. `masked` blocks
// also drop pairs where the query comes before the key or lies past lq.
fn accumulate_dkdv(qb: u32, first_query: u32, key0: u32, masked: bool) {
  var s: array<array<vec4f, QB4>, R>;
  var dp: array<array<vec4f, QB4>, R>;
  for (var d = 0u; d < HD; d++) {
    for (var c = 0u; c < QB4; c++) {
      let qd = q_tile_t[d * QT4 + qb / 4u + c];
      let dod = dout_tile_t[d * QT4 + qb / 4u + c];
      for (var r = 0u; r < R; r++) {
        s[r][c] = fma(vec4f(k_row[r][d / 4u][d % 4u]), qd, s[r][c]);
        dp[r][c] = fma(vec4f(v_row[r][d / 4u][d % 4u]), dod, dp[r][c]);
      }
    }
  }
  for (var r = 0u; r < R; r++) {
    for (var c = 0u; c < QB4; c++) {
      var pr = exp2(s[r][c] - lse2_tile[qb / 4u + c]);
      if (masked) {
        let query = vec4u(first_query + 4u * c) + vec4u(0u, 1u, 2u, 3u);
        let visible = (query + vec4u(p.q_offset) >= vec4u(key0 + r)) & (query < vec4u(p.lq));
        pr = select(vec4f(0.0), pr, visible);
      }
      s[r][c] = pr;
      dp[r][c] = pr * (dp[r][c] - delta_tile[qb / 4u + c]); // now ds
    }
  }
  for (var c = 0u; c < QB; c++) {
    for (var j = 0u; j < V4; j++) {
      let qj = q_tile[(qb + c) * V4 + j];
      let doj = dout_tile[(qb + c) * V4 + j];
      for (var r = 0u; r < R; r++) {
        dv_acc[r][j] = fma(vec4f(s[r][c / 4u][c % 4u]), doj, dv_acc[r][j]);
        dk_acc[r][j] = fma(vec4f(dp[r][c / 4u][c % 4u]), qj, dk_acc[r][j]);
      }
    }
  }
}

@compute @workgroup_size(WG)
fn backward_dkdv(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let k0 = wid.x * KTILE; // the first key tiles, seen by the most queries, start first
  let b = wid.y / p.heads;
  let q_head = b * p.q_batch + (wid.y % p.heads) * V4;
  let kv_head = b * p.kv_batch + (wid.y % p.heads) * V4;
  let lse_row = wid.y * p.lq;
  let key0 = k0 + t * R;
  // Keys past lk keep zero k and v (finite scores) and are not stored.
  for (var r = 0u; r < R; r++) {
    let key = key0 + r;
    for (var j = 0u; j < V4; j++) {
      var kv = vec4f(0.0);
      var vv = vec4f(0.0);
      if (key < p.lk) {
        kv = vec4f(k[kv_head + key * p.kv_stride + j]);
        vv = vec4f(v[kv_head + key * p.kv_stride + j]);
      }
      k_row[r][j] = kv * SCALE_LOG2E;
      v_row[r][j] = vv;
      dk_acc[r][j] = vec4f(0.0);
      dv_acc[r][j] = vec4f(0.0);
    }
  }
  // Queries at or after the tile's first key; all of them see every key of the tile from
  // position k0 + KTILE − 1 on.
  let query_begin = select(0u, k0 - p.q_offset, k0 > p.q_offset);
  let open_begin = k0 + KTILE - 1u;
  for (var query0 = query_begin; query0 < p.lq; query0 += QT) {
    workgroupBarrier();
    for (var i = t; i < QT * V4; i += WG) {
      let query = query0 + i / V4;
      var qv = vec4f(0.0);
      var dov = vec4f(0.0);
      if (query < p.lq) {
        let at = q_head + query * p.q_stride + i % V4;
        qv = vec4f(q[at]);
        dov = d_out[at];
      }
      let slot = 4u * (i % V4) * QT4 + (i / V4) / 4u;
      for (var e = 0u; e < 4u; e++) {
        q_tile_t[slot + e * QT4][(i / V4) % 4u] = qv[e];
        dout_tile_t[slot + e * QT4][(i / V4) % 4u] = dov[e];
      }
      q_tile[i] = qv;
      dout_tile[i] = dov;
    }
    for (var i = t; i < QT; i += WG) {
      let query = min(query0 + i, p.lq - 1u);
      lse2_tile[i / 4u][i % 4u] = lse[lse_row + query] * LOG2E;
      delta_tile[i / 4u][i % 4u] = delta[lse_row + query];
    }
    workgroupBarrier();
    for (var qb = 0u; qb < QT; qb += QB) {
      let first = query0 + qb;
      if (first + p.q_offset >= open_begin && first + QB <= p.lq) {
        accumulate_dkdv(qb, first, key0, false);
      } else if (first + QB + p.q_offset > key0 && first < p.lq) {
        accumulate_dkdv(qb, first, key0, true);
      }
    }
  }
  for (var r = 0u; r < R; r++) {
    let key = key0 + r;
    if (key < p.lk) {
      for (var j = 0u; j < V4; j++) {
        dk[kv_head + key * p.kv_stride + j] = dk_acc[r][j] * SCALE;
        dv[kv_head + key * p.kv_stride + j] = dv_acc[r][j];
      }
    }
  }
}
