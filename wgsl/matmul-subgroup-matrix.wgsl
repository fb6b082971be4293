diagnostic(off, chromium.subgroup_matrix_uniformity); enable subgroups; enable chromium_experimental_subgroup_matrix;
// Tensor-core matmul (the kernel: matmul-subgroup-matrix-body.wgsl), with its matrix loads and
// stores in the spelling of Dawn's builtins that takes the majorness as a bool argument
// (matmul-subgroup-matrix-templated.wgsl: as a template argument, the later spelling).

alias Left = subgroup_matrix_left<A_T, SM_K, SM_M>;
alias Right = subgroup_matrix_right<A_T, SM_N, SM_K>;
alias Result = subgroup_matrix_result<f32, SM_N, SM_M>;

fn load_left(offset: u32) -> Left { return subgroupMatrixLoad<Left>(&a_tile, offset, TRANS_A, A_LD); }
fn load_right(offset: u32) -> Right { return subgroupMatrixLoad<Right>(&b_tile, offset, TRANS_B, B_LD); }
fn store_result(offset: u32, m: Result) { subgroupMatrixStore(&c_stage, offset, m, false, STAGE_LD); }

//#include "matmul-subgroup-matrix-body.wgsl"
