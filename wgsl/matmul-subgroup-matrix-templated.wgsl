diagnostic(off, chromium.subgroup_matrix_uniformity); enable subgroups; enable chromium_experimental_subgroup_matrix;
// Tensor-core matmul (the kernel: matmul-subgroup-matrix-body.wgsl) with Dawn's matrix builtins
// spelled with the majorness as a template argument (matmul-subgroup-matrix.wgsl: as a bool argument).

//#include "subgroup-matrix-spelling-templated.wgsl"
//#include "matmul-subgroup-matrix-body.wgsl"
