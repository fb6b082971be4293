// Subgroup matrices (Dawn's chromium_experimental_subgroup_matrix: tensor cores through Vulkan
// cooperative matrices), f16 × f16 → f32, in the spelling of Dawn's builtins that takes the
// majorness as a bool argument (subgroup-matrix-spelling-templated.wgsl: as a template argument,
// the later spelling; subgroup-matrix-spelling-emulated.wgsl: plain arrays, for tests). The three
// files give every kernel on subgroup matrices the same names:
//   Left (SM_M × SM_K), Right (SM_K × SM_N), Result (SM_M × SM_N, f32),
//   load_left_rows / load_left_cols (offset, ld), load_right_rows / load_right_cols (offset, ld):
//     a matrix of `matrix_tiles` at `offset` with leading dimension `ld`, row- or column-major;
//   store_result(offset, m, ld): m into `matrix_stage`, row-major;
//   subgroupMatrixMultiplyAccumulate(left, right, acc).
// The including kernel declares the workgroup arrays matrix_tiles (f16) and matrix_stage (f32) and
// the constants SM_M, SM_N, SM_K; its top file starts with the directives (enable subgroups,
// chromium_experimental_subgroup_matrix, and the uniformity diagnostic off: matrix offsets depend
// on subgroup_id, which WGSL cannot prove subgroup-uniform). The majorness is a literal in every
// call: Dawn wants a constant there.

alias Left = subgroup_matrix_left<f16, SM_K, SM_M>;
alias Right = subgroup_matrix_right<f16, SM_N, SM_K>;
alias Result = subgroup_matrix_result<f32, SM_N, SM_M>;

fn load_left_rows(offset: u32, ld: u32) -> Left { return subgroupMatrixLoad<Left>(&matrix_tiles, offset, false, ld); }
fn load_left_cols(offset: u32, ld: u32) -> Left { return subgroupMatrixLoad<Left>(&matrix_tiles, offset, true, ld); }
fn load_right_rows(offset: u32, ld: u32) -> Right { return subgroupMatrixLoad<Right>(&matrix_tiles, offset, false, ld); }
fn load_right_cols(offset: u32, ld: u32) -> Right { return subgroupMatrixLoad<Right>(&matrix_tiles, offset, true, ld); }
fn store_result(offset: u32, m: Result, ld: u32) { subgroupMatrixStore(&matrix_stage, offset, m, false, ld); }
