// The matmul of wgsl/matmul.wgsl (same bindings, params, grid and split-K convention; see there)
// on subgroup matrices, i.e. tensor cores (Vulkan cooperative matrices, Dawn's experimental
// subgroup-matrix feature): C[M, N] = op(A) · op(B) (+ bias) (+ C), f16 operands, f32 sums.
//
// A workgroup of SG_M × SG_N subgroups owns a BM × BN tile of C; each subgroup owns MAT_M × MAT_N
// result matrices of the device's SM_M × SM_N shape (SM_K deep). Each k step of BK stages op(A)
// and op(B) in workgroup memory in their stored layouts (zeros outside the matrices, so edge
// tiles need no other care); transposed operands load as column-major matrices.
//
// Staging moves quads: 4 neighbours along an operand's contiguous axis. With VEC_A (VEC_B) the
// operand is bound as vec4s (A_S = vec4<A_T>; the host sets it when that axis and the batch
// stride are multiples of 4, so a quad is one aligned load that lies wholly inside or outside
// the matrix); otherwise (A_S = A_T) a quad is 4 loads, each bounds-checked. Every quad of the
// next k step is loaded into registers before the current step's products, so its global
// latency overlaps them. Tiles that lie wholly inside the matrices skip the bounds checks.
//
// The results leave a strip at a time: each subgroup stores EPI_N of its matrices side by side
// in its own part of matrix_stage (one row of matrices per MAT_N / EPI_N strips), then its
// lanes add bias and C and write the strip's rows, consecutive lanes to consecutive columns.
// Two workgroup barriers per strip: MAT_M · MAT_N / EPI_N pairs in all, not one per matrix.
//
// Uniformity: matrix offsets depend on subgroup_id, which WGSL's workgroup-level analysis cannot
// prove subgroup-uniform (it is); hence the diagnostic is off (in the including file, whose
// first line holds the directives). Barriers stay in uniform flow.
// The including file (matmul-subgroup-matrix.wgsl, -templated, -emulated) includes the matrix
// types, loads and stores in one of the spellings of subgroup-matrix-spelling*.wgsl: the two
// Dawn's versions accept, or emulated with plain arrays (for tests on devices without them).
//
// Constants: TRANS_A, TRANS_B, BIAS, ACCUMULATE, VEC_A, VEC_B (bools); SM_M, SM_N,
// SM_K (the device's matrix shape); SG_M, SG_N (subgroups per workgroup), MAT_M, MAT_N
// (matrices per subgroup), EPI_N (matrices per epilogue strip, dividing MAT_N), BK (a multiple
// of SM_K and 4), SUBGROUP_SIZE (the adapter's largest: workgroup x must be a multiple).
// Types: A_T = B_T = f16, A_S, B_S (as bound: A_T or vec4<A_T>), C_T.

//#include "matmul-common.wgsl"

const SUBGROUPS = SG_M * SG_N;
const THREADS = SUBGROUPS * SUBGROUP_SIZE;
const BM = SG_M * MAT_M * SM_M;
const BN = SG_N * MAT_N * SM_N;
// The staged tiles in A's and B's stored layouts: rows × leading dimension, padded by 8
// elements (16 bytes) so that consecutive rows start in different banks.
const A_ROWS = select(BM, BK, TRANS_A);
const A_COLS = select(BK, BM, TRANS_A);
const A_LD = A_COLS + 8u;
const B_ROWS = select(BK, BN, TRANS_B);
const B_COLS = select(BN, BK, TRANS_B);
const B_LD = B_COLS + 8u;
// Quads per tile and per thread (the last round may be partial, unless *_WHOLE_ROUNDS).
const A_QUADS = A_ROWS * A_COLS / 4u;
const B_QUADS = B_ROWS * B_COLS / 4u;
const A_ROUNDS = (A_QUADS + THREADS - 1u) / THREADS;
const B_ROUNDS = (B_QUADS + THREADS - 1u) / THREADS;
const A_WHOLE_ROUNDS = A_QUADS % THREADS == 0u;
const B_WHOLE_ROUNDS = B_QUADS % THREADS == 0u;
// A subgroup's epilogue strip: SM_M rows of EPI_N matrices.
const STAGE_LD = EPI_N * SM_N;
const STAGE = SM_M * STAGE_LD;

// The staged op(A) at 0, op(B) at B_AT; results leave through matrix_stage, STAGE per subgroup.
const B_AT = A_ROWS * A_LD;
var<workgroup> matrix_tiles: array<f16, B_AT + B_ROWS * B_LD>;
var<workgroup> matrix_stage: array<f32, SUBGROUPS * STAGE>;

// Branches on TRANS_A / TRANS_B are on constants: uniform, and folded away.
fn load_left(offset: u32) -> Left {
  if (TRANS_A) { return load_left_cols(offset, A_LD); }
  return load_left_rows(offset, A_LD);
}

fn load_right(offset: u32) -> Right {
  if (TRANS_B) { return load_right_cols(B_AT + offset, B_LD); }
  return load_right_rows(B_AT + offset, B_LD);
}

// The quad at element `at` of a or b, whose first element sits at column `col` of a row that is
// inside the matrix when `row_ok`; columns from `col_end` on read as zeros. `whole`: no checks.
fn quad_a(at: u32, whole: bool, row_ok: bool, col: u32, col_end: u32) -> vec4<A_T> {
  if (VEC_A) {
    if (whole || (row_ok && col < col_end)) { return vec4<A_T>(a[at / 4u]); }
    return vec4<A_T>(0);
  }
  var q = vec4<A_T>(0);
  for (var e = 0u; e < 4u; e++) {
    if (whole || (row_ok && col + e < col_end)) { q[e] = vec4<A_T>(a[at + e]).x; }
  }
  return q;
}

fn quad_b(at: u32, whole: bool, row_ok: bool, col: u32, col_end: u32) -> vec4<A_T> {
  if (VEC_B) {
    if (whole || (row_ok && col < col_end)) { return vec4<A_T>(b[at / 4u]); }
    return vec4<A_T>(0);
  }
  var q = vec4<A_T>(0);
  for (var e = 0u; e < 4u; e++) {
    if (whole || (row_ok && col + e < col_end)) { q[e] = vec4<A_T>(b[at + e]).x; }
  }
  return q;
}

// Quad `q` of a tile is row q / (COLS / 4), columns 4 · (q % (COLS / 4)) ..
fn quad_pos(q: u32, cols: u32) -> vec2u { return vec2u(q / (cols / 4u), 4u * (q % (cols / 4u))); }

// Thread t's quads of op(A) for the k step at k0 (rows m0 ..): A stored [M, K] has rows m and
// columns k; A stored [K, M] (TRANS_A) rows k and columns m.
fn fetch_a(t: u32, blk: Block, k0: u32) -> array<vec4<A_T>, A_ROUNDS> {
  var quads: array<vec4<A_T>, A_ROUNDS>;
  let whole = blk.m0 + BM <= p.M && k0 + BK <= blk.k_end;
  for (var i = 0u; i < A_ROUNDS; i++) {
    let q = quad_pos(i * THREADS + t, A_COLS);
    let row = select(blk.m0, k0, TRANS_A) + q.x;
    let col = select(k0, blk.m0, TRANS_A) + q.y;
    let row_end = select(p.M, blk.k_end, TRANS_A);
    let col_end = select(blk.k_end, p.M, TRANS_A);
    if (A_WHOLE_ROUNDS || i * THREADS + t < A_QUADS) {
      quads[i] = quad_a(blk.base_a + row * select(p.K, p.M, TRANS_A) + col, whole, row < row_end, col, col_end);
    }
  }
  return quads;
}

// B stored [K, N] has rows k and columns n; B stored [N, K] (TRANS_B) rows n and columns k.
fn fetch_b(t: u32, blk: Block, k0: u32) -> array<vec4<A_T>, B_ROUNDS> {
  var quads: array<vec4<A_T>, B_ROUNDS>;
  let whole = blk.n0 + BN <= p.N && k0 + BK <= blk.k_end;
  for (var i = 0u; i < B_ROUNDS; i++) {
    let q = quad_pos(i * THREADS + t, B_COLS);
    let row = select(k0, blk.n0, TRANS_B) + q.x;
    let col = select(blk.n0, k0, TRANS_B) + q.y;
    let row_end = select(blk.k_end, p.N, TRANS_B);
    let col_end = select(p.N, blk.k_end, TRANS_B);
    if (B_WHOLE_ROUNDS || i * THREADS + t < B_QUADS) {
      quads[i] = quad_b(blk.base_b + row * select(p.N, p.K, TRANS_B) + col, whole, row < row_end, col, col_end);
    }
  }
  return quads;
}

fn stage(t: u32, qa: array<vec4<A_T>, A_ROUNDS>, qb: array<vec4<A_T>, B_ROUNDS>) {
  for (var i = 0u; i < A_ROUNDS; i++) {
    if (A_WHOLE_ROUNDS || i * THREADS + t < A_QUADS) {
      let q = quad_pos(i * THREADS + t, A_COLS);
      let at = q.x * A_LD + q.y;
      matrix_tiles[at] = qa[i].x; matrix_tiles[at + 1u] = qa[i].y; matrix_tiles[at + 2u] = qa[i].z; matrix_tiles[at + 3u] = qa[i].w;
    }
  }
  for (var i = 0u; i < B_ROUNDS; i++) {
    if (B_WHOLE_ROUNDS || i * THREADS + t < B_QUADS) {
      let q = quad_pos(i * THREADS + t, B_COLS);
      let at = B_AT + q.x * B_LD + q.y;
      matrix_tiles[at] = qb[i].x; matrix_tiles[at + 1u] = qb[i].y; matrix_tiles[at + 2u] = qb[i].z; matrix_tiles[at + 3u] = qb[i].w;
    }
  }
}

@compute @workgroup_size(THREADS)
fn matmul(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) t: u32,
  @builtin(subgroup_id) subgroup: u32,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) lanes: u32,
) {
  let blk = block_of(wid);
  // Where subgroups are narrower than SUBGROUP_SIZE the extra ones only help stage tiles.
  let working = subgroup < SUBGROUPS;
  let sg = min(subgroup, SUBGROUPS - 1u);
  let sm = sg % SG_M;
  let sn = sg / SG_M;

  var acc: array<array<Result, MAT_N>, MAT_M>;

  let steps = (blk.k_end - blk.k_begin + BK - 1u) / BK;
  var qa = fetch_a(t, blk, blk.k_begin);
  var qb = fetch_b(t, blk, blk.k_begin);
  for (var s = 0u; s < steps; s++) {
    workgroupBarrier();
    stage(t, qa, qb);
    workgroupBarrier();
    if (s + 1u < steps) {
      qa = fetch_a(t, blk, blk.k_begin + (s + 1u) * BK);
      qb = fetch_b(t, blk, blk.k_begin + (s + 1u) * BK);
    }
    if (working) {
      for (var kk = 0u; kk < BK; kk += SM_K) {
        var left: array<Left, MAT_M>;
        for (var i = 0u; i < MAT_M; i++) {
          let m = (sm * MAT_M + i) * SM_M;
          left[i] = load_left(select(m * A_LD + kk, kk * A_LD + m, TRANS_A));
        }
        for (var j = 0u; j < MAT_N; j++) {
          let n = (sn * MAT_N + j) * SM_N;
          let right = load_right(select(kk * B_LD + n, n * B_LD + kk, TRANS_B));
          for (var i = 0u; i < MAT_M; i++) { acc[i][j] = subgroupMatrixMultiplyAccumulate(left[i], right, acc[i][j]); }
        }
      }
    }
  }

  let base_c = wid.z * p.stride_c;
  for (var i = 0u; i < MAT_M; i++) {
    for (var j0 = 0u; j0 < MAT_N; j0 += EPI_N) {
      if (working) {
        for (var j = 0u; j < EPI_N; j++) { store_result(sg * STAGE + j * SM_N, acc[i][j0 + j], STAGE_LD); }
      }
      workgroupBarrier();
      if (working) {
        let r0 = blk.m0 + (sm * MAT_M + i) * SM_M;
        let c0 = blk.n0 + (sn * MAT_N + j0) * SM_N;
        for (var e = lane; e < STAGE; e += lanes) {
          let r = r0 + e / STAGE_LD;
          let col = c0 + e % STAGE_LD;
          if (r < p.M && col < p.N) {
            let at = base_c + r * p.N + col;
            var out = matrix_stage[sg * STAGE + e];
            if (BIAS) { out += bias[col]; }
            if (ACCUMULATE) { out += f32(c[at]); }
            c[at] = C_T(out);
          }
        }
      }
      workgroupBarrier();
    }
  }
}
