diagnostic(off, chromium.subgroup_matrix_uniformity); enable f16; enable subgroups; enable chromium_experimental_subgroup_matrix;
// Linear attention's recurrence on subgroup matrices (the kernel: linear-attention-matrices-body.wgsl)
// with Dawn's matrix builtins spelled with the majorness as a template argument
// (linear-attention-matrices.wgsl: as a bool argument).

//#include "subgroup-matrix-spelling-templated.wgsl"
//#include "linear-attention-matrices-body.wgsl"
