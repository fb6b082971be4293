// The matmul of wgsl/matmul.wgsl (same bindings, params, grid and split-K convention; see there)
// on subgroup matrices, i.e. tensor cores (Vulkan cooperative matrices, Dawn's experimental
// subgroup-matrix feature): C[M, N] = op(A) · op(B) (+ bias) (+ C), f16 operands, f32 sums.
//
// A workgroup of SG_M × SG_N subgroups owns a BM × BN tile of C; each subgroup owns MAT_M × MAT_N
// result matrices of the device's SM_M × SM_N shape (SM_K deep). Each k step of BK stages op(A)
// and op(B) in workgroup memory in their stored layouts (zeros outside the matrices, so edge
// tiles need no other care); transposed operands load as column-major matrices. The results
// leave through a per-subgroup f32 staging area, which adds bias and C and rounds to C_T.
//
// Uniformity: matrix offsets depend on subgroup_id, which WGSL's workgroup-level analysis cannot
// prove subgroup-uniform (it is); hence the diagnostic is off (in the including file, whose
// first line holds the directives). Barriers stay in uniform flow.
// The including file (matmul-subgroup-matrix.wgsl, -templated, -emulated) includes the matrix
// types, loads and stores in one of the spellings of subgroup-matrix-spelling*.wgsl: the two
// Dawn's versions accept, or emulated with plain arrays (for tests on devices without them).
//
// Constants: TRANS_A, TRANS_B, BIAS, ACCUMULATE (bools); SM_M, SM_N, SM_K (the device's matrix
// shape); SG_M, SG_N (subgroups per workgroup), MAT_M, MAT_N (matrices per subgroup), BK (a
// multiple of SM_K), SUBGROUP_SIZE (the adapter's largest: workgroup x must be a multiple).
// Types: A_T = B_T (the matrices' component type), C_T (of c).

//#include "matmul-common.wgsl"

const SUBGROUPS = SG_M * SG_N;
const THREADS = SUBGROUPS * SUBGROUP_SIZE;
const BM = SG_M * MAT_M * SM_M;
const BN = SG_N * MAT_N * SM_N;
// The staged tiles in A's and B's stored layouts: rows × leading dimension, padded by 8
// elements so that consecutive rows start in different banks.
const A_ROWS = select(BM, BK, TRANS_A);
const A_LD = select(BK, BM, TRANS_A) + 8u;
const B_ROWS = select(BK, BN, TRANS_B);
const B_LD = select(BN, BK, TRANS_B) + 8u;
const STAGE = SM_M * SM_N;


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

// op(A)[m0 .., k0 ..) into its tile; consecutive threads take consecutive addresses of A.
fn stage_a(t: u32, base: u32, m0: u32, k0: u32, k_end: u32) {
  for (var e = t; e < BM * BK; e += THREADS) {
    let m = select(e / BK, e % BM, TRANS_A);
    let k = select(e % BK, e / BM, TRANS_A);
    let gm = m0 + m;
    let gk = k0 + k;
    var v = A_T(0);
    if (gm < p.M && gk < k_end) { v = a[base + select(gm * p.K + gk, gk * p.M + gm, TRANS_A)]; }
    matrix_tiles[select(m * A_LD + k, k * A_LD + m, TRANS_A)] = v;
  }
}

fn stage_b(t: u32, base: u32, n0: u32, k0: u32, k_end: u32) {
  for (var e = t; e < BN * BK; e += THREADS) {
    let n = select(e % BN, e / BK, TRANS_B);
    let k = select(e / BN, e % BK, TRANS_B);
    let gn = n0 + n;
    let gk = k0 + k;
    var v = A_T(0);
    if (gn < p.N && gk < k_end) { v = b[base + select(gk * p.N + gn, gn * p.K + gk, TRANS_B)]; }
    matrix_tiles[B_AT + select(k * B_LD + n, n * B_LD + k, TRANS_B)] = v;
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

  for (var k0 = blk.k_begin; k0 < blk.k_end; k0 += BK) {
    workgroupBarrier();
    stage_a(t, blk.base_a, blk.m0, k0, blk.k_end);
    stage_b(t, blk.base_b, blk.n0, k0, blk.k_end);
    workgroupBarrier();
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
    for (var j = 0u; j < MAT_N; j++) {
      if (working) { store_result(sg * STAGE, acc[i][j], SM_N); }
      workgroupBarrier();
      if (working) {
        let r0 = blk.m0 + (sm * MAT_M + i) * SM_M;
        let c0 = blk.n0 + (sn * MAT_N + j) * SM_N;
        for (var e = lane; e < STAGE; e += lanes) {
          let r = r0 + e / SM_N;
          let col = c0 + e % SM_N;
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
