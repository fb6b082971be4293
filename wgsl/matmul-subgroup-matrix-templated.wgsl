diagnostic(off, chromium.subgroup_matrix_uniformity); enable subgroups; enable chromium_experimental_subgroup_matrix;
// Tensor-core matmul (the kernel: matmul-subgroup-matrix-body.wgsl), with its matrix loads and
// stores in the spelling of Dawn's builtins that takes the majorness as a template argument
// (matmul-subgroup-matrix.wgsl: as a bool argument, the earlier spelling). Branches on TRANS_A /
// TRANS_B are on constants: uniform, and folded away.

alias Left = subgroup_matrix_left<A_T, SM_K, SM_M>;
alias Right = subgroup_matrix_right<A_T, SM_N, SM_K>;
alias Result = subgroup_matrix_result<f32, SM_N, SM_M>;

fn load_left(offset: u32) -> Left {
  if (TRANS_A) { return subgroupMatrixLoad<Left, col_major>(&a_tile, offset, A_LD); }
  return subgroupMatrixLoad<Left, row_major>(&a_tile, offset, A_LD);
}

fn load_right(offset: u32) -> Right {
  if (TRANS_B) { return subgroupMatrixLoad<Right, col_major>(&b_tile, offset, B_LD); }
  return subgroupMatrixLoad<Right, row_major>(&b_tile, offset, B_LD);
}

fn store_result(offset: u32, m: Result) { subgroupMatrixStore<row_major>(&c_stage, offset, m, STAGE_LD); }

//#include "matmul-subgroup-matrix-body.wgsl"
