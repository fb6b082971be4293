enable subgroups;
// The tensor-core matmul (matmul-subgroup-matrix-body.wgsl) with its subgroup matrices emulated:
// every invocation holds whole matrices in plain arrays and computes whole products. Slow, and
// only for tests: it checks the kernel's staging, indexing, transposes and epilogue on devices
// without subgroup matrices (lavapipe), with the same f16 inputs and f32 sums.

alias Left = array<f32, SM_M * SM_K>;    // [row][k]
alias Right = array<f32, SM_K * SM_N>;   // [k][column]
alias Result = array<f32, SM_M * SM_N>;  // [row][column]

// Element (r, c) of a matrix at `offset` with leading dimension `ld`, row- or column-major.
fn at(offset: u32, r: u32, c: u32, ld: u32, col_major: bool) -> u32 {
  return offset + select(r * ld + c, c * ld + r, col_major);
}

fn load_left(offset: u32) -> Left {
  var m: Left;
  for (var r = 0u; r < SM_M; r++) {
    for (var c = 0u; c < SM_K; c++) { m[r * SM_K + c] = f32(a_tile[at(offset, r, c, A_LD, TRANS_A)]); }
  }
  return m;
}

fn load_right(offset: u32) -> Right {
  var m: Right;
  for (var r = 0u; r < SM_K; r++) {
    for (var c = 0u; c < SM_N; c++) { m[r * SM_N + c] = f32(b_tile[at(offset, r, c, B_LD, TRANS_B)]); }
  }
  return m;
}

fn subgroupMatrixMultiplyAccumulate(l: Left, r: Right, c: Result) -> Result {
  var out = c;
  for (var i = 0u; i < SM_M; i++) {
    for (var j = 0u; j < SM_N; j++) {
      var s = out[i * SM_N + j];
      for (var k = 0u; k < SM_K; k++) { s = fma(l[i * SM_K + k], r[k * SM_N + j], s); }
      out[i * SM_N + j] = s;
    }
  }
  return out;
}

// Every invocation of the subgroup writes the same values.
fn store_result(offset: u32, m: Result) {
  for (var r = 0u; r < SM_M; r++) {
    for (var c = 0u; c < SM_N; c++) { c_stage[offset + r * STAGE_LD + c] = m[r * SM_N + c]; }
  }
}

//#include "matmul-subgroup-matrix-body.wgsl"
