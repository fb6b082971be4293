enable subgroups;
// Subgroup matrices emulated: the functions of subgroup-matrix.wgsl (see there) on plain arrays.
// Every invocation holds whole matrices and computes whole products. Slow, and only for tests:
// it checks a kernel body's staging, indexing, transposes and epilogue on devices without
// subgroup matrices (lavapipe), with the same MAT_T inputs and f32 sums.

alias Left = array<f32, SM_M * SM_K>;    // [row][k]
alias Right = array<f32, SM_K * SM_N>;   // [k][column]
alias Result = array<f32, SM_M * SM_N>;  // [row][column]

// Element (r, c) of a matrix at `offset` with leading dimension `ld`, row- or column-major.
fn at(offset: u32, r: u32, c: u32, ld: u32, col_major: bool) -> u32 {
  return offset + select(r * ld + c, c * ld + r, col_major);
}

fn load_left(offset: u32, col_major: bool, ld: u32) -> Left {
  var m: Left;
  for (var r = 0u; r < SM_M; r++) {
    for (var c = 0u; c < SM_K; c++) { m[r * SM_K + c] = f32(mat_in[at(offset, r, c, ld, col_major)]); }
  }
  return m;
}

fn load_right(offset: u32, col_major: bool, ld: u32) -> Right {
  var m: Right;
  for (var r = 0u; r < SM_K; r++) {
    for (var c = 0u; c < SM_N; c++) { m[r * SM_N + c] = f32(mat_in[at(offset, r, c, ld, col_major)]); }
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
fn store_result(offset: u32, m: Result, ld: u32) {
  for (var r = 0u; r < SM_M; r++) {
    for (var c = 0u; c < SM_N; c++) { mat_out[offset + r * ld + c] = m[r * SM_N + c]; }
  }
}
