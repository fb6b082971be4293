// Causal attention backward on subgroup matrices, part 2 of 2: dk and dv, with
// attention-backward-dkdv.wgsl's bindings, params, grid and results (part 1,
// attention-matrices-dq-body.wgsl, wrote delta). Transposed roles: one workgroup per (block
// of BKV keys, batch·head) stages its keys and values once; the queries that see them stream
// through workgroup memory BQ at a time (q, dout rounded to f16; lse·log2(e) and delta in f32).
// Per query tile: Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ on matrices into matrix_stage; in SIMT (TPR threads per
// key row) pᵀ and dSᵀ = pᵀ (dPᵀ − delta), rounded to f16 into matrix_tiles; dV += Pᵀ·dO and
// dK += dSᵀ·Q on matrices the subgroups hold across tiles. Every dk/dv row has one owner.
// Constants: HD, WG, BQ, BKV as in attention-matrices-forward-body.wgsl; SCALE, SCALE_LOG2E (f32).

//#include "attention-matrices-backward-common.wgsl"

@group(0) @binding(3) var<storage, read> d_out: array<vec4f>;
@group(0) @binding(4) var<storage, read> lse: array<f32>;
@group(0) @binding(5) var<storage, read> delta: array<f32>;
@group(0) @binding(6) var<storage, read_write> dk: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> dv: array<vec4f>;
@group(0) @binding(8) var<uniform> p: Params;

const ROWS = BKV;
const LDP = BQ + 8u; // f16 rows of Pᵀ and dSᵀ
const LDS = BQ + 4u; // f32 rows of Sᵀ and dPᵀ
const V_AT = BKV * LDH; // K at 0
const Q_AT = 2u * BKV * LDH;
const DO_AT = Q_AT + BQ * LDH;
const P_AT = DO_AT + BQ * LDH;
const DS_AT = P_AT + BKV * LDP;
const DP_AT = BKV * LDS; // Sᵀ at 0 in matrix_stage
const DV_AT = BKV * LDO; // dk at 0 in matrix_stage at the end
const DPT = HD / TPR;
const CPT = BQ / TPR;

var<workgroup> matrix_tiles: array<f16, DS_AT + BKV * LDP>;
var<workgroup> matrix_stage: array<f32, BKV * 2u * max(LDS, LDO)>; // Sᵀ and dPᵀ, then dk and dv
var<workgroup> lse2_tile: array<f32, BQ>;
var<workgroup> delta_tile: array<f32, BQ>;

@compute @workgroup_size(WG)
fn backward_dkdv(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) t: u32,
  @builtin(subgroup_id) sg: u32,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) lanes: u32,
) {
  let k0 = wid.x * BKV; // the first key blocks, seen by the most queries, start first
  let q_head = q_head_of(wid.y);
  let kv_head = kv_head_of(wid.y);
  let r = row_and_part(sg, lane, lanes).x;
  let part = row_and_part(sg, lane, lanes).y;
  let key = k0 + r;
  stage_keys(t, kv_head, k0, p.lk, 0u, V_AT); // keys past lk: zero, and not stored
  var dk_acc: array<Result, OWN>;
  var dv_acc: array<Result, OWN>;
  let query_begin = select(0u, k0 - p.q_offset, k0 > p.q_offset); // the first query that sees key k0
  for (var query0 = query_begin; query0 < p.lq; query0 += BQ) {
    workgroupBarrier();
    stage_queries(t, q_head, query0, Q_AT);
    stage_dout(t, q_head, query0, DO_AT);
    for (var i = t; i < BQ; i += WG) {
      let query = min(query0 + i, p.lq - 1u);
      lse2_tile[i] = lse[wid.y * p.lq + query] * LOG2E;
      delta_tile[i] = delta[wid.y * p.lq + query];
    }
    workgroupBarrier();
    product(Operand(0u, LDH, false), Operand(Q_AT, LDH, true), BKV, BQ, HD, 0u, LDS, sg);
    product(Operand(V_AT, LDH, false), Operand(DO_AT, LDH, true), BKV, BQ, HD, DP_AT, LDS, sg);
    workgroupBarrier();
    for (var j = 0u; j < CPT; j++) {
      let c = part + j * TPR;
      let query = query0 + c;
      var pr = exp2(matrix_stage[r * LDS + c] * SCALE_LOG2E - lse2_tile[c]);
      pr = select(0.0, pr, query < p.lq && query + p.q_offset >= key);
      matrix_tiles[P_AT + r * LDP + c] = f16(pr);
      matrix_tiles[DS_AT + r * LDP + c] = f16(pr * (matrix_stage[DP_AT + r * LDS + c] - delta_tile[c]));
    }
    workgroupBarrier();
    for (var n = 0u; n < OWN; n++) {
      dv_acc[n] = accumulated(Operand(P_AT, LDP, false), Operand(DO_AT, LDH, false), BQ, sg, n, dv_acc[n]);
      dk_acc[n] = accumulated(Operand(DS_AT, LDP, false), Operand(Q_AT, LDH, false), BQ, sg, n, dk_acc[n]);
    }
  }
  workgroupBarrier();
  for (var n = 0u; n < OWN; n++) {
    store_accumulated(0u, sg, n, dk_acc[n]);
    store_accumulated(DV_AT, sg, n, dv_acc[n]);
  }
  workgroupBarrier();
  if (key < p.lk) {
    for (var j = 0u; j < DPT / 4u; j++) {
      let d = part * DPT + 4u * j;
      let at = kv_head + key * p.kv_stride + part * (DPT / 4u) + j;
      dk[at] = vec4f(matrix_stage[r * LDO + d], matrix_stage[r * LDO + d + 1u], matrix_stage[r * LDO + d + 2u], matrix_stage[r * LDO + d + 3u]) * SCALE;
      dv[at] = vec4f(matrix_stage[DV_AT + r * LDO + d], matrix_stage[DV_AT + r * LDO + d + 1u], matrix_stage[DV_AT + r * LDO + d + 2u], matrix_stage[DV_AT + r * LDO + d + 3u]);
    }
  }
}
