// Subgroup matrices in the spelling of Dawn's builtins that takes the majorness as a template
// argument (the names and their contract: subgroup-matrix-spelling.wgsl).

alias Left = subgroup_matrix_left<f16, SM_K, SM_M>;
alias Right = subgroup_matrix_right<f16, SM_N, SM_K>;
alias Result = subgroup_matrix_result<f32, SM_N, SM_M>;

fn load_left_rows(offset: u32, ld: u32) -> Left { return subgroupMatrixLoad<Left, row_major>(&matrix_tiles, offset, ld); }
fn load_left_cols(offset: u32, ld: u32) -> Left { return subgroupMatrixLoad<Left, col_major>(&matrix_tiles, offset, ld); }
fn load_right_rows(offset: u32, ld: u32) -> Right { return subgroupMatrixLoad<Right, row_major>(&matrix_tiles, offset, ld); }
fn load_right_cols(offset: u32, ld: u32) -> Right { return subgroupMatrixLoad<Right, col_major>(&matrix_tiles, offset, ld); }
fn store_result(offset: u32, m: Result, ld: u32) { subgroupMatrixStore<row_major>(&matrix_stage, offset, m, ld); }
