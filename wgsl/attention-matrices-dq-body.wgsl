// Causal attention backward on subgroup matrices, part 1 of 2: delta and dq, with
// attention-backward-dq.wgsl's bindings, params, grid and results (see there for the formulas).
// One workgroup per (block of BQ queries, batch·head); q and dout (rounded to f16) are staged
// once, keys and values stream BKV at a time. Per key tile: S = Q·Kᵀ and dP = dO·Vᵀ on matrices
// into matrix_stage; in SIMT (TPR threads per query row) p = exp(s − lse) and dS = p (dp − delta),
// rounded to f16 into matrix_tiles; dQ += dS·K on matrices the subgroups hold across tiles.
// Constants: HD, WG, BQ, BKV as in attention-matrices-forward-body.wgsl; SCALE, SCALE_LOG2E (f32).

//#include "attention-matrices-backward-common.wgsl"

@group(0) @binding(3) var<storage, read> o: array<vec4<O_T>>;
@group(0) @binding(4) var<storage, read> d_out: array<vec4f>;
@group(0) @binding(5) var<storage, read> lse: array<f32>;
@group(0) @binding(6) var<storage, read_write> delta: array<f32>;
@group(0) @binding(7) var<storage, read_write> dq: array<vec4f>;
@group(0) @binding(8) var<uniform> p: Params;

const ROWS = BQ;
const LDP = BKV + 8u; // f16 rows of dS
const LDS = BKV + 4u; // f32 rows of S and dP
const DO_AT = BQ * LDH; // Q at 0
const K_AT = 2u * BQ * LDH;
const V_AT = K_AT + BKV * LDH;
const DS_AT = V_AT + BKV * LDH;
const DP_AT = BQ * LDS; // S at 0 in matrix_stage
const DPT = HD / TPR;
const CPT = BKV / TPR;

var<workgroup> matrix_tiles: array<f16, DS_AT + BQ * LDP>;
var<workgroup> matrix_stage: array<f32, BQ * max(2u * LDS, LDO)>; // S and dP, then dq

@compute @workgroup_size(WG)
fn backward_dq(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) t: u32,
  @builtin(subgroup_id) sg: u32,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) lanes: u32,
) {
  let q0 = query_block_start(wid.x);
  let q_head = q_head_of(wid.y);
  let kv_head = kv_head_of(wid.y);
  let r = row_and_part(sg, lane, lanes).x;
  let part = row_and_part(sg, lane, lanes).y;
  let row = min(q0 + r, p.lq - 1u); // rows past lq redo the last one and are not stored
  let last_key = min(p.q_offset + row, p.lk - 1u);
  stage_queries(t, q_head, q0, 0u);
  stage_dout(t, q_head, q0, DO_AT);
  var dot4 = vec4f(0.0);
  for (var j = 0u; j < DPT / 4u; j++) {
    let at = q_head + row * p.q_stride + part * (DPT / 4u) + j;
    dot4 = fma(d_out[at], vec4f(o[at]), dot4);
  }
  let row_delta = row_sum((dot4.x + dot4.y) + (dot4.z + dot4.w));
  let row_lse2 = lse[wid.y * p.lq + row] * LOG2E;
  var acc: array<Result, OWN>;
  let key_end = block_key_end(q0);
  for (var key0 = 0u; key0 < key_end; key0 += BKV) {
    workgroupBarrier();
    stage_keys(t, kv_head, key0, key_end, K_AT, V_AT);
    workgroupBarrier();
    product(Operand(0u, LDH, false), Operand(K_AT, LDH, true), BQ, BKV, HD, 0u, LDS, sg);
    product(Operand(DO_AT, LDH, false), Operand(V_AT, LDH, true), BQ, BKV, HD, DP_AT, LDS, sg);
    workgroupBarrier();
    for (var j = 0u; j < CPT; j++) {
      let c = part + j * TPR;
      var pr = exp2(matrix_stage[r * LDS + c] * SCALE_LOG2E - row_lse2);
      pr = select(pr, 0.0, key0 + c > last_key);
      matrix_tiles[DS_AT + r * LDP + c] = f16(pr * (matrix_stage[DP_AT + r * LDS + c] - row_delta));
    }
    workgroupBarrier();
    for (var n = 0u; n < OWN; n++) { acc[n] = accumulated(Operand(DS_AT, LDP, false), Operand(K_AT, LDH, false), BKV, sg, n, acc[n]); }
  }
  workgroupBarrier();
  for (var n = 0u; n < OWN; n++) { store_accumulated(0u, sg, n, acc[n]); }
  workgroupBarrier();
  if (q0 + r < p.lq) {
    for (var j = 0u; j < DPT / 4u; j++) {
      let d = part * DPT + 4u * j;
      let x = vec4f(matrix_stage[r * LDO + d], matrix_stage[r * LDO + d + 1u], matrix_stage[r * LDO + d + 2u], matrix_stage[r * LDO + d + 3u]);
      dq[q_head + row * p.q_stride + part * (DPT / 4u) + j] = x * SCALE;
    }
    if (part == 0u) { delta[wid.y * p.lq + row] = row_delta; }
  }
}
