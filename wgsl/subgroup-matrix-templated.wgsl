diagnostic(off, chromium.subgroup_matrix_uniformity); enable subgroups; enable chromium_experimental_subgroup_matrix;
// Subgroup matrices in the spelling of Dawn's builtins that takes the majorness as a template
// argument: the same functions as subgroup-matrix.wgsl (see there).

alias Left = subgroup_matrix_left<MAT_T, SM_K, SM_M>;
alias Right = subgroup_matrix_right<MAT_T, SM_N, SM_K>;
alias Result = subgroup_matrix_result<f32, SM_N, SM_M>;

fn load_left(offset: u32, col_major: bool, ld: u32) -> Left {
  if (col_major) { return subgroupMatrixLoad<Left, col_major>(&mat_in, offset, ld); }
  return subgroupMatrixLoad<Left, row_major>(&mat_in, offset, ld);
}

fn load_right(offset: u32, col_major: bool, ld: u32) -> Right {
  if (col_major) { return subgroupMatrixLoad<Right, col_major>(&mat_in, offset, ld); }
  return subgroupMatrixLoad<Right, row_major>(&mat_in, offset, ld);
}

fn store_result(offset: u32, m: Result, ld: u32) { subgroupMatrixStore<row_major>(&mat_out, offset, m, ld); }
