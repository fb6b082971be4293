diagnostic(off, chromium.subgroup_matrix_uniformity); enable subgroups; enable chromium_experimental_subgroup_matrix;
// Subgroup matrices (tensor cores) in the spelling of Dawn's builtins that takes the majorness as
// a bool argument (subgroup-matrix-templated.wgsl: as a template argument, the later spelling;
// subgroup-matrix-emulated.wgsl: plain arrays). Each spelling is the head of a kernel module,
// followed by its body (src/kernels/subgroup-matrix.ts puts them together), and gives the body:
//   Left, Right, Result: MAT_T × MAT_T → f32 matrices of the device's SM_M × SM_N × SM_K shape;
//   load_left(offset, col_major, ld), load_right(…): from the body's workgroup array mat_in;
//   store_result(offset, m, ld): row-major into the body's f32 workgroup array mat_out.
// Matrix offsets depend on subgroup_id, which WGSL's workgroup-level analysis cannot prove
// subgroup-uniform (it is); hence the uniformity diagnostic is off. The majorness must be a
// constant expression: the branches on it are uniform, and fold where it is a constant.

alias Left = subgroup_matrix_left<MAT_T, SM_K, SM_M>;
alias Right = subgroup_matrix_right<MAT_T, SM_N, SM_K>;
alias Result = subgroup_matrix_result<f32, SM_N, SM_M>;

fn load_left(offset: u32, col_major: bool, ld: u32) -> Left {
  if (col_major) { return subgroupMatrixLoad<Left>(&mat_in, offset, true, ld); }
  return subgroupMatrixLoad<Left>(&mat_in, offset, false, ld);
}

fn load_right(offset: u32, col_major: bool, ld: u32) -> Right {
  if (col_major) { return subgroupMatrixLoad<Right>(&mat_in, offset, true, ld); }
  return subgroupMatrixLoad<Right>(&mat_in, offset, false, ld);
}

fn store_result(offset: u32, m: Result, ld: u32) { subgroupMatrixStore(&mat_out, offset, m, false, ld); }
