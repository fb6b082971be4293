// Included by the tensor-core attention kernels (attention-matrices-forward-body.wgsl,
// attention-matrices-dq-body.wgsl, attention-matrices-dkdv-body.wgsl): the SIMT kernels'
// params, bindings and layouts (attention-common.wgsl), and the pieces all three build on.
// Tiles of q, k, v and dout are staged in workgroup memory as f16 rows (matrix_tiles); products
// of them run on subgroup matrices (subgroup-matrix-spelling*.wgsl) into f32 workgroup memory
// (matrix_stage) or into f32 matrices held by the subgroups; everything between, in SIMT, is f32.
// The including kernel declares matrix_tiles and matrix_stage and the constants ROWS (the rows it
// owns: its queries, or for dk/dv its keys) and WG (threads); TPR = WG / ROWS threads share a row.
// Constants: HD (a multiple of SM_K, SM_N and 4·TPR).

//#include "attention-common.wgsl"

const NSG = WG / SUBGROUP_SIZE; // subgroups at the adapter's largest size; narrower ones leave the rest idle in products
const TPR = WG / ROWS;          // threads per row, adjacent lanes of one subgroup
const LDH = HD + 8u;            // rows of HD values in matrix_tiles, padded 16 bytes against bank conflicts
const LDO = HD + 4u;            // rows of HD values in matrix_stage
const MASKED = -1e30;           // a masked score: finite, so max and subtraction stay defined
const LN2 = 0.6931471805599453;

// Where head (b, h) of workgroup row y = b·heads + h starts: in q, o, dout and in k, v (vec4s).
fn q_head_of(y: u32) -> u32 { return (y / p.heads) * p.q_batch + (y % p.heads) * V4; }
fn kv_head_of(y: u32) -> u32 { return (y / p.heads) * p.kv_batch + (y % p.heads) * V4; }

// The first query row of workgroup x's block of BQ: the longest (latest) blocks start first.
fn query_block_start(x: u32) -> u32 { return ((p.lq + BQ - 1u) / BQ - 1u - x) * BQ; }
// The keys some row of the block from q0 sees (causal, queries offset by q_offset).
fn block_key_end(q0: u32) -> u32 { return min(p.lk, p.q_offset + min(q0 + BQ, p.lq)); }

// This thread's row of the workgroup's block (x) and its part of that row (y): the TPR threads
// of a row are adjacent lanes of one subgroup, wherever the subgroups fall in the workgroup.
fn row_and_part(sg: u32, lane: u32, lanes: u32) -> vec2u { return vec2u((sg * lanes + lane) / TPR, (sg * lanes + lane) % TPR); }

// A matrix in matrix_tiles: element (r, c) at at + r·ld + c, or at + c·ld + r when col_major (a
// stored transpose).
struct Operand { at: u32, ld: u32, col_major: bool }

fn index_of(o: Operand, r: u32, c: u32) -> u32 { return o.at + select(r * o.ld + c, c * o.ld + r, o.col_major); }

// The matrices of A at (r, c) and of B at (r, c) (the majorness a literal in each load: Dawn
// wants a constant there).
fn left_at(a: Operand, r: u32, c: u32) -> Left {
  if (a.col_major) { return load_left_cols(index_of(a, r, c), a.ld); }
  return load_left_rows(index_of(a, r, c), a.ld);
}

fn right_at(b: Operand, r: u32, c: u32) -> Right {
  if (b.col_major) { return load_right_cols(index_of(b, r, c), b.ld); }
  return load_right_rows(index_of(b, r, c), b.ld);
}

// acc + matrix (i, j) of A·B, A and B `depth` deep.
fn multiply(a: Operand, b: Operand, i: u32, j: u32, depth: u32, acc: Result) -> Result {
  var c = acc;
  for (var k = 0u; k < depth; k += SM_K) { c = subgroupMatrixMultiplyAccumulate(left_at(a, i * SM_M, k), right_at(b, k, j * SM_N), c); }
  return c;
}

// matrix_stage[at ..] (row-major, ld) = A·B (rows × cols), its matrices shared round-robin among the
// subgroups.
fn product(a: Operand, b: Operand, rows: u32, cols: u32, depth: u32, at: u32, ld: u32, sg: u32) {
  if (sg >= NSG) { return; }
  let per_row = cols / SM_N;
  for (var m = sg; m < rows / SM_M * per_row; m += NSG) {
    var zero: Result;
    store_result(at + (m / per_row) * SM_M * ld + (m % per_row) * SM_N, multiply(a, b, m / per_row, m % per_row, depth, zero), ld);
  }
}

// Accumulated ROWS × HD results (dq; dk, dv) stay in subgroup matrices: subgroup sg holds
// matrices sg, sg + NSG, …, OWN of them at most.
const ACC_PER_ROW = HD / SM_N;
const ACC_MATRICES = ROWS / SM_M * ACC_PER_ROW;
const OWN = (ACC_MATRICES + NSG - 1u) / NSG;

// acc + the n-th matrix of subgroup sg of A·B (ROWS × HD, depth deep).
fn accumulated(a: Operand, b: Operand, depth: u32, sg: u32, n: u32, acc: Result) -> Result {
  let m = sg + n * NSG;
  if (sg >= NSG || m >= ACC_MATRICES) { return acc; }
  return multiply(a, b, m / ACC_PER_ROW, m % ACC_PER_ROW, depth, acc);
}

// The n-th matrix of subgroup sg into matrix_stage at `at` (ROWS × HD, rows of LDO).
fn store_accumulated(at: u32, sg: u32, n: u32, acc: Result) {
  let m = sg + n * NSG;
  if (sg < NSG && m < ACC_MATRICES) { store_result(at + (m / ACC_PER_ROW) * SM_M * LDO + (m % ACC_PER_ROW) * SM_N, acc, LDO); }
}

// 4 values at column 4·j of row r of the HD-wide rows at `at` in matrix_tiles.
fn put4(at: u32, r: u32, j: u32, x: vec4f) {
  for (var e = 0u; e < 4u; e++) { matrix_tiles[at + r * LDH + 4u * j + e] = f16(x[e]); }
}

// Keys and values first .. first + BKV − 1 (zeros from `end` on: finite scores) into matrix_tiles at
// k_at and v_at; consecutive threads read consecutive vectors.
fn stage_keys(t: u32, kv_head: u32, first: u32, end: u32, k_at: u32, v_at: u32) {
  for (var e = t; e < BKV * V4; e += WG) {
    var kx = vec4f(0.0);
    var vx = vec4f(0.0);
    if (first + e / V4 < end) {
      let at = kv_head + (first + e / V4) * p.kv_stride + e % V4;
      kx = vec4f(k[at]);
      vx = vec4f(v[at]);
    }
    put4(k_at, e / V4, e % V4, kx);
    put4(v_at, e / V4, e % V4, vx);
  }
}

// Queries first .. first + BQ − 1 (zeros from lq on) into matrix_tiles at q_at.
fn stage_queries(t: u32, q_head: u32, first: u32, q_at: u32) {
  for (var e = t; e < BQ * V4; e += WG) {
    var x = vec4f(0.0);
    if (first + e / V4 < p.lq) { x = vec4f(q[q_head + (first + e / V4) * p.q_stride + e % V4]); }
    put4(q_at, e / V4, e % V4, x);
  }
}

// Across the TPR threads of a row (call in uniform control flow).
fn row_max(x: f32) -> f32 {
  var m = x;
  for (var o = 1u; o < TPR; o *= 2u) { m = max(m, subgroupShuffleXor(m, o)); }
  return m;
}

fn row_sum(x: f32) -> f32 {
  var s = x;
  for (var o = 1u; o < TPR; o *= 2u) { s += subgroupShuffleXor(s, o); }
  return s;
}
