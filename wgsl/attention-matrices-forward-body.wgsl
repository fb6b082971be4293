// Causal softmax attention forward on subgroup matrices (tensor cores): attention.wgsl's
// bindings, params, layouts, grid order and results (out, lse), for f16 q, k, v.
// One workgroup per (block of BQ queries, batch·head); keys and values stream through workgroup
// memory BKV at a time. Per key tile: S = Q·Kᵀ on matrices (f16 operands, f32 sums) into
// matrix_stage; online softmax in SIMT (f32, log2 units as attention.wgsl, causal mask), TPR threads
// per query row, each with its share of the row's keys and HD / TPR output dimensions in
// registers; P rounded to f16 into matrix_tiles; P·V on matrices into matrix_stage, added to the rescaled
// accumulators. The row sums add the f32 probabilities, P·V the f16-rounded ones.
// Constants: HD, WG, BQ (queries per workgroup, a multiple of SM_M), BKV (keys per tile, a
// multiple of SM_N, SM_K and TPR), SCALE_LOG2E (f32). Types: QKV_T (f16), O_T.

//#include "attention-matrices-common.wgsl"

@group(0) @binding(3) var<storage, read_write> o: array<vec4<O_T>>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

const ROWS = BQ;
const LDP = BKV + 8u; // f16 rows of P
const LDS = BKV + 4u; // f32 rows of S
const K_AT = BQ * LDH; // Q at 0
const V_AT = K_AT + BKV * LDH;
const P_AT = V_AT + BKV * LDH;
const DPT = HD / TPR;  // output dimensions per thread
const CPT = BKV / TPR; // keys per thread and tile

var<workgroup> matrix_tiles: array<f16, P_AT + BQ * LDP>;
var<workgroup> matrix_stage: array<f32, BQ * max(LDS, LDO)>; // S, then P·V

@compute @workgroup_size(WG)
fn forward(
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
  let row = q0 + r;
  let last_key = min(p.q_offset + min(row, p.lq - 1u), p.lk - 1u);
  stage_queries(t, q_head, q0, 0u); // rows past lq: zero, and not stored
  var acc: array<f32, DPT>;
  var m = MASKED;
  var sum = 0.0; // this thread's share of the row's sum
  let key_end = block_key_end(q0);
  for (var key0 = 0u; key0 < key_end; key0 += BKV) {
    workgroupBarrier();
    stage_keys(t, kv_head, key0, key_end, K_AT, V_AT);
    workgroupBarrier();
    product(Operand(0u, LDH, false), Operand(K_AT, LDH, true), BQ, BKV, HD, 0u, LDS, sg);
    workgroupBarrier();
    var s: array<f32, CPT>;
    var tile_max = m;
    for (var j = 0u; j < CPT; j++) {
      let c = part + j * TPR;
      s[j] = select(matrix_stage[r * LDS + c] * SCALE_LOG2E, MASKED, key0 + c > last_key);
      tile_max = max(tile_max, s[j]);
    }
    tile_max = row_max(tile_max);
    let alpha = exp2(m - tile_max);
    m = tile_max;
    var add = 0.0;
    for (var j = 0u; j < CPT; j++) {
      let pr = exp2(s[j] - m);
      add += pr;
      matrix_tiles[P_AT + r * LDP + part + j * TPR] = f16(pr);
    }
    sum = sum * alpha + add;
    for (var d = 0u; d < DPT; d++) { acc[d] *= alpha; }
    workgroupBarrier();
    product(Operand(P_AT, LDP, false), Operand(V_AT, LDH, false), BQ, HD, BKV, 0u, LDO, sg);
    workgroupBarrier();
    for (var d = 0u; d < DPT; d++) { acc[d] += matrix_stage[r * LDO + part * DPT + d]; }
  }
  let total = row_sum(sum);
  if (row < p.lq) {
    let inv = 1.0 / total;
    for (var j = 0u; j < DPT / 4u; j++) {
      let x = vec4f(acc[4u * j], acc[4u * j + 1u], acc[4u * j + 2u], acc[4u * j + 3u]) * inv;
      o[q_head + row * p.q_stride + part * (DPT / 4u) + j] = vec4<O_T>(x);
    }
    if (part == 0u) { lse[wid.y * p.lq + row] = (m + log2(total)) * LN2; }
  }
}
