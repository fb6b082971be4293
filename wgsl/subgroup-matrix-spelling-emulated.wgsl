// Subgroup matrices emulated (the names and their contract: subgroup-matrix-spelling.wgsl), for
// tests on devices without them (lavapipe before Mesa 26): they check a kernel's staging, indexing
// and epilogue with the same f16 operands and f32 sums. A loaded Left or Right is a view of
// matrix_tiles (where, leading dimension, majorness), read when multiplied: the kernels multiply
// what they load before changing the tiles. Every invocation computes whole products (slow; and
// views and one loop nest keep the shaders small, since CPU drivers compile them slowly).

struct Matrix {
  offset: u32,
  ld: u32,
  col_major: bool,
}
alias Left = Matrix;                     // SM_M × SM_K
alias Right = Matrix;                    // SM_K × SM_N
alias Result = array<f32, SM_M * SM_N>;  // [row][column]

// Element (r, c) of a matrix view.
fn element(m: Matrix, r: u32, c: u32) -> f32 {
  return f32(matrix_tiles[m.offset + select(r * m.ld + c, c * m.ld + r, m.col_major)]);
}

fn load_left_rows(offset: u32, ld: u32) -> Left { return Matrix(offset, ld, false); }
fn load_left_cols(offset: u32, ld: u32) -> Left { return Matrix(offset, ld, true); }
fn load_right_rows(offset: u32, ld: u32) -> Right { return Matrix(offset, ld, false); }
fn load_right_cols(offset: u32, ld: u32) -> Right { return Matrix(offset, ld, true); }

fn subgroupMatrixMultiplyAccumulate(l: Left, r: Right, c: Result) -> Result {
  var out = c;
  for (var e = 0u; e < SM_M * SM_N; e++) {
    var s = out[e];
    for (var k = 0u; k < SM_K; k++) { s = fma(element(l, e / SM_N, k), element(r, k, e % SM_N), s); }
    out[e] = s;
  }
  return out;
}

// Every invocation of the subgroup writes the same values.
fn store_result(offset: u32, m: Result, ld: u32) {
  for (var e = 0u; e < SM_M * SM_N; e++) { matrix_stage[offset + (e / SM_N) * ld + e % SM_N] = m[e]; }
}
